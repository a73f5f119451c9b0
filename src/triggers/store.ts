// `workflow_triggers`: one row per trigger of every workflow, written in the same batch as the
// workflow's create, update and delete, so it never disagrees with `workflows.triggers`. A row is
// keyed by (workflow, hash of the definition): a trigger kept through an edit keeps its row, its
// `armed_at` and a date trigger's clock; one that changed is a new trigger.
import { sql, type SQL } from "drizzle-orm";
import { workflows, workflowTriggers } from "../db/schema";
import { sha256Hex } from "../http/hash";
import { DATE_EVENT, type TriggerDefinition } from "./model";

/** A trigger's identity within its workflow: a hash of its normalised definition. */
const triggerKey = async (t: TriggerDefinition) => (await sha256Hex(JSON.stringify(t))).slice(0, 32);

type PreparedTrigger = { key: string; position: number; moduleId: number; event: string; definition: TriggerDefinition };

export async function prepareTriggers(triggers: TriggerDefinition[]): Promise<PreparedTrigger[]> {
  return Promise.all(triggers.map(async (t, position) => ({ key: await triggerKey(t), position, moduleId: Number(t.moduleID), event: t.on, definition: t })));
}

/**
 * The statements, for the workflow write's batch, that make the workflow's rows those of
 * `triggers`: rows of triggers no longer there are deleted, new ones inserted (a date trigger's
 * `next_due_at` set to now, so the sweep arms its clock should the call after the batch fail),
 * kept ones get their new position. `workflowId` may be SQL (the id a create's batch just made);
 * nothing is inserted unless that workflow exists.
 */
export function syncTriggerStatements(workflowId: number | SQL, triggers: PreparedTrigger[], now: string): SQL[] {
  const rows = JSON.stringify(triggers.map((t) => ({ ...t, definition: JSON.stringify(t.definition) })));
  const keys = JSON.stringify(triggers.map((t) => t.key));
  return [
    sql`delete from ${workflowTriggers} where "workflow_id" = ${workflowId} and "key" not in (select "value" from json_each(${keys}))`,
    sql`insert into ${workflowTriggers} ("workflow_id", "key", "position", "module_id", "event", "definition", "armed_at", "next_due_at")
      select ${workflowId}, json_extract("j"."value", '$.key'), json_extract("j"."value", '$.position'), json_extract("j"."value", '$.moduleId'),
        json_extract("j"."value", '$.event'), json_extract("j"."value", '$.definition'), ${now},
        case when json_extract("j"."value", '$.event') = ${DATE_EVENT} then ${now} end
      from json_each(${rows}) as "j"
      where exists (select 1 from ${workflows} where "id" = ${workflowId})
      on conflict ("workflow_id", "key") do update set "position" = excluded."position"`,
  ];
}

/** Drops the rows of a workflow that no longer exists (its delete's batch). */
export const dropTriggersStatement = (workflowId: number): SQL =>
  sql`delete from ${workflowTriggers} where "workflow_id" = ${workflowId} and not exists (select 1 from ${workflows} where "id" = ${workflowId})`;

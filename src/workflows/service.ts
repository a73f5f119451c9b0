// Workflows: validation and storage (the snapshot a job takes of one is read by src/jobs/snapshot.ts).
import type { z } from "@hono/zod-openapi";
import { and, asc, count, eq, inArray, notExists, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { jobs, modules, workflows } from "../db/schema";
import { rawStatement } from "../db/raw";
import { conflict, notFound } from "../http/errors";
import { idOut } from "../http/ids";
import { nowIso } from "../http/time";
import type { TriggerDefinition } from "../triggers/model";
import { dropTriggersStatement, prepareTriggers, syncTriggerStatements } from "../triggers/store";
import { validateTriggers } from "../triggers/validate";
import { redactTasksForReader } from "../jobs/redact";
import { ACTIVE_JOB_STATUSES } from "../jobs/states";
import type { workflowBody } from "./schemas";
import { checkWorkflowSize, validateTasks } from "./validate";
import type { workflowSchema } from "./schemas";
import { throwIfDetails } from "../http/details";

type WorkflowRow = typeof workflows.$inferSelect;
type Workflow = Omit<WorkflowRow, "tasks" | "onError" | "triggers"> & {
  tasks: WorkflowTask[];
  onError: WorkflowTask[];
  triggers: TriggerDefinition[] | null;
};
type WorkflowInput = z.output<typeof workflowBody>;
/** A workflow as the API answers it. */
type WorkflowView = z.output<typeof workflowSchema>;
/** A workflow's task: one of the kinds a client may write (never an engine kind such as `import`). */
type WorkflowTask = WorkflowView["tasks"][number];

/** Job statuses during which a workflow cannot be deleted. */

/** Who reads a workflow: `admin` tokens (which edit workflows) see credential header values. */
type WorkflowReader = { admin: boolean };

/**
 * The workflow as the API answers it. For a reader without `admin`, credential header values of
 * http tasks read "[redacted]" (see redact.ts); admins see them as stored, so they can round-trip.
 */
export const presentWorkflow = (w: Workflow, reader: WorkflowReader): WorkflowView => ({
  workflowID: idOut(w.id),
  name: w.name,
  timeout: w.timeout,
  tasks: reader.admin ? w.tasks : redactTasksForReader(w.tasks),
  onError: reader.admin ? w.onError : redactTasksForReader(w.onError),
  // Only a workflow with triggers answers the key: others answer exactly as they always did.
  ...(w.triggers?.length ? { triggers: w.triggers } : {}),
  createdAt: w.createdAt,
  updatedAt: w.updatedAt,
});

export async function findWorkflow(db: Db, id: number): Promise<Workflow | undefined> {
  return (await db.select().from(workflows).where(eq(workflows.id, id)).get()) as Workflow | undefined;
}

/** The workflow, or a 404 ApiError. */
export async function getWorkflow(db: Db, id: number): Promise<Workflow> {
  const found = await findWorkflow(db, id);
  if (!found) throw notFound(`Workflow ${id}`);
  return found;
}

export async function listWorkflows(db: Db): Promise<Workflow[]> {
  return (await db.select().from(workflows).orderBy(asc(workflows.id)).all()) as Workflow[];
}

/**
 * Checks the whole input (its size, then every task of both lists, templates, literal module IDs
 * and literal http targets, then the triggers against their modules) and answers the normalised
 * task lists and triggers, or throws one 400 naming every problem.
 */
async function validateWorkflow(db: Db, input: WorkflowInput, allowHosts?: string) {
  throwIfDetails(checkWorkflowSize(input), "Invalid workflow", "invalid_workflow");
  const { tasks, onError, details, moduleRefs } = validateTasks(input.tasks, input.onError, allowHosts);
  if (moduleRefs.length) {
    const ids = [...new Set(moduleRefs.map((r) => r.moduleId))];
    const existing = new Set((await db.select({ id: modules.id }).from(modules).where(inArray(modules.id, ids)).all()).map((r) => r.id));
    for (const ref of moduleRefs) {
      if (!existing.has(ref.moduleId)) details.push({ path: ref.path, message: `module ${ref.moduleId} does not exist` });
    }
  }
  const checked = input.triggers?.length ? await validateTriggers(db, input.triggers) : { triggers: [], details: [] };
  details.push(...checked.details);
  throwIfDetails(details, "Invalid workflow", "invalid_workflow");
  return { tasks, onError, triggers: checked.triggers };
}

/**
 * Creates the workflow; its trigger rows (triggers/store.ts) are written in the same batch, for the
 * id the insert made (AUTOINCREMENT: the highest id in `workflows`).
 */
export async function createWorkflow(db: Db, input: WorkflowInput, allowHosts?: string): Promise<Workflow> {
  const { tasks, onError, triggers } = await validateWorkflow(db, input, allowHosts);
  const now = nowIso();
  const insert = db
    .insert(workflows)
    .values({ name: input.name, timeout: input.timeout, tasks, onError, triggers: triggers.length ? triggers : null, createdAt: now, updatedAt: now })
    .returning();
  if (!triggers.length) return (await insert.get()) as Workflow;
  const rows = syncTriggerStatements(sql`(select max("id") from ${workflows})`, await prepareTriggers(triggers), now).map((q) => rawStatement(db, q, "run"));
  const [[row]] = await db.batch([insert, ...rows] as unknown as [typeof insert]);
  return row as Workflow;
}

/** Replaces the workflow; jobs already created keep the snapshot they took. */
export async function updateWorkflow(db: Db, id: number, input: WorkflowInput, allowHosts?: string): Promise<Workflow> {
  await getWorkflow(db, id);
  const { tasks, onError, triggers } = await validateWorkflow(db, input, allowHosts);
  const now = nowIso();
  const update = db
    .update(workflows)
    .set({ name: input.name, timeout: input.timeout, tasks, onError, triggers: triggers.length ? triggers : null, updatedAt: now })
    .where(eq(workflows.id, id))
    .returning();
  // The trigger rows in the same batch: a trigger kept keeps its row, removed ones go.
  const rows = syncTriggerStatements(id, await prepareTriggers(triggers), now).map((q) => rawStatement(db, q, "run"));
  const [[row]] = await db.batch([update, ...rows] as unknown as [typeof update]);
  if (!row) throw notFound(`Workflow ${id}`); // deleted meanwhile
  return row as Workflow;
}

const activeJobsOf = (id: number) => and(eq(jobs.workflowId, id), inArray(jobs.status, ACTIVE_JOB_STATUSES));

/** Number of queued or running jobs of a workflow (from the D1 job mirror). */
async function activeJobCount(db: Db, id: number): Promise<number> {
  const row = await db.select({ n: count() }).from(jobs).where(activeJobsOf(id)).get();
  return row?.n ?? 0;
}

/**
 * Deletes the workflow unless it has queued or running jobs (409). The check and the delete are
 * one statement, so a job that appears between them cannot be orphaned by this request.
 */
export async function deleteWorkflow(db: Db, id: number): Promise<void> {
  await getWorkflow(db, id);
  // Jobs may finish between the guarded delete and the count: then try again (twice at most).
  for (let attempt = 0; attempt < 3; attempt++) {
    const remove = db
      .delete(workflows)
      .where(and(eq(workflows.id, id), notExists(db.select({ one: sql`1` }).from(jobs).where(activeJobsOf(id)))))
      .returning({ id: workflows.id });
    // Its trigger rows go in the same batch (only once the workflow is gone).
    const [deleted] = await db.batch([remove, rawStatement(db, dropTriggersStatement(id), "run")] as unknown as [typeof remove]);
    if (deleted.length) return;
    if (!(await findWorkflow(db, id))) throw notFound(`Workflow ${id}`); // deleted by someone else meanwhile
    const active = await activeJobCount(db, id);
    if (active > 0) {
      throw conflict(
        `Workflow ${id} has ${active} queued or running job${active === 1 ? "" : "s"}; cancel them or wait for them to end first`,
        [{ path: "workflowID", message: `${active} queued or running job${active === 1 ? "" : "s"}` }],
        "workflow_in_use",
      );
    }
  }
  throw conflict(`Workflow ${id} has jobs starting and ending right now; retry`, undefined, "workflow_in_use");
}

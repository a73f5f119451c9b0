// What a job runs: a copy of its workflow as it is when the job is made (or pointed at another
// workflow). The workflow resource (src/workflows, above the engine) writes the `workflows` table;
// making a job only reads it, here.
import { eq } from "drizzle-orm";
import type { Db } from "../db/client";
import { workflows } from "../db/schema";
import { idOut } from "../http/ids";
import type { TaskDefinition, WorkflowSnapshot } from "./tasks";

/** The parts of a stored workflow a job runs. */
type SnapshotSource = { id: number; name: string; timeout: number; tasks: TaskDefinition[]; onError: TaskDefinition[] };

/** What a job runs: a deep copy of the workflow as it is now. */
export function snapshotOf(w: SnapshotSource): WorkflowSnapshot {
  return structuredClone({ workflowID: idOut(w.id), name: w.name, timeout: w.timeout, tasks: w.tasks, onError: w.onError });
}

/** The snapshot of workflow `id`, or undefined when there is no such workflow. */
export async function findSnapshot(db: Db, id: number): Promise<WorkflowSnapshot | undefined> {
  const row = await db
    .select({ id: workflows.id, name: workflows.name, timeout: workflows.timeout, tasks: workflows.tasks, onError: workflows.onError })
    .from(workflows)
    .where(eq(workflows.id, id))
    .get();
  return row ? snapshotOf(row as SnapshotSource) : undefined;
}

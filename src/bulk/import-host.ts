// What the job's Durable Object does for an import job besides running its task
// (import-job-object.ts calls these): the gate before a client ends the job, the clean-up once it
// has ended, and the trigger events a publish recorded handed to the queue.
import { getDb } from "../db/client";
import type { Job } from "../jobs/job-state";
import type { Refusal } from "../jobs/model";
import { isFinal, type JobStatus } from "../jobs/states";
import type { EventsMessage } from "../triggers/queue";
import type { ImportFiles } from "./import-store";
import { voidRun } from "./import-stage";

/**
 * Before a client ends a running or queued import job (cancel, or a final status through POST
 * /job/{jobID}): its run is voided in D1 first, so nothing of it can be published after the job
 * says it ended. A refusal when the rows were published first: the import has happened.
 */
export async function importEndGate(env: Env, job: Job | null, to: JobStatus | undefined): Promise<Refusal | null> {
  if (!job?.definition.import || to === undefined || !isFinal(to) || isFinal(job.state.status)) return null;
  const state = await voidRun(getDb(env), Number(job.state.jobID));
  if (state !== "published") return null;
  return {
    code: "import_published",
    message: `Import job ${job.state.jobID} has already published its rows; it can no longer be ${to === "cancelled" ? "cancelled" : `set to ${to}`}`,
    details: [{ path: "status", message: "the import's rows are published" }],
  };
}

/**
 * Once an import job is final: its run voided if it never published (a timeout, a failure), so
 * no staged row stays behind, and the stored file dropped. Best effort; a later settle tries again
 * while the file is still there.
 */
export async function cleanUpImport(env: Env, job: Job | null, files: ImportFiles) {
  if (!job?.definition.import || !isFinal(job.state.status) || !files.hasFile()) return;
  try {
    await voidRun(getDb(env), Number(job.state.jobID));
    files.dropFile();
  } catch (err) {
    console.error(JSON.stringify({ level: "error", msg: "import clean-up failed; it is tried again", jobID: job.state.jobID, error: String(err) }));
  }
}

/** Trigger events of a publish, to the queue in messages of 100 IDs, 100 messages per call; what fails is left to the sweep. */
export async function queueImportEvents(env: Env, eventIDs: number[]) {
  const messages: { body: EventsMessage }[] = [];
  for (let i = 0; i < eventIDs.length; i += 100) messages.push({ body: { type: "content-events", eventIDs: eventIDs.slice(i, i + 100) } });
  for (let i = 0; i < messages.length; i += 100) {
    try {
      await env.TASKS.sendBatch(messages.slice(i, i + 100));
    } catch (err) {
      console.error(
        JSON.stringify({
          level: "error",
          msg: "queueing an import's trigger events failed; the sweep dispatches them",
          count: messages.length,
          error: String(err),
        }),
      );
      return;
    }
  }
}

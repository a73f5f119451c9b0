// The job's Durable Object as the Worker exports it: the engine (src/jobs/job-object-base.ts) with
// import jobs (src/bulk/import-job-object.ts), given what runs each task kind and told whom a
// finished job concerns. Here because these parts sit above the engine, which imports none of them.
import type { Executor } from "../jobs/attempt";
import { runAttempt } from "../jobs/attempt";
import type { Job } from "../jobs/job-state";
import { ImportJobObject } from "../bulk/import-job-object";
import { scheduleStub } from "../schedules/stub";
import { executeTask } from "../workflows/execute";

/** The workflow kinds but `delay` (the engine waits it out) run through `executeTask`. */
const runWorkflowTask: Executor = (env, run, cancel) => runAttempt(env, run, cancel, executeTask);

export class JobObject extends ImportJobObject {
  protected readonly executors = {
    log: runWorkflowTask,
    fail: runWorkflowTask,
    http: runWorkflowTask,
    "content.create": runWorkflowTask,
    "content.update": runWorkflowTask,
    "content.delete": runWorkflowTask,
    import: this.runImportTask,
  };

  /**
   * A job a schedule started tells the schedule when it is final, after its mirror row says so: a
   * run the schedule buffered (`overlap: buffer_one`) may start now. Best effort, once per
   * instance: the schedule also looks again by itself while a run waits.
   */
  protected override async jobEnded(job: Job) {
    const origin = job.definition.schedule;
    if (!origin) return;
    try {
      await scheduleStub(this.env, origin.scheduleID).jobEnded(job.state.jobID);
    } catch (err) {
      console.error(
        JSON.stringify({
          level: "error",
          msg: "telling the schedule that its job ended failed",
          jobID: job.state.jobID,
          scheduleID: origin.scheduleID,
          error: String(err),
        }),
      );
    }
  }
}

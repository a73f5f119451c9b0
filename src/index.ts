// The Worker entry: HTTP, queue consumer, cron sweep, and the job, schedule and date trigger Durable Object classes.
import { buildApp } from "./app";
import { handleTaskBatch } from "./jobs/queue";
import { sweep } from "./jobs/sweep";
import { sweepSchedules } from "./schedules/sweep";
import { requestEventSweep } from "./triggers/sweep";

export { JobObject } from "./jobs/job-object";
export { ScheduleObject } from "./schedules/schedule-object";
export { DateTriggerObject } from "./triggers/date-trigger-object";

const app = buildApp();

export default {
  fetch: app.fetch,
  queue: handleTaskBatch,
  async scheduled(controller, env, ctx) {
    const now = new Date(controller.scheduledTime);
    // Apart: a failure of one does not stop the other (both are caught up next minute anyway).
    ctx.waitUntil(
      Promise.allSettled([sweep(env, now), sweepSchedules(env, now), requestEventSweep(env, now)]).then((results) => {
        for (const r of results) if (r.status === "rejected") console.error(JSON.stringify({ level: "error", msg: "sweep failed", error: String(r.reason) }));
      }),
    );
  },
} satisfies ExportedHandler<Env, unknown>;

// The Worker entry: HTTP, queue consumer, cron sweep, and the job, schedule and date trigger
// Durable Object classes. What is wired together where is in src/worker/.
import { buildApp } from "./app";
import { sweepAll } from "./worker/cron";
import { handleTaskBatch } from "./worker/queue";

export { JobObject } from "./worker/job-object";
export { ScheduleObject } from "./schedules/schedule-object";
export { DateTriggerObject } from "./triggers/date-trigger-object";

const app = buildApp();

export default {
  fetch: app.fetch,
  queue: handleTaskBatch,
  async scheduled(controller, env, ctx) {
    ctx.waitUntil(sweepAll(env, new Date(controller.scheduledTime)));
  },
} satisfies ExportedHandler<Env, unknown>;

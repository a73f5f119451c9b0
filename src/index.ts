// The Worker entry: HTTP, queue consumer, cron sweep and the job Durable Object class.
import { buildApp } from "./app";
import { handleTaskBatch } from "./jobs/queue";
import { sweep } from "./jobs/sweep";

export { JobObject } from "./jobs/job-object";

const app = buildApp();

export default {
  fetch: app.fetch,
  queue: handleTaskBatch,
  async scheduled(controller, env, ctx) {
    ctx.waitUntil(sweep(env, new Date(controller.scheduledTime)));
  },
} satisfies ExportedHandler<Env, unknown>;

// The TASKS queue consumer: claims each attempt at its job's Durable Object, runs it, reports back.
// Messages are acked one by one. A duplicate or stale message fails to claim and is acked
// without running anything; an exception retries the message, whose redelivery then fails to
// claim too (the DO's watchdog re-dispatches the attempt if its report never arrived).
import { runAttempt } from "./attempt";
import type { AttemptMessage, AttemptReport } from "./model";

export const jobStub = (env: Env, jobID: string) => env.JOBS.get(env.JOBS.idFromName(jobID));

const isAttemptMessage = (body: unknown): body is AttemptMessage =>
  !!body &&
  typeof body === "object" &&
  typeof (body as AttemptMessage).jobID === "string" &&
  /^[1-9][0-9]{0,15}$/.test((body as AttemptMessage).jobID) &&
  typeof (body as AttemptMessage).attemptId === "string";

/** How often a running attempt asks its DO whether the job still waits for it (cancel, timeout). */
export const ALIVE_POLL_MS = 1000;

export async function processAttempt(env: Env, body: unknown): Promise<"ran" | "stale" | "discarded" | "malformed"> {
  if (!isAttemptMessage(body)) {
    console.warn(JSON.stringify({ level: "warn", msg: "dropping malformed task message", body }));
    return "malformed";
  }
  const stub = jobStub(env, body.jobID);
  const claimed = await stub.claimAttempt(body.attemptId);
  if (!claimed) return "stale";
  const report = await runAttempt(env, claimed, { isAlive: () => stub.attemptAlive(body.attemptId), pollMs: ALIVE_POLL_MS });
  if (!report) return "discarded";
  await reportWithRetry(env, body, report);
  return "ran";
}

async function reportWithRetry(env: Env, body: AttemptMessage, report: AttemptReport) {
  let lastError: unknown;
  for (let i = 0; i < 3; i++) {
    try {
      // A fresh stub each time: a broken stub stays broken.
      await jobStub(env, body.jobID).reportAttempt(body.attemptId, report);
      return;
    } catch (err) {
      lastError = err;
      await new Promise((r) => setTimeout(r, 100 * 2 ** i));
    }
  }
  throw lastError;
}

export async function handleTaskBatch(batch: MessageBatch<unknown>, env: Env, _ctx: ExecutionContext) {
  // Messages of one batch are independent attempts (of different jobs, or stale copies): run them
  // side by side, and ack or retry each one on its own.
  await Promise.all(
    batch.messages.map(async (message) => {
      try {
        await processAttempt(env, message.body);
        message.ack();
      } catch (err) {
        console.error(JSON.stringify({ level: "error", msg: "task message failed", id: message.id, error: String(err) }));
        message.retry({ delaySeconds: Math.min(60, 2 ** Math.max(0, message.attempts - 1)) });
      }
    }),
  );
}

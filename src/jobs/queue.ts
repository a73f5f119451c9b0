// The TASKS queue consumer: claims each attempt at its job's Durable Object, then runs it in
// ctx.waitUntil and reports back (see handleTaskBatch). Messages are acked one by one. A duplicate
// or stale message fails to claim and is acked without running anything; an exception retries the
// message, whose redelivery then fails to claim too (the DO's watchdog re-dispatches the attempt
// if its report never arrived).
import { runAttempt } from "./attempt";
import type { AttemptMessage, AttemptReport, ClaimedAttempt } from "./model";

export const jobStub = (env: Env, jobID: string) => env.JOBS.get(env.JOBS.idFromName(jobID));

const isAttemptMessage = (body: unknown): body is AttemptMessage =>
  !!body &&
  typeof body === "object" &&
  typeof (body as AttemptMessage).jobID === "string" &&
  /^[1-9][0-9]{0,15}$/.test((body as AttemptMessage).jobID) &&
  typeof (body as AttemptMessage).attemptId === "string";

/** How often a running attempt asks its DO whether the job still waits for it (cancel, timeout). */
export const ALIVE_POLL_MS = 1000;

export type Claim =
  | { kind: "malformed" | "stale" }
  | { kind: "claimed"; stub: ReturnType<typeof jobStub>; body: AttemptMessage; claimed: ClaimedAttempt };

/** Claims the message's attempt at its job's DO (fast: one DO call). */
export async function claimMessage(env: Env, body: unknown): Promise<Claim> {
  if (!isAttemptMessage(body)) {
    console.warn(JSON.stringify({ level: "warn", msg: "dropping malformed task message", body }));
    return { kind: "malformed" };
  }
  const stub = jobStub(env, body.jobID);
  const claimed = await stub.claimAttempt(body.attemptId);
  return claimed ? { kind: "claimed", stub, body, claimed } : { kind: "stale" };
}

/** Runs a claimed attempt (polling the DO every second: that is also its heartbeat) and reports it. */
export async function runClaimed(env: Env, claim: Extract<Claim, { kind: "claimed" }>): Promise<"ran" | "discarded"> {
  const { stub, body, claimed } = claim;
  const report = await runAttempt(env, claimed, { isAlive: () => stub.attemptAlive(body.attemptId), pollMs: ALIVE_POLL_MS });
  if (!report) return "discarded";
  await reportWithRetry(env, body, report);
  return "ran";
}

export async function processAttempt(env: Env, body: unknown): Promise<"ran" | "stale" | "discarded" | "malformed"> {
  const claim = await claimMessage(env, body);
  return claim.kind === "claimed" ? runClaimed(env, claim) : claim.kind;
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

const retryDelay = (message: Message<unknown>) => ({ delaySeconds: Math.min(60, 2 ** Math.max(0, message.attempts - 1)) });

/**
 * The consumer only claims: each message's attempt is claimed at its DO (one quick call), and the
 * attempt then runs in `ctx.waitUntil`, so the handler returns as soon as every message of the
 * batch is claimed (or found stale). With the `queue_consumer_no_wait_for_wait_until`
 * compatibility flag (wrangler.toml) the queue then delivers the next batch at once: a slow
 * attempt of one job never holds up the attempts of other jobs (the local queue delivers one
 * batch at a time, and in production a batch's slowest message would hold up the rest).
 *
 * A claimed message is acked (or retried, if its report could not be delivered) when its run ends;
 * with the flag the queue has already counted it as delivered when the handler returned, which is
 * what we want: a redelivery could not run the attempt again anyway (it is claimed), and a run that
 * dies is recovered by the DO's heartbeat watchdog, not by the queue.
 */
export async function handleTaskBatch(batch: MessageBatch<unknown>, env: Env, ctx: ExecutionContext) {
  await Promise.all(
    batch.messages.map(async (message) => {
      let claim: Claim;
      try {
        claim = await claimMessage(env, message.body);
      } catch (err) {
        console.error(JSON.stringify({ level: "error", msg: "task claim failed", id: message.id, error: String(err) }));
        message.retry(retryDelay(message));
        return;
      }
      if (claim.kind !== "claimed") {
        message.ack();
        return;
      }
      ctx.waitUntil(
        runClaimed(env, claim).then(
          () => message.ack(),
          (err) => {
            console.error(JSON.stringify({ level: "error", msg: "task message failed", id: message.id, error: String(err) }));
            message.retry(retryDelay(message));
          },
        ),
      );
    }),
  );
}

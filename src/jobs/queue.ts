// The job side of the TASKS queue. It only delivers: each message's attempt is claimed at its
// job's Durable Object (one quick call), which then runs the attempt in its own alarm
// (docs/jobs.md, "The engine"). Every message is acked once its claim call answered, whatever it
// answered (a duplicate or stale message claims nothing); a claim call that fails retries that
// message only. The consumer that sorts the queue's messages by kind (trigger events share the
// queue) is src/worker/queue.ts.
import { parseId } from "../http/ids";
import type { AttemptMessage } from "./model";

export const jobStub = (env: Env, jobID: string) => env.JOBS.get(env.JOBS.idFromName(jobID));

const isAttemptMessage = (body: unknown): body is AttemptMessage =>
  !!body &&
  typeof body === "object" &&
  typeof (body as AttemptMessage).jobID === "string" &&
  parseId((body as AttemptMessage).jobID) !== undefined &&
  typeof (body as AttemptMessage).attemptId === "string";

/** How long a message waits before it is delivered again: 1, 2, 4... seconds, at most a minute. */
export const retryDelay = (message: Message<unknown>) => ({ delaySeconds: Math.min(60, 2 ** Math.max(0, message.attempts - 1)) });

/** Delivers an attempt's message: its claim at the job's Durable Object, or a drop when the body is no attempt. */
export async function deliverAttempt(env: Env, message: Message<unknown>) {
  const body = message.body;
  if (!isAttemptMessage(body)) {
    console.warn(JSON.stringify({ level: "warn", msg: "dropping malformed task message", body }));
    message.ack();
    return;
  }
  try {
    await jobStub(env, body.jobID).claimAttempt(body.attemptId);
    message.ack();
  } catch (err) {
    console.error(JSON.stringify({ level: "error", msg: "task claim failed", id: message.id, jobID: body.jobID, error: String(err) }));
    message.retry(retryDelay(message));
  }
}

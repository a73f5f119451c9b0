// The TASKS queue consumer. It only delivers: each message's attempt is claimed at its job's
// Durable Object (one quick call), which then runs the attempt in its own alarm (README, "Jobs" →
// "The engine"). Every message is acked once its claim call answered, whatever it answered (a
// duplicate or stale message claims nothing); a claim call that fails retries that message only.
// Trigger events (src/triggers/queue.ts) share the queue: their messages are dispatched here.
import { dispatchEvents, newBudget } from "../triggers/dispatch";
import { isEventsMessage } from "../triggers/queue";
import { isSweepMessage, sweepEvents } from "../triggers/sweep";
import { parseId } from "../http/ids";
import type { AttemptMessage } from "./model";

export const jobStub = (env: Env, jobID: string) => env.JOBS.get(env.JOBS.idFromName(jobID));

const isAttemptMessage = (body: unknown): body is AttemptMessage =>
  !!body &&
  typeof body === "object" &&
  typeof (body as AttemptMessage).jobID === "string" &&
  parseId((body as AttemptMessage).jobID) !== undefined &&
  typeof (body as AttemptMessage).attemptId === "string";

const retryDelay = (message: Message<unknown>) => ({ delaySeconds: Math.min(60, 2 ** Math.max(0, message.attempts - 1)) });

export async function handleTaskBatch(batch: MessageBatch<unknown>, env: Env) {
  // One dispatch budget for the whole batch: it is one invocation (README, "Triggers").
  const budget = newBudget();
  await Promise.all(
    batch.messages.map(async (message) => {
      const body = message.body;
      if (isSweepMessage(body)) {
        // The sweep leaves what it cannot do to the next minute's: nothing to retry here.
        await sweepEvents(env, new Date(body.at), budget).catch((err) =>
          console.error(JSON.stringify({ level: "error", msg: "trigger event sweep failed", error: String(err) })),
        );
        message.ack();
        return;
      }
      if (isEventsMessage(body)) {
        try {
          const outcome = await dispatchEvents(env, body.eventIDs, budget);
          if (outcome.failed || outcome.deferred) throw new Error(`${outcome.failed} of ${body.eventIDs.length} events failed, ${outcome.deferred} deferred`);
          message.ack();
        } catch (err) {
          console.error(JSON.stringify({ level: "error", msg: "trigger event dispatch failed", id: message.id, eventIDs: body.eventIDs, error: String(err) }));
          message.retry(retryDelay(message));
        }
        return;
      }
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
    }),
  );
}

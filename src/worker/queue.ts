// The TASKS queue consumer: sorts each message by kind. Three kinds share the queue: the cron's
// request for a trigger event sweep (src/triggers/sweep.ts), trigger events to dispatch
// (src/triggers/queue.ts), and task attempts, claimed at their job (src/jobs/queue.ts).
import { deliverAttempt, retryDelay } from "../jobs/queue";
import { dispatchEvents, newBudget } from "../triggers/dispatch";
import { isEventsMessage } from "../triggers/queue";
import { isSweepMessage, sweepEvents } from "../triggers/sweep";

export async function handleTaskBatch(batch: MessageBatch<unknown>, env: Env) {
  // One dispatch budget for the whole batch: it is one invocation (docs/api/triggers.md, "Limits").
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
      await deliverAttempt(env, message);
    }),
  );
}

// The every-minute safety net of triggers: dispatches the events a write's own dispatch left in the
// outbox (its Worker died, the queue message was lost, a job start failed), oldest first, and
// wakes date trigger clocks that missed their time.
// The cron handler only sends a message (`{type: "sweep-events"}`) to the TASKS queue, whose
// consumer runs the sweep in an invocation of its own: the cron invocation's subrequests are
// spent by the job and schedule sweeps already (docs/limits.md).
import { getDb } from "../db/client";
import { sweepDateClocks } from "./date-dispatch";
import { dispatchEvents, leftEvents, newBudget, type Budget } from "./dispatch";
import { EVENT_SWEEP_GRACE_MS, EVENTS_PER_INVOCATION } from "./limits";

/** The body of the TASKS message that runs the sweep; `at`: the cron's time (ms). */
type SweepMessage = { type: "sweep-events"; at: number };

export const isSweepMessage = (body: unknown): body is SweepMessage =>
  !!body && typeof body === "object" && (body as SweepMessage).type === "sweep-events" && Number.isFinite((body as SweepMessage).at);

/** The cron side: asks the queue to run the sweep (a failure waits for the next minute). */
export async function requestEventSweep(env: Env, now: Date): Promise<void> {
  await env.TASKS.send({ type: "sweep-events", at: now.getTime() } satisfies SweepMessage);
}

/**
 * Dispatches the events recorded more than EVENT_SWEEP_GRACE_MS before `now`, oldest first, within
 * `budget`; then wakes the date trigger clocks that are overdue (date-dispatch.ts).
 */
export async function sweepEvents(env: Env, now: Date, budget: Budget = newBudget()) {
  const clocks = await sweepDateClocks(env, now).catch((err) => {
    console.error(JSON.stringify({ level: "error", msg: "date trigger sweep failed", error: String(err) }));
    return { woken: 0, failed: 1 };
  });
  const ids = await leftEvents(getDb(env), new Date(now.getTime() - EVENT_SWEEP_GRACE_MS).toISOString(), Math.min(budget.events, EVENTS_PER_INVOCATION));
  const outcome = await dispatchEvents(env, ids, budget);
  if (ids.length) console.log(JSON.stringify({ level: "info", msg: "trigger event sweep", events: ids.length, ...outcome }));
  return { events: ids.length, ...outcome, clocks };
}

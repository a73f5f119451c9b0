// The Worker side of date triggers: waking their clocks (date-trigger-object.ts) when something
// may have moved their next due item — a workflow saved with date triggers, an item created or
// changed in a module a date trigger watches (its `content.date` outbox event) — and the sweep that
// wakes a clock whose `next_due_at` passed without it (a lost alarm, a failed re-arm).
import { and, asc, eq, isNotNull, lte } from "drizzle-orm";
import { getDb } from "../db/client";
import { workflowTriggers } from "../db/schema";
import { dateClockStub } from "./date-trigger-object";
import { DATE_CLOCKS_PER_SWEEP, DATE_SWEEP_GRACE_MS } from "./limits";
import { DATE_EVENT, type DateTrigger, type TriggerRow } from "./model";
import { parseDocument } from "./params";
import { parseOffset } from "./duration";

/**
 * An item of the module was created or changed (its `content.date` event; `triggers`: the date
 * triggers on the module): wake each date trigger's clock whose next due time the item may come
 * before (it has a value in the trigger's field, due earlier than the clock's `next_due_at`, or the
 * clock has none). A clock woken needlessly only looks and sleeps again.
 */
export async function rearmDateTriggers(env: Env, event: { data: string }, triggers: TriggerRow[]): Promise<number> {
  const data = parseDocument(event.data);
  const rows = triggers.filter((row) => {
    if (row.event !== DATE_EVENT) return false;
    const trigger = row.definition as DateTrigger;
    const value = data[trigger.field];
    if (typeof value !== "string") return false;
    const offset = parseOffset(trigger.offset);
    const due = Date.parse(value.length === 10 ? `${value}T00:00:00.000Z` : value) + ("ms" in offset ? offset.ms : 0);
    return Number.isFinite(due) && (row.nextDueAt === null || due < Date.parse(row.nextDueAt));
  });
  await Promise.all(rows.map((row) => dateClockStub(env, row.workflowId, row.key).wake(row.workflowId, row.key)));
  return rows.length;
}

/** After a workflow write: arms the clocks of its date triggers (the sweep does it should this fail). */
export async function armDateTriggers(env: Env, workflowID: number): Promise<void> {
  try {
    const rows = (await getDb(env)
      .select()
      .from(workflowTriggers)
      .where(and(eq(workflowTriggers.workflowId, workflowID), eq(workflowTriggers.event, DATE_EVENT)))
      .all()) as TriggerRow[];
    await Promise.all(rows.map((row) => dateClockStub(env, row.workflowId, row.key).wake(row.workflowId, row.key)));
  } catch (err) {
    console.error(JSON.stringify({ level: "error", msg: "arming date triggers failed; the sweep arms them", workflowID, error: String(err) }));
  }
}

/** Wakes the clocks whose `next_due_at` is more than DATE_SWEEP_GRACE_MS past, earliest first. */
export async function sweepDateClocks(env: Env, now: Date): Promise<{ woken: number; failed: number }> {
  const overdue = await getDb(env)
    .select({ workflowId: workflowTriggers.workflowId, key: workflowTriggers.key })
    .from(workflowTriggers)
    .where(and(isNotNull(workflowTriggers.nextDueAt), lte(workflowTriggers.nextDueAt, new Date(now.getTime() - DATE_SWEEP_GRACE_MS).toISOString())))
    .orderBy(asc(workflowTriggers.nextDueAt))
    .limit(DATE_CLOCKS_PER_SWEEP)
    .all();
  const results = await Promise.allSettled(overdue.map((r) => dateClockStub(env, r.workflowId, r.key).wake(r.workflowId, r.key, now.getTime())));
  const failed = results.filter((r) => r.status === "rejected").length;
  if (overdue.length) console.log(JSON.stringify({ level: "info", msg: "date trigger sweep", woken: overdue.length, failed }));
  return { woken: overdue.length, failed };
}

// One Durable Object per date trigger (addressed by idFromName("<workflowID>:<trigger key>")): the
// trigger's clock. It scales with items, not alarms: the DO keeps one alarm, pointed at the
// earliest item not yet handled, found through the date field's index in the module's typed
// table (`c_<module>__<field>`), and a cursor (field value, item id) up to which every item has
// been handled.
//
// Who holds what:
//   - the `workflow_triggers` row is the truth of the definition (each wake reads it: an edited or
//     deleted trigger is a row that is gone, and the clock stops) and of `armed_at` (no item due at
//     or before it ever fires); the clock writes `next_due_at` back for the cron sweep;
//   - this DO holds the cursor and the alarm;
//   - a job's identity is (trigger, item, date value): `date:<workflowID>:<key>:<contentID>:<value>`,
//     the unique `trigger_key` of the jobs mirror, so a duplicated alarm, a sweep racing the alarm,
//     or a wake run again after a restart finds the job already there.
//
// A wake handles at most DATE_ITEMS_PER_WAKE due items (oldest first), each started when the
// trigger's filter holds on the item as it is then and the item did not get its date after its due
// time (an item whose time is already past when it gets it does not fire); then it moves the
// cursor, points the alarm at the next item (at once when more are due) and writes `next_due_at`.
// Wakes run one at a time (`serial`).
import { DurableObject } from "cloudflare:workers";
import { and, eq, sql, type SQL } from "drizzle-orm";
import { compileFilter } from "../content/filter";
import { layoutOf } from "../content/storage";
import { fieldValue, ITEM, itemsFrom, needsDocument } from "../module-model/typed-table";
import { getDb, type Db } from "../db/client";
import { allRows } from "../db/raw";
import { workflowTriggers } from "../db/schema";
import { fieldKinds, isMultiField } from "../fields/registry";
import { ApiError } from "../http/errors";
import { MAX_ALARM_MS, MIN_ALARM_MS } from "../jobs/limits";
import { startTriggeredJob } from "../jobs/service";
import { findModule, type Module } from "../module-model/module";
import { clockSpec, dueAt, lastValueDueBy, type DateClockSpec } from "./date-clock";
import { DATE_ITEMS_PER_WAKE, DATE_WAKE_RETRY_MS } from "./limits";
import { DATE_EVENT, type DateTrigger, type TriggerRow } from "./model";
import { parseDocument, triggerParameters } from "./params";

/** The clock's progress: every item at or before (value, id) has been handled, for the row armed at `armedAt`. */
type Clock = { armedAt: string; value: string; id: number };
type Who = { workflowID: number; key: string };

type WakeOutcome = { stopped: true } | { stopped: false; due: number; started: number; nextDueAt: string | null; failed?: string };

const LAST_ID = Number.MAX_SAFE_INTEGER;

/** The job identity of a date trigger's item and date value. */
const dateJobKey = (who: Who, contentId: number, value: string) => `date:${who.workflowID}:${who.key}:${contentId}:${value}`;

export const dateClockStub = (env: Env, workflowID: number, key: string) => env.DATE_TRIGGERS.get(env.DATE_TRIGGERS.idFromName(`${workflowID}:${key}`));

/**
 * Items after the cursor whose value is due by `upper`, in (value, id) order, at most
 * DATE_ITEMS_PER_WAKE, with their documents: a walk of the field's index from the cursor (the
 * row-value comparison is a range on it), whatever the module's size.
 */
export function dueItemsSql(module: Module, value: SQL, cursor: { value: string; id: number }, upper: string): SQL {
  return sql`select ${ITEM}."id" as "id", ${value} as "v", "doc"."updated_at" as "updatedAt", "doc"."user_id" as "userId", "doc"."data" as "data"
    from ${itemsFrom(layoutOf(module), true)}
    where (${value}, ${ITEM}."id") > (${cursor.value}, ${cursor.id}) and ${value} <= ${upper}
    order by ${value}, ${ITEM}."id" limit ${DATE_ITEMS_PER_WAKE}`;
}

/** The first item after the cursor: one seek of the field's index. */
export function nextDueSql(module: Module, value: SQL, cursor: { value: string; id: number }): SQL {
  return sql`select ${value} as "v" from ${itemsFrom(layoutOf(module), needsDocument(value))}
    where (${value}, ${ITEM}."id") > (${cursor.value}, ${cursor.id}) order by ${value}, ${ITEM}."id" limit 1`;
}

const after = (a: { value: string; id: number }, b: { value: string; id: number }) => a.value > b.value || (a.value === b.value && a.id > b.id);

export class DateTriggerObject extends DurableObject<Env> {
  private chain: Promise<unknown> = Promise.resolve();

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Handles what is due at `nowMs` (default: now) and points the alarm (a re-arm, the sweep, an item's new date). */
  async wake(workflowID: number, key: string, nowMs: number = Date.now()): Promise<WakeOutcome> {
    return this.serial(async () => {
      await this.ctx.storage.put<Who>("who", { workflowID, key });
      return this.run(nowMs);
    });
  }

  async alarm() {
    await this.serial(() => this.run(Date.now()));
  }

  private async stop(): Promise<WakeOutcome> {
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
    return { stopped: true };
  }

  private async run(nowMs: number): Promise<WakeOutcome> {
    const who = await this.ctx.storage.get<Who>("who");
    if (!who) return this.stop();
    const db = getDb(this.env);
    const row = (await db
      .select()
      .from(workflowTriggers)
      .where(and(eq(workflowTriggers.workflowId, who.workflowID), eq(workflowTriggers.key, who.key)))
      .get()) as TriggerRow | undefined;
    if (!row || row.event !== DATE_EVENT) return this.stop(); // the trigger was removed or changed
    const trigger = row.definition as DateTrigger;
    const module = await findModule(db, row.moduleId);
    const field = module?.fields.find((f) => f.name === trigger.field);
    const comparison = field ? fieldKinds.get(field.kind)?.comparison : undefined;
    if (!module || !field || (comparison !== "date" && comparison !== "stamp") || isMultiField(field)) {
      // The module or its field is gone (or changed kind): nothing can be due. An edit of the workflow drops the trigger.
      console.warn(
        JSON.stringify({
          level: "warn",
          msg: "date trigger's module or field no longer fits; its clock stops",
          workflowID: who.workflowID,
          moduleID: row.moduleId,
          field: trigger.field,
        }),
      );
      await this.ctx.storage.deleteAlarm();
      await this.writeNextDue(db, who, row, null);
      return { stopped: false, due: 0, started: 0, nextDueAt: null };
    }
    const spec = clockSpec(trigger, field.kind);
    const stored = await this.ctx.storage.get<Clock>("clock");
    const clock: Clock =
      stored && stored.armedAt === row.armedAt ? stored : { armedAt: row.armedAt, value: lastValueDueBy(spec, Date.parse(row.armedAt)), id: LAST_ID };
    const upper = lastValueDueBy(spec, nowMs);
    const value = fieldValue(layoutOf(module), field);
    const due = await this.dueItems(db, module, value, clock, upper);
    const matching =
      trigger.filter === undefined
        ? null
        : await this.matching(
            db,
            module,
            trigger.filter,
            due.map((d) => d.id),
          );

    let started = 0;
    let failed: string | undefined;
    for (const item of due) {
      const dueMs = dueAt(spec, item.v);
      const fires = (matching === null || matching.has(item.id)) && dueMs > Date.parse(item.updatedAt) && dueMs > Date.parse(row.armedAt);
      if (fires) {
        try {
          if (await this.start(who, module, trigger, item, dueMs)) started += 1;
        } catch (err) {
          if (err instanceof ApiError && err.code === "unknown_workflow") return this.stop();
          failed = String((err as Error)?.message ?? err);
          console.error(
            JSON.stringify({
              level: "error",
              msg: "date trigger job start failed; the clock tries again",
              workflowID: who.workflowID,
              contentID: item.id,
              error: failed,
            }),
          );
          break;
        }
      }
      clock.value = item.v;
      clock.id = item.id;
    }
    const more = failed === undefined && due.length === DATE_ITEMS_PER_WAKE;
    if (failed === undefined && !more) {
      const end = { value: upper, id: LAST_ID };
      if (after(end, clock)) Object.assign(clock, end);
    }
    await this.ctx.storage.put("clock", clock);

    let next: number | null;
    if (failed !== undefined) next = Date.now() + DATE_WAKE_RETRY_MS;
    else if (more) next = Date.now();
    else next = await this.nextDue(db, module, value, clock, spec);
    if (next === null) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(Math.min(Math.max(next, MIN_ALARM_MS), MAX_ALARM_MS));
    const nextDueAt = next === null ? null : new Date(Math.min(Math.max(next, MIN_ALARM_MS), MAX_ALARM_MS)).toISOString();
    await this.writeNextDue(db, who, row, nextDueAt);
    return { stopped: false, due: due.length, started, nextDueAt, ...(failed !== undefined ? { failed } : {}) };
  }

  private dueItems(db: Db, module: Module, value: SQL, clock: Clock, upper: string) {
    return allRows<{ id: number; v: string; updatedAt: string; userId: string; data: string }>(db, dueItemsSql(module, value, clock, upper));
  }

  /** Which of the items the filter holds on, as they are now (null: no filter). A filter that no longer compiles holds on none. */
  private async matching(db: Db, module: Module, filter: string, ids: number[]): Promise<Set<number>> {
    if (ids.length === 0) return new Set();
    let condition: SQL;
    try {
      condition = compileFilter(module, filter);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      console.warn(
        JSON.stringify({
          level: "warn",
          msg: "date trigger filter no longer compiles against its module; it matches nothing",
          moduleID: module.id,
          filter,
          error: err.message,
        }),
      );
      return new Set();
    }
    const rows = await allRows<{ id: number }>(
      db,
      sql`select ${ITEM}."id" as "id" from ${itemsFrom(layoutOf(module), needsDocument(condition))}
        where ${ITEM}."id" in (select "value" from json_each(${JSON.stringify(ids)})) and ${condition}`,
    );
    return new Set(rows.map((r) => r.id));
  }

  /** The due time of the first item after the cursor (one index seek), or null when there is none. */
  private async nextDue(db: Db, module: Module, value: SQL, clock: Clock, spec: DateClockSpec): Promise<number | null> {
    const [first] = await allRows<{ v: string }>(db, nextDueSql(module, value, clock));
    if (!first) return null;
    const ms = dueAt(spec, first.v);
    return Number.isFinite(ms) ? ms : null;
  }

  /** Starts the item's job; false when it existed already (a wake that ran before made it). */
  private async start(
    who: Who,
    module: Module,
    trigger: DateTrigger,
    item: { id: number; v: string; userId: string; data: string },
    dueMs: number,
  ): Promise<boolean> {
    const dueIso = new Date(dueMs).toISOString();
    const moduleID = String(module.id);
    const contentID = String(item.id);
    const { created } = await startTriggeredJob(this.env, {
      workflowID: who.workflowID,
      parameters: triggerParameters(module, { event: DATE_EVENT, moduleID, contentID, data: parseDocument(item.data), dueAt: dueIso }),
      userID: item.userId,
      trigger: { key: dateJobKey(who, item.id, item.v), event: DATE_EVENT, moduleID, contentID, depth: 1, field: trigger.field, dueAt: dueIso },
    });
    return created;
  }

  /** `next_due_at` for the sweep, only on the row this clock read (a re-armed trigger's row is left to its own wake). */
  private async writeNextDue(db: Db, who: Who, row: TriggerRow, nextDueAt: string | null) {
    await db
      .update(workflowTriggers)
      .set({ nextDueAt })
      .where(and(eq(workflowTriggers.workflowId, who.workflowID), eq(workflowTriggers.key, who.key), eq(workflowTriggers.armedAt, row.armedAt)));
  }
}

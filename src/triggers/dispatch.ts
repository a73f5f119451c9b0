// Turns outbox events (src/content/events.ts) into jobs. Runs right after the write (the request's
// waitUntil, or the queue for a job's content.* task) and from the every-minute sweep for whatever
// those left behind. Any number of dispatches of one event may run, one after the other or at
// once: each job's identity is (event, workflow), a unique key on the job mirror, so the second
// finds the job the first made (and finishes it if the first died half-way). An event is deleted
// only once every job it should start exists; until then it stays for the sweep.
import { and, asc, eq, gt, gte, lt, lte, sql } from "drizzle-orm";
import { getDb, type Db } from "../db/client";
import { rawStatement } from "../db/raw";
import { contentEvents, jobs, modules, workflowTriggers } from "../db/schema";
import { ApiError } from "../http/errors";
import { jobStub } from "../jobs/queue";
import { startTriggeredJob } from "../jobs/service";
import { findModule, type Module } from "../module-model/module";
import { filterHoldsStatement } from "./evaluate";
import { EVENT_ERROR_MAX_CHARS, EVENTS_PER_INVOCATION, MAX_TRIGGER_DEPTH, STARTS_PER_INVOCATION } from "./limits";
import { DATE_EVENT, isDateTrigger, type TriggerRow } from "./model";
import { changedFields, parseDocument, triggerParameters } from "./params";
import { rearmDateTriggers } from "./date-dispatch";

type EventRow = typeof contentEvents.$inferSelect;

/** What a dispatch did: events finished (jobs made, or none due), left for later, failed. */
type DispatchOutcome = { done: number; deferred: number; failed: number; started: number };

/** What an invocation has left to spend on dispatching (STARTS_PER_INVOCATION, EVENTS_PER_INVOCATION); shared by its dispatches. */
export type Budget = { starts: number; events: number };

export const newBudget = (): Budget => ({ starts: STARTS_PER_INVOCATION, events: EVENTS_PER_INVOCATION });

/** The job identity of an event's job for one workflow. */
const eventJobKey = (eventId: number, workflowId: number) => `event:${eventId}:${workflowId}`;

/**
 * Dispatches events one after the other. Never throws for one event's failure: it is counted,
 * recorded on the event (`attempts`, `error`) and left for the sweep.
 */
export async function dispatchEvents(env: Env, eventIds: number[], budget: Budget = newBudget()): Promise<DispatchOutcome> {
  const outcome: DispatchOutcome = { done: 0, deferred: 0, failed: 0, started: 0 };
  const db = getDb(env);
  for (const id of eventIds) {
    if (budget.events <= 0) {
      outcome.deferred += 1;
      continue;
    }
    budget.events -= 1;
    try {
      const result = await dispatchEvent(env, db, id, budget);
      if (result.deferred) outcome.deferred += 1;
      else outcome.done += 1;
      outcome.started += result.started;
    } catch (err) {
      outcome.failed += 1;
      console.error(JSON.stringify({ level: "error", msg: "trigger event dispatch failed; the sweep tries again", eventID: id, error: String(err) }));
      await db
        .update(contentEvents)
        .set({ attempts: sql`${contentEvents.attempts} + 1`, error: String((err as Error)?.message ?? err).slice(0, EVENT_ERROR_MAX_CHARS) })
        .where(eq(contentEvents.id, id))
        .catch(() => {});
    }
  }
  return outcome;
}

/** Dispatches the events of a request's write after its answer is sent (the sweep delivers them should this die). */
export function dispatchAfterResponse(env: Env, ctx: { waitUntil(promise: Promise<unknown>): void }, eventIds: number[]) {
  if (eventIds.length) ctx.waitUntil(dispatchEvents(env, eventIds));
}

const dropEvent = (db: Db, id: number) => db.delete(contentEvents).where(eq(contentEvents.id, id));

/**
 * What a dispatch of event `id` reads first, in one D1 round trip: the event, the triggers on its
 * module and event, its module, and the jobs of the event a previous dispatch finished (their
 * Durable Object wrote the mirror: version > 0; their keys are the range `event:<id>:…` of the
 * unique index).
 */
function readEvent(db: Db, id: number) {
  const ofEvent = (column: string) => sql`(select ${sql.identifier(column)} from ${contentEvents} where "id" = ${id})`;
  return db.batch([
    db.select().from(contentEvents).where(eq(contentEvents.id, id)),
    db
      .select()
      .from(workflowTriggers)
      .where(and(eq(workflowTriggers.moduleId, ofEvent("module_id")), eq(workflowTriggers.event, ofEvent("event"))))
      .orderBy(asc(workflowTriggers.workflowId), asc(workflowTriggers.position)),
    db
      .select()
      .from(modules)
      .where(eq(modules.id, ofEvent("module_id"))),
    db
      .select({ key: jobs.triggerKey })
      .from(jobs)
      .where(and(gte(jobs.triggerKey, `event:${id}:`), lt(jobs.triggerKey, `event:${id};`), gt(jobs.version, 0))),
  ]);
}

/** One event: the triggers it matches, then one job per matching workflow. */
async function dispatchEvent(env: Env, db: Db, id: number, budget: Budget): Promise<{ deferred: boolean; started: number }> {
  const [[event], triggerRows, [moduleRow], made] = await readEvent(db, id);
  if (!event) return { deferred: false, started: 0 }; // finished by another dispatch
  const triggers = triggerRows as TriggerRow[];
  if (event.event === DATE_EVENT) {
    // A date trigger's clock may have to look earlier; the jobs come from the clock itself.
    await rearmDateTriggers(env, event, triggers);
    await dropEvent(db, id);
    return { deferred: false, started: 0 };
  }
  // A module written before typed tables is converted on its first use (findModule).
  const module = moduleRow && !moduleRow.typedTable ? await findModule(db, moduleRow.id) : (moduleRow as Module | undefined);
  const matching = module ? await matchingTriggers(db, module, event, triggers) : [];
  if (!module || matching.length === 0) {
    await dropEvent(db, id);
    return { deferred: false, started: 0 };
  }
  if (event.depth > MAX_TRIGGER_DEPTH) {
    await refuse(env, event, matching);
    await dropEvent(db, id);
    return { deferred: false, started: 0 };
  }
  const done = new Set(made.map((r) => r.key));
  const parameters = triggerParameters(module, changeOf(module, event));
  let started = 0;
  for (const trigger of matching) {
    const key = eventJobKey(event.id, trigger.workflowId);
    if (done.has(key)) continue;
    if (budget.starts <= 0) return { deferred: true, started };
    budget.starts -= 1;
    try {
      const { created } = await startTriggeredJob(env, {
        workflowID: trigger.workflowId,
        parameters,
        userID: event.actor,
        trigger: { key, event: event.event, moduleID: String(event.moduleId), contentID: String(event.contentId), depth: event.depth },
      });
      if (created) started += 1;
    } catch (err) {
      // Deleted since the event was recorded: nothing to start.
      if (!(err instanceof ApiError && err.code === "unknown_workflow")) throw err;
    }
  }
  await dropEvent(db, id);
  return { deferred: false, started };
}

/** The change an event records, for the job's parameters. */
function changeOf(module: Module, event: EventRow) {
  const data = parseDocument(event.data);
  const base = { event: event.event, moduleID: String(event.moduleId), contentID: String(event.contentId), data };
  if (event.event !== "content.updated") return base;
  const previous = parseDocument(event.previous);
  return { ...base, previous, changed: changedFields(module, previous, data) };
}

/**
 * The triggers (at most one per workflow: its first that matches) whose `fields` changed and whose
 * filter holds on the event's item. All filters of one event run in one D1 batch. A filter that no
 * longer compiles (the module lost a field it names) matches nothing, and says so in the logs.
 */
async function matchingTriggers(db: Db, module: Module, event: EventRow, triggers: TriggerRow[]): Promise<TriggerRow[]> {
  const changed = event.event === "content.updated" ? changedFields(module, parseDocument(event.previous), parseDocument(event.data)) : [];
  const candidates = triggers.filter((t) => {
    const def = t.definition;
    if (isDateTrigger(def)) return false;
    return !def.fields || def.fields.some((f) => changed.includes(f));
  });
  const withFilter = candidates.flatMap((t) => {
    const filter = t.definition.filter;
    if (filter === undefined) return [];
    try {
      return [{ t, statement: rawStatement<{ ok: number }>(db, filterHoldsStatement(module, filter, event.id)) }];
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      console.warn(
        JSON.stringify({
          level: "warn",
          msg: "trigger filter no longer compiles against its module; the trigger matches nothing",
          workflowID: t.workflowId,
          moduleID: module.id,
          filter,
          error: err.message,
        }),
      );
      return [];
    }
  });
  const holds = new Set<TriggerRow>();
  if (withFilter.length) {
    // biome-ignore lint/suspicious/noExplicitAny: D1/Drizzle batch types want a fixed tuple; these statements are built at run time
    const results = (await db.batch(withFilter.map((w) => w.statement) as unknown as [any])) as unknown as { ok: number }[][];
    withFilter.forEach((w, i) => {
      if (results[i][0]?.ok) holds.add(w.t);
    });
  }
  const seen = new Set<number>();
  return candidates.filter((t) => {
    if (seen.has(t.workflowId)) return false;
    const ok = t.definition.filter === undefined || holds.has(t);
    if (ok) seen.add(t.workflowId);
    return ok;
  });
}

/** Past the trigger depth: no job; the refusal is logged in the job whose task made the change. */
async function refuse(env: Env, event: EventRow, matching: TriggerRow[]) {
  const workflowIDs = [...new Set(matching.map((t) => String(t.workflowId)))];
  const message =
    `trigger refused: ${event.event} of item ${event.contentId} in module ${event.moduleId} would start ` +
    `workflow${workflowIDs.length === 1 ? "" : "s"} ${workflowIDs.join(", ")} at trigger depth ${event.depth}; ` +
    `at most ${MAX_TRIGGER_DEPTH} triggered jobs may follow one another, so no job was started`;
  const data = {
    eventID: String(event.id),
    event: event.event,
    moduleID: String(event.moduleId),
    contentID: String(event.contentId),
    depth: event.depth,
    workflowIDs,
  };
  console.warn(JSON.stringify({ level: "warn", msg: message, sourceJobID: event.sourceJobId, ...data }));
  if (event.sourceJobId !== null) await jobStub(env, String(event.sourceJobId)).noteTriggerRefusal(String(event.id), message, data);
}

/**
 * Events the sweep should look at: recorded at or before `before` (ISO), the least tried first,
 * then oldest first, so events whose dispatch keeps failing cannot crowd out the others.
 */
export async function leftEvents(db: Db, before: string, limit: number): Promise<number[]> {
  const rows = await db
    .select({ id: contentEvents.id })
    .from(contentEvents)
    .where(lte(contentEvents.createdAt, before))
    .orderBy(asc(contentEvents.attempts), asc(contentEvents.id))
    .limit(limit)
    .all();
  return rows.map((r) => r.id);
}

// The Worker side of /schedule/: the D1 `schedules` row is the truth of a schedule's definition
// (and what listings read); each change is written there first, then the schedule's Durable Object
// is asked to re-arm its alarm. Should that call fail, nothing is lost: `next_fire_at` (written in
// the same statement) lets the cron sweep arm it when it comes due.
import type { z } from "@hono/zod-openapi";
import { and, asc, count, desc, eq, sql } from "drizzle-orm";
import { getDb, type Db } from "../db/client";
import { jobs, schedules, workflows } from "../db/schema";
import { ApiError, badRequest, conflict, notFound } from "../http/errors";
import { nowIso } from "../http/time";
import { iso } from "../jobs/model";
import type { JobStatus } from "../jobs/states";
import { fireTimesAfter, fireTimesBetween, localIso, nextFireAfter } from "./cron";
import { BACKFILL_MAX_FIRES, CATCHUP_WINDOW_DEFAULT_S, LAST_RUNS_SHOWN, NEXT_RUNS_SHOWN } from "./limits";
import {
  specOf,
  windowOf,
  type LastRun,
  type OverlapPolicy,
  type Run,
  type ScheduleLogLine,
  type ScheduleResult,
  type ScheduleRow,
  type ScheduleView,
} from "./model";
import type { backfillBody, createScheduleBody, updateScheduleBody } from "./schemas";
import { scheduleStub } from "./stub";

type CreateInput = z.output<typeof createScheduleBody>;
type UpdateInput = z.output<typeof updateScheduleBody>;
type BackfillInput = z.output<typeof backfillBody>;

export async function findSchedule(db: Db, id: number): Promise<ScheduleRow | undefined> {
  return db.select().from(schedules).where(eq(schedules.id, id)).get();
}

async function getRow(db: Db, id: number): Promise<ScheduleRow> {
  const row = await findSchedule(db, id);
  if (!row) throw notFound(`Schedule ${id}`);
  return row;
}

/**
 * The next fire time the clock waits for: the first after `after` (and after `firesAfter`) within
 * the schedule's window; null when paused or none is left.
 */
function nextFireOf(row: Pick<ScheduleRow, "cron" | "timezone" | "startAt" | "endAt" | "paused" | "firesAfter">, after: number): number | null {
  if (row.paused) return null;
  return nextFireAfter(specOf(row), Math.max(after, Date.parse(row.firesAfter)), windowOf(row));
}

function nextRunsOf(row: ScheduleRow, now: number) {
  if (row.paused) return [];
  const after = Math.max(now, Date.parse(row.firesAfter));
  return fireTimesAfter(specOf(row), after, windowOf(row), NEXT_RUNS_SHOWN).map((t) => ({ utc: iso(t)!, local: localIso(t, row.timezone) }));
}

function presentSchedule(row: ScheduleRow, lastRuns: LastRun[], now = Date.now()): ScheduleView {
  return {
    scheduleID: String(row.id),
    workflowID: String(row.workflowId),
    cron: row.cron,
    timezone: row.timezone,
    parameters: row.parameters ?? {},
    startAt: row.startAt,
    endAt: row.endAt,
    overlap: row.overlap as OverlapPolicy,
    catchupWindow: row.catchupWindow,
    paused: row.paused,
    nextRuns: nextRunsOf(row, now),
    lastRuns,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

const lastRunsQuery = (db: Db, scheduleId: number) =>
  db
    .select({ id: jobs.id, scheduledFor: jobs.scheduledFor, status: jobs.status, startedAt: jobs.startedAt, finishedAt: jobs.finishedAt })
    .from(jobs)
    .where(eq(jobs.scheduleId, scheduleId))
    .orderBy(desc(jobs.id))
    .limit(LAST_RUNS_SHOWN);

type LastRunRow = Awaited<ReturnType<typeof lastRunsQuery>>[number];

const presentLastRun = (r: LastRunRow): LastRun => ({
  jobID: String(r.id),
  scheduledFor: r.scheduledFor,
  status: r.status as JobStatus,
  startedAt: r.startedAt,
  finishedAt: r.finishedAt,
});

const unknownWorkflow = (workflowID: number) =>
  badRequest(`Workflow ${workflowID} does not exist`, [{ path: "workflowID", message: `workflow ${workflowID} does not exist` }], "unknown_workflow");

function checkWindow(startAt: number | null, endAt: number | null) {
  if (startAt !== null && endAt !== null && endAt < startAt) {
    throw badRequest("Invalid schedule: endAt is before startAt", [{ path: "endAt", message: `must not be before startAt (${iso(startAt)})` }]);
  }
}

/** Asks the schedule's DO to look at its row again now. A failure is logged: the sweep arms it when `next_fire_at` comes due. */
async function rearm(env: Env, id: number) {
  try {
    await scheduleStub(env, String(id)).arm(String(id));
  } catch (err) {
    console.error(JSON.stringify({ level: "error", msg: "schedule re-arm failed; the sweep will arm it", scheduleID: String(id), error: String(err) }));
  }
}

// ---------------------------------------------------------------- create, read, list

export async function createSchedule(env: Env, sub: string, body: CreateInput): Promise<ScheduleView> {
  const db = getDb(env);
  const startAt = body.startAt ?? null;
  const endAt = body.endAt ?? null;
  checkWindow(startAt, endAt);
  const now = Date.now();
  const nowText = iso(now)!;
  const fields = {
    cron: body.cron,
    timezone: body.timezone ?? "UTC",
    startAt: iso(startAt),
    endAt: iso(endAt),
    paused: body.paused ?? false,
    firesAfter: nowText,
  };
  const next = nextFireOf(fields, now);
  // Selected from the workflow's row, so a workflow deleted meanwhile makes no schedule. The fields
  // are in the table's column order (Drizzle checks it).
  const row = db
    .select({
      id: sql<number>`null`.as("id"),
      workflowId: workflows.id,
      cron: sql<string>`${fields.cron}`.as("cron"),
      timezone: sql<string>`${fields.timezone}`.as("timezone"),
      parameters: sql<string>`${sql.param(body.parameters ?? {}, schedules.parameters)}`.as("parameters"),
      startAt: sql<string | null>`${fields.startAt}`.as("start_at"),
      endAt: sql<string | null>`${fields.endAt}`.as("end_at"),
      overlap: sql<string>`${body.overlap ?? "skip"}`.as("overlap"),
      catchupWindow: sql<number>`${body.catchupWindow ?? CATCHUP_WINDOW_DEFAULT_S}`.as("catchup_window"),
      paused: sql<number>`${fields.paused ? 1 : 0}`.as("paused"),
      userId: sql<string>`${sub}`.as("user_id"),
      firesAfter: sql<string>`${nowText}`.as("fires_after"),
      nextFireAt: sql<string | null>`${iso(next)}`.as("next_fire_at"),
      version: sql<number>`1`.as("version"),
      createdAt: sql<string>`${nowText}`.as("created_at"),
      updatedAt: sql<string>`${nowText}`.as("updated_at"),
    })
    .from(workflows)
    .where(eq(workflows.id, body.workflowID));
  const [created] = await db.insert(schedules).select(row).returning();
  if (!created) throw unknownWorkflow(body.workflowID);
  await rearm(env, created.id);
  return presentSchedule(created, [], now);
}

export async function getSchedule(env: Env, id: number): Promise<ScheduleView> {
  const db = getDb(env);
  const [found, runs] = await db.batch([db.select().from(schedules).where(eq(schedules.id, id)), lastRunsQuery(db, id)]);
  if (!found[0]) throw notFound(`Schedule ${id}`);
  return presentSchedule(found[0], runs.map(presentLastRun));
}

export async function listSchedules(env: Env, query: { workflowID?: number }, page: { offset: number; perPage: number }) {
  const db = getDb(env);
  const cond = query.workflowID === undefined ? undefined : eq(schedules.workflowId, query.workflowID);
  const [rows, total] = await db.batch([
    db.select().from(schedules).where(cond).orderBy(asc(schedules.id)).limit(page.perPage).offset(page.offset),
    db.select({ n: count() }).from(schedules).where(cond),
  ]);
  // Each schedule's last runs through the (schedule_id, id) index, all in one round trip.
  const runs = rows.length
    ? await db.batch(rows.map((r) => lastRunsQuery(db, r.id)) as [ReturnType<typeof lastRunsQuery>, ...ReturnType<typeof lastRunsQuery>[]])
    : [];
  const now = Date.now();
  return { count: total[0]?.n ?? 0, schedules: rows.map((r, i) => presentSchedule(r, runs[i].map(presentLastRun), now)) };
}

// ---------------------------------------------------------------- update, delete

const TIMING_FIELDS = ["cron", "timezone", "startAt", "endAt"] as const;

/**
 * A partial update: the fields sent change, the rest stay. A change of timing (cron, timezone,
 * startAt, endAt) or a resume counts fire times from now: none before it is caught up. The write is
 * conditional on the row's version (read, merged, written: a concurrent edit makes it read again).
 */
export async function updateSchedule(env: Env, id: number, body: UpdateInput): Promise<ScheduleView> {
  const db = getDb(env);
  for (let attempt = 0; attempt < 3; attempt++) {
    const row = await getRow(db, id);
    const now = Date.now();
    const startAt = body.startAt !== undefined ? body.startAt : windowOf(row).startAt;
    const endAt = body.endAt !== undefined ? body.endAt : windowOf(row).endAt;
    checkWindow(startAt, endAt);
    const merged = {
      workflowId: body.workflowID ?? row.workflowId,
      cron: body.cron ?? row.cron,
      timezone: body.timezone ?? row.timezone,
      parameters: body.parameters ?? row.parameters,
      startAt: iso(startAt),
      endAt: iso(endAt),
      overlap: body.overlap ?? row.overlap,
      catchupWindow: body.catchupWindow ?? row.catchupWindow,
      paused: body.paused ?? row.paused,
    };
    const timingChanged = TIMING_FIELDS.some((k) => merged[k] !== row[k]);
    const same = (Object.keys(merged) as Array<keyof typeof merged>).every((k) => JSON.stringify(merged[k]) === JSON.stringify(row[k]));
    if (same) return getSchedule(env, id); // nothing to change: no write, updatedAt kept
    const resumed = row.paused && !merged.paused;
    const firesAfter = timingChanged || resumed ? iso(now)! : row.firesAfter;
    // Unchanged timing keeps the clock's own next_fire_at: a fire time due but not yet handled stays visible to the sweep.
    const nextFireAt = timingChanged || merged.paused !== row.paused ? iso(nextFireOf({ ...merged, firesAfter }, now)) : row.nextFireAt;
    const updated = await db
      .update(schedules)
      .set({ ...merged, firesAfter, nextFireAt, version: sql`${schedules.version} + 1`, updatedAt: nowIso() })
      .where(
        and(eq(schedules.id, id), eq(schedules.version, row.version), sql`exists (select 1 from ${workflows} where ${workflows.id} = ${merged.workflowId})`),
      )
      .returning()
      .get();
    if (updated) {
      await rearm(env, id);
      return getSchedule(env, id);
    }
    const again = await findSchedule(db, id);
    if (!again) throw notFound(`Schedule ${id}`);
    if (again.version === row.version) throw unknownWorkflow(merged.workflowId);
  }
  throw conflict(`Schedule ${id} is being changed by another request; retry`, undefined, "schedule_busy");
}

/**
 * Deletes the row (the truth: the schedule is gone), then tells its DO to drop its alarm and
 * storage. Should that call fail, the DO's next alarm finds no row and cleans up after itself.
 * Jobs it started keep running and keep their scheduleID.
 */
export async function deleteSchedule(env: Env, id: number) {
  const deleted = await getDb(env).delete(schedules).where(eq(schedules.id, id)).returning({ id: schedules.id }).all();
  if (!deleted.length) throw notFound(`Schedule ${id}`);
  try {
    await scheduleStub(env, String(id)).remove();
  } catch (err) {
    console.error(JSON.stringify({ level: "error", msg: "schedule DO cleanup failed; its next alarm cleans up", scheduleID: String(id), error: String(err) }));
  }
}

// ---------------------------------------------------------------- trigger, backfill, log

function unwrapRun<T>(result: ScheduleResult<T>, id: number): T {
  if (result.ok) return result.value;
  if (result.code === "not_found") throw notFound(`Schedule ${id}`);
  throw new ApiError(result.code, result.message);
}

/** Starts one job now (fire time = now), obeying the overlap policy (or the one given). */
export async function triggerSchedule(env: Env, id: number, overlap: OverlapPolicy | undefined): Promise<Run> {
  await getRow(getDb(env), id);
  return unwrapRun(await scheduleStub(env, String(id)).trigger(String(id), overlap ?? null), id);
}

/** The jobs of every fire time in [from, to], oldest first, obeying the overlap policy (or the one given). */
export async function backfillSchedule(env: Env, id: number, body: BackfillInput): Promise<Run[]> {
  const row = await getRow(getDb(env), id);
  const from = body.from as number;
  const to = body.to as number;
  const now = Date.now();
  if (to < from) throw badRequest("Invalid backfill: to is before from", [{ path: "to", message: `must not be before from (${iso(from)})` }]);
  if (to > now)
    throw badRequest("Invalid backfill: to is in the future", [
      { path: "to", message: `must not be after now (${iso(now)}); the schedule starts future fire times itself` },
    ]);
  const times = fireTimesBetween(specOf(row), from, to, BACKFILL_MAX_FIRES + 1);
  if (times.length > BACKFILL_MAX_FIRES) {
    throw badRequest(
      `Invalid backfill: the range holds more than ${BACKFILL_MAX_FIRES} fire times`,
      [
        {
          path: "to",
          message: `the range holds more than ${BACKFILL_MAX_FIRES} fire times (the ${BACKFILL_MAX_FIRES + 1}st is ${iso(times[BACKFILL_MAX_FIRES])}); split it`,
        },
      ],
      "backfill_too_large",
    );
  }
  if (!times.length) return [];
  return unwrapRun(await scheduleStub(env, String(id)).backfill(String(id), times, body.overlap ?? null), id);
}

export async function scheduleLog(
  env: Env,
  id: number,
  query: { offset: number; limit: number; after: number },
): Promise<{ count: number; logs: ScheduleLogLine[] }> {
  await getRow(getDb(env), id);
  // `data` is JSON (unknown), which the RPC stub's types cannot express.
  return (await scheduleStub(env, String(id)).logs(query)) as { count: number; logs: ScheduleLogLine[] };
}

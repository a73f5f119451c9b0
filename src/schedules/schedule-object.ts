// One Durable Object per schedule (addressed by idFromName(scheduleID)): the schedule's clock.
//
// Who holds what:
//   - the D1 `schedules` row is the truth of the definition (cron, zone, window, overlap, paused,
//     parameters): every wake reads it, so an edit needs no copy here to be kept in step;
//   - this DO holds the progress of the clock: `cursor` (every fire time at or before it has been
//     handled), the run `buffer_one` holds back, its alarm, and the schedule's log;
//   - the job of a fire time is identified by (schedule, fire time), a unique key of the D1 `jobs`
//     table (jobs/service.ts `startScheduledJob`): whatever runs twice — a duplicated alarm, the
//     sweep racing the alarm, a wake run again after a restart — finds the job already there.
//
// A wake (alarm, sweep visit, re-arm after an edit) handles every fire time due since the cursor,
// oldest first: within the catch-up window it starts its job (or skips, buffers, cancels the other,
// as the overlap policy says), older ones are recorded as missed in one line. It then writes
// `next_fire_at` back to the row (for the sweep) and points the alarm at the next fire time.
// Wakes, triggers and backfills run one at a time (`serial`).
import { DurableObject } from "cloudflare:workers";
import { getDb } from "../db/client";
import { jobs, schedules } from "../db/schema";
import { ApiError } from "../http/errors";
import { and, desc, eq, inArray } from "drizzle-orm";
import { MAX_ALARM_MS, MIN_ALARM_MS } from "../jobs/limits";
import { iso } from "../jobs/model";
import { jobStub } from "../jobs/queue";
import { startScheduledJob } from "../jobs/service";
import { ACTIVE_JOB_STATUSES } from "../jobs/states";
import { fireTimesAfter, nextFireAfter } from "./cron";
import { ACTIVE_JOBS_CHECKED, ALARM_EARLY_SLACK_MS, BUFFER_POLL_MS, FIRES_PER_WAKE, MISSED_COUNT_CAP, WAKE_RETRY_MS } from "./limits";
import { specOf, windowOf, type OverlapPolicy, type Run, type RunAction, type ScheduleLogLine, type ScheduleResult, type ScheduleRow } from "./model";
import { ScheduleStore, type ClockState, type LogLevel } from "./schedule-store";
import { findSchedule } from "./service";

/** What started a fire: the clock (alarm or sweep), a buffered run, `trigger` or `backfill`. */
type Via = "clock" | "buffer" | "trigger" | "backfill";

const gone = (): ScheduleResult<never> => ({ ok: false, code: "not_found", message: "Schedule not found" });

export class ScheduleObject extends DurableObject<Env> {
  private readonly store: ScheduleStore;
  /** The tail of the queue of wakes, triggers and backfills: each waits for the one before. */
  private chain: Promise<unknown> = Promise.resolve();
  private waking = false;
  /** A job ended while a wake was running: look again at once (a buffered run may start). */
  private wakeAgain = false;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.store = new ScheduleStore(ctx.storage.sql);
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** The clock, made on the first call for this schedule (its cursor starts at the row's firesAfter). */
  private adopt(scheduleID: string): ClockState {
    const known = this.store.load();
    if (known) return known;
    const fresh: ClockState = { scheduleID, cursor: null, buffered: null, alarmAt: null };
    this.store.save(fresh);
    return fresh;
  }

  private log(level: LogLevel, message: string, data: Record<string, unknown>) {
    this.store.log(level, message, data, Date.now());
    if (level !== "info") {
      const line = JSON.stringify({ level, msg: message, ...data });
      if (level === "error") console.error(line);
      else console.warn(line);
    }
  }

  // ---------------------------------------------------------------- entry points (RPC)

  /** After a create or an edit: look at the row now and point the alarm. */
  async arm(scheduleID: string): Promise<void> {
    await this.serial(() => {
      this.adopt(scheduleID);
      return this.wake(Date.now());
    });
  }

  /** The cron sweep found the row's next_fire_at overdue: the alarm was lost (or never set). */
  async sweep(scheduleID: string, nowMs: number): Promise<void> {
    await this.serial(() => {
      this.adopt(scheduleID);
      return this.wake(Math.max(Date.now(), nowMs));
    });
  }

  /**
   * The moment the alarm was set for has come. An alarm a hair early still counts its own fire time
   * as due; anything more is the clock's word, not the alarm's (a duplicated or retried invocation
   * never fires a later time early).
   */
  async alarm() {
    const clock = this.store.load();
    if (!clock) return;
    const now = Date.now();
    const setFor = clock.alarmAt;
    const early = setFor !== null && setFor > now && setFor - now <= ALARM_EARLY_SLACK_MS;
    await this.serial(() => this.wake(early ? setFor : Date.now()));
  }

  /**
   * A job this schedule started has ended (told by the job's DO). Only a buffered run waits for
   * that: the alarm is pointed at now. Never waits for the queue of wakes (the job's DO may be
   * answering a cancel this schedule's wake is waiting for).
   */
  async jobEnded(_jobID: string): Promise<void> {
    const clock = this.store.load();
    if (!clock || clock.buffered === null) return;
    if (this.waking) {
      this.wakeAgain = true;
      return;
    }
    await this.pointAlarm(clock, Date.now());
  }

  /** `POST /schedule/{id}/trigger`: one job now, under the overlap policy (or the one given). */
  async trigger(scheduleID: string, overlap: OverlapPolicy | null): Promise<ScheduleResult<Run>> {
    return this.serial(async () => {
      const row = await findSchedule(getDb(this.env), Number(scheduleID));
      if (!row) return gone(); // nothing stored for a schedule that is not there
      const clock = this.adopt(scheduleID);
      const run = await this.fire(row, clock, Date.now(), overlap ?? (row.overlap as OverlapPolicy), "trigger");
      await this.keepPolling(clock);
      return { ok: true as const, value: run };
    });
  }

  /** `POST /schedule/{id}/backfill`: the given fire times (already counted and bounded), oldest first. */
  async backfill(scheduleID: string, times: number[], overlap: OverlapPolicy | null): Promise<ScheduleResult<Run[]>> {
    return this.serial(async () => {
      const row = await findSchedule(getDb(this.env), Number(scheduleID));
      if (!row) return gone();
      const clock = this.adopt(scheduleID);
      const runs: Run[] = [];
      for (const t of [...times].sort((a, b) => a - b)) runs.push(await this.fire(row, clock, t, overlap ?? (row.overlap as OverlapPolicy), "backfill"));
      await this.keepPolling(clock);
      return { ok: true as const, value: runs };
    });
  }

  /** The schedule was deleted: no alarm, no storage. */
  async remove(): Promise<void> {
    await this.serial(() => this.clear());
  }

  async logs(query: { offset: number; limit: number; after: number }): Promise<{ count: number; logs: ScheduleLogLine[] }> {
    return this.store.readLogs(query);
  }

  // ---------------------------------------------------------------- the wake

  private async wake(now: number): Promise<void> {
    const clock = this.store.load();
    if (!clock) return;
    this.waking = true;
    this.wakeAgain = false;
    try {
      const row = await findSchedule(getDb(this.env), Number(clock.scheduleID));
      if (!row) return await this.clear(); // deleted: the row is the truth
      await this.handleDue(row, clock, now);
    } catch (err) {
      // D1 or a job's DO unreachable: the cursor stops before the fire time at fault; try again soon.
      this.log("error", `wake failed, trying again in ${WAKE_RETRY_MS / 1000} s: ${String(err)}`, { scheduleID: clock.scheduleID });
      await this.pointAlarm(clock, Date.now() + WAKE_RETRY_MS);
    } finally {
      this.waking = false;
    }
  }

  private async handleDue(row: ScheduleRow, clock: ClockState, now: number) {
    const spec = specOf(row);
    const window = windowOf(row);
    let cursor = Math.max(clock.cursor ?? -Infinity, Date.parse(row.firesAfter));
    const setCursor = (t: number) => {
      cursor = t;
      clock.cursor = t;
      this.store.save(clock);
    };
    if (row.paused) {
      if (clock.buffered !== null) {
        this.log("info", `buffered run for ${iso(clock.buffered)} dropped: the schedule is paused`, { scheduledFor: iso(clock.buffered), action: "skipped" });
        clock.buffered = null;
      }
      setCursor(Math.max(cursor, now));
      await this.writeNextFire(row, null);
      return this.pointAlarm(clock, null);
    }

    if (clock.buffered !== null) await this.startBuffered(row, clock);

    let fired = 0;
    let more = false;
    // Each turn starts a fire time or records every missed one at once: bounded by FIRES_PER_WAKE.
    for (let turn = 0; turn <= 2 * FIRES_PER_WAKE + 1; turn++) {
      const t = nextFireAfter(spec, cursor, window);
      if (t === null || t > now) break;
      if (fired >= FIRES_PER_WAKE) {
        more = true; // the rest in the next wake, at once
        break;
      }
      const edge = now - row.catchupWindow * 1000;
      if (t < edge) {
        this.recordMissed(row, cursor, edge);
        setCursor(edge);
        continue;
      }
      await this.fire(row, clock, t, row.overlap as OverlapPolicy, "clock");
      setCursor(t);
      fired += 1;
    }

    const next = nextFireAfter(spec, cursor, window);
    await this.writeNextFire(row, next);
    const times = [more || this.wakeAgain ? now : null, next, clock.buffered !== null ? now + BUFFER_POLL_MS : null].filter((t): t is number => t !== null);
    await this.pointAlarm(clock, times.length ? Math.min(...times) : null);
  }

  /** Every fire time in (cursor, edge] is older than the catch-up window: one line says how many. */
  private recordMissed(row: ScheduleRow, cursor: number, edge: number) {
    const window = windowOf(row);
    const missed = fireTimesAfter(
      specOf(row),
      cursor,
      { startAt: window.startAt, endAt: window.endAt === null ? edge : Math.min(edge, window.endAt) },
      MISSED_COUNT_CAP,
    );
    if (!missed.length) return;
    const n = missed.length >= MISSED_COUNT_CAP ? `${MISSED_COUNT_CAP} or more` : String(missed.length);
    this.log(
      "warn",
      `missed ${n} fire time${missed.length === 1 ? "" : "s"} from ${iso(missed[0])} to ${iso(missed[missed.length - 1])}: older than the catch-up window (${row.catchupWindow} s) when the schedule woke`,
      {
        scheduleID: String(row.id),
        action: "missed",
        count: missed.length,
        countCapped: missed.length >= MISSED_COUNT_CAP,
        first: iso(missed[0]),
        last: iso(missed[missed.length - 1]),
      },
    );
  }

  /** The buffered run starts once no job of the schedule is queued or running. */
  private async startBuffered(row: ScheduleRow, clock: ClockState) {
    const t = clock.buffered!;
    const around = await this.jobsAround(row.id, t);
    if (around.existing === null && around.active.length) return; // still waiting
    await this.start(row, t, "buffer");
    clock.buffered = null;
    this.store.save(clock);
  }

  // ---------------------------------------------------------------- one fire time

  /** What the fire time `t` does under `overlap`; the job it starts is the only one for (schedule, t). */
  private async fire(row: ScheduleRow, clock: ClockState, t: number, overlap: OverlapPolicy, via: Via): Promise<Run> {
    if (overlap !== "allow_all") {
      const { existing, active } = await this.jobsAround(row.id, t);
      // The time has its job (an earlier wake made it, and may have died before its DO got it):
      // `start` answers that job, finishing it if need be, and never makes a second.
      if (existing !== null) return this.start(row, t, via);
      if (active.length) {
        const others = active.map((id) => `job ${id}`).join(", ");
        if (overlap === "skip") return this.run(row, t, "skipped", null, `${others} still queued or running (overlap skip)`, via);
        if (overlap === "buffer_one") {
          if (clock.buffered !== null && clock.buffered !== t) {
            return this.run(
              row,
              t,
              "skipped",
              null,
              `${others} still queued or running and the run for ${iso(clock.buffered)} already waits (overlap buffer_one)`,
              via,
            );
          }
          clock.buffered = t;
          this.store.save(clock);
          return this.run(row, t, "buffered", null, `waits for ${others} to end (overlap buffer_one)`, via);
        }
        for (const id of active) {
          const result = await jobStub(this.env, String(id)).cancel();
          if (result.ok)
            this.log("info", `job ${id} cancelled for the fire time ${iso(t)} (overlap cancel_other)`, { scheduledFor: iso(t), jobID: String(id), via });
        }
      }
    }
    return this.start(row, t, via);
  }

  private async start(row: ScheduleRow, t: number, via: Via): Promise<Run> {
    try {
      const { job, created } = await startScheduledJob(this.env, {
        workflowID: row.workflowId,
        parameters: row.parameters ?? {},
        userID: row.userId,
        origin: { scheduleID: String(row.id), scheduledFor: t },
      });
      return this.run(row, t, created ? "started" : "existing", job.jobID, null, via);
    } catch (err) {
      if (err instanceof ApiError && err.code === "unknown_workflow") {
        return this.run(row, t, "failed", null, `workflow ${row.workflowId} no longer exists`, via);
      }
      throw err;
    }
  }

  /** Logs what became of a fire time and answers it. */
  private run(row: ScheduleRow, t: number, action: RunAction, jobID: string | null, reason: string | null, via: Via): Run {
    const at = iso(t)!;
    const what: Record<RunAction, string> = {
      started: `started job ${jobID}`,
      existing: `already has job ${jobID}`,
      skipped: `skipped: ${reason}`,
      buffered: `buffered: ${reason}`,
      failed: `failed: ${reason}`,
    };
    const level: LogLevel = action === "failed" ? "error" : action === "skipped" ? "warn" : "info";
    this.log(level, `fire time ${at} (${via}) ${what[action]}`, { scheduleID: String(row.id), scheduledFor: at, action, jobID, via });
    return { scheduledFor: at, action, jobID, reason };
  }

  /**
   * The job that already holds fire time `t`, if any, and the schedule's other queued or running
   * jobs (newest first, at most ACTIVE_JOBS_CHECKED), as their own DOs report them: the D1 mirror
   * finds the candidates, the job's DO (the truth) says whether it is still active.
   */
  private async jobsAround(scheduleId: number, t: number): Promise<{ existing: number | null; active: number[] }> {
    const db = getDb(this.env);
    const id = { id: jobs.id };
    // Both through indexes: (schedule_id, scheduled_for) unique, and (schedule_id, status, id).
    const [holder, candidates] = await db.batch([
      db
        .select(id)
        .from(jobs)
        .where(and(eq(jobs.scheduleId, scheduleId), eq(jobs.scheduledFor, iso(t)!))),
      db
        .select(id)
        .from(jobs)
        .where(and(eq(jobs.scheduleId, scheduleId), inArray(jobs.status, ACTIVE_JOB_STATUSES)))
        .orderBy(desc(jobs.id))
        .limit(ACTIVE_JOBS_CHECKED + 1),
    ]);
    const existing = holder[0]?.id ?? null;
    const others = candidates.filter((r) => r.id !== existing).slice(0, ACTIVE_JOBS_CHECKED);
    const views = await Promise.all(others.map((r) => jobStub(this.env, String(r.id)).get()));
    const active = others.filter((_, i) => views[i] !== null && ACTIVE_JOB_STATUSES.includes(views[i]!.status)).map((r) => r.id);
    return { existing, active };
  }

  // ---------------------------------------------------------------- row, alarm, removal

  /** `next_fire_at` for the sweep, written only for the version of the row this wake read (an edit since wins). */
  private async writeNextFire(row: ScheduleRow, next: number | null) {
    const text = iso(next);
    if (text === row.nextFireAt) return;
    await getDb(this.env)
      .update(schedules)
      .set({ nextFireAt: text })
      .where(and(eq(schedules.id, row.id), eq(schedules.version, row.version)));
  }

  /** After a trigger or backfill left a run buffered: make sure the alarm looks for its turn. */
  private async keepPolling(clock: ClockState) {
    if (clock.buffered === null) return;
    const poll = Date.now() + BUFFER_POLL_MS;
    if (clock.alarmAt === null || clock.alarmAt > poll) await this.pointAlarm(clock, poll);
  }

  /** Sets the alarm, then records it (a failure leaves the record at the older, earlier time). */
  private async pointAlarm(clock: ClockState, at: number | null) {
    const clamped = at === null ? null : Math.min(Math.max(at, MIN_ALARM_MS), MAX_ALARM_MS);
    if (clamped === null) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(clamped);
    clock.alarmAt = clamped;
    this.store.save(clock);
  }

  private async clear() {
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
    this.store.forget();
  }
}

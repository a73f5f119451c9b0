// One Durable Object per job (addressed by idFromName(jobID)): the source of truth for the job's
// state and its append-only log, and the engine that runs its tasks.
//
// Storage (the DO's own SQLite): `state` (one row, the job as JSON), `log` (seq 1, 2, 3, ...) and
// `results` (task results for later templates). Every decision is made in a synchronous
// transaction (transactionSync), so concurrent requests are serialised and a refused request
// changes nothing; side effects (queue sends, the D1 mirror, the alarm) follow the transaction.
//
// Engine: the DO hands out one attempt at a time, each with a fresh attempt ID. `http` and
// `content.*` attempts go to the TASKS queue; the consumer claims the attempt (claimAttempt: only
// the current, unclaimed attempt can be claimed, exactly once), runs it, and reports back
// (reportAttempt: only the current, claimed attempt is accepted). `log` and `fail` run inline here
// (no external effect; their outcome is written in the same transaction as their end). `delay`
// and retry waits are alarm times. One alarm is always set for the earliest thing the job waits
// for (start, attempt watchdog, delay end, retry, workflow timeout, mirror repair), so lost queue
// messages and dead Workers are recovered from.
//
// The pieces: job-state.ts (the stored state and the job's JSON), job-store.ts (the SQLite tables
// and the log), job-engine.ts (every synchronous move of the engine), job-mirror.ts (the D1 row).
// This file is the Durable Object itself: the RPC methods, the alarm, and driving the engine.
import { DurableObject } from "cloudflare:workers";
import { runAttempt } from "./attempt";
import { JobEngine, REPORT_GRACE_MS, type StepAction } from "./job-engine";
import { MIRROR_RETRY_MS, syncMirror } from "./job-mirror";
import { bump, jobView, newJobState, type JobState } from "./job-state";
import { JobStore } from "./job-store";
import {
  iso,
  type AttemptReport,
  type ClaimedAttempt,
  type CreateInput,
  type DoResult,
  type JobView,
  type LogLine,
  type Refusal,
  type UpdateInput,
} from "./model";
import { canTransition, isFinal, TRANSITIONS, type JobStatus } from "./states";

export { HEARTBEAT_TIMEOUT_MS } from "./job-engine";
export { LOG_LINE_MAX_BYTES } from "./job-store";
export type { JobState } from "./job-state";

/**
 * setAlarm() refuses times <= 0 and (despite its message, "after 2189") past 2262. The API refuses
 * a startAt from 2100 on, but whatever the state holds, the alarm is clamped into this range: a
 * past time fires at once, a time beyond the range wakes the job early and the alarm is set again.
 */
const MIN_ALARM_MS = 1;
const MAX_ALARM_MS = Date.UTC(2189, 0, 1);

function refuse<T>(status: Refusal["status"], code: string, message: string, details?: Refusal["details"]): DoResult<T> {
  return { ok: false, refusal: { status, code, message, ...(details ? { details } : {}) } };
}

export class JobObject extends DurableObject<Env> {
  private readonly store: JobStore;
  private readonly engine: JobEngine;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.store = new JobStore(ctx.storage.sql);
    this.engine = new JobEngine(this.store);
  }

  // ---------------------------------------------------------------- storage

  private load(): JobState | null {
    return this.store.load();
  }

  private save(s: JobState) {
    this.store.save(s);
  }

  private tx<T>(fn: () => T): T {
    try {
      return this.ctx.storage.transactionSync(fn);
    } catch (err) {
      // A rolled-back create takes its tables with it: ask SQLite again rather than trust the cache.
      this.store.forgetTables();
      throw err;
    }
  }

  // ---------------------------------------------------------------- API (called by the routes)

  /** Creates the job once; a repeat (same jobID) answers the existing job. */
  async create(input: CreateInput): Promise<{ job: JobView; created: boolean }> {
    const now = Date.now();
    const result = this.tx(() => {
      this.store.ensureSchema();
      const existing = this.load();
      if (existing) return { job: jobView(existing), created: false };
      const s = newJobState(input, now);
      const startNote = s.startAt > now ? `; starts at ${iso(s.startAt)}` : "";
      this.store.log(now, "info", null, `job created from workflow ${s.workflowID} '${s.snapshot.name}' (${s.snapshot.tasks.length} tasks)${startNote}`, {
        parameters: s.parameters,
      });
      this.save(s);
      return { job: jobView(s), created: true };
    });
    await this.settle();
    return result;
  }

  async get(): Promise<JobView | null> {
    const s = this.load();
    return s ? jobView(s) : null;
  }

  async logs(query: { offset: number; limit: number; after: number }): Promise<{ count: number; logs: LogLine[] } | null> {
    if (!this.load()) return null;
    return this.store.readLogs(query);
  }

  /** `POST /job/{jobID}`: all checks first, then every change in one transaction. */
  async update(input: UpdateInput): Promise<DoResult<JobView>> {
    const now = Date.now();
    const result = this.tx((): DoResult<JobView> => {
      const s = this.load();
      if (!s) return refuse(404, "not_found", `Job not found`);
      const changed = (["workflowID", "startAt", "parameters"] as const).filter((k) => input[k] !== undefined);
      if (changed.length && s.status !== "queued") {
        return refuse(409, "job_not_queued", `${changed.join(", ")} can change only while the job is queued; it is ${s.status}`, changed.map((path) => ({ path, message: `the job is ${s.status}` })));
      }
      if (input.status !== undefined && !canTransition(s.status, input.status)) return this.refuseTransition(s.status, input.status);
      if (changed.length) {
        if (input.workflowID !== undefined && input.snapshot) {
          s.workflowID = input.workflowID;
          s.snapshot = input.snapshot;
          s.progress = { task: null, done: 0, total: input.snapshot.tasks.length };
        }
        if (input.startAt !== undefined) s.startAt = input.startAt;
        if (input.parameters !== undefined) s.parameters = input.parameters;
        bump(s, now);
        this.store.log(now, "info", null, `job updated: ${changed.join(", ")}`, {
          workflowID: s.workflowID,
          startAt: iso(s.startAt),
          parameters: s.parameters,
        });
      }
      if (input.status !== undefined) this.engine.clientTransition(s, input.status, now);
      for (const line of input.log ?? []) this.store.log(now, line.level, null, line.message, line.data);
      this.save(s);
      return { ok: true, value: jobView(s) };
    });
    if (result.ok) await this.settle();
    return result.ok ? { ok: true, value: jobView(this.load()!) } : result;
  }

  /** `DELETE /job/{jobID}`. */
  async cancel(): Promise<DoResult<JobView>> {
    const now = Date.now();
    const result = this.tx((): DoResult<JobView> => {
      const s = this.load();
      if (!s) return refuse(404, "not_found", `Job not found`);
      if (!canTransition(s.status, "cancelled")) return this.refuseTransition(s.status, "cancelled");
      this.engine.clientTransition(s, "cancelled", now);
      this.save(s);
      return { ok: true, value: jobView(s) };
    });
    if (result.ok) await this.settle();
    return result.ok ? { ok: true, value: jobView(this.load()!) } : result;
  }

  private refuseTransition<T>(from: JobStatus, to: JobStatus): DoResult<T> {
    const allowed = TRANSITIONS[from];
    const why = isFinal(from) ? `the job is ${from}, which is final` : `allowed from ${from}: ${allowed.join(", ")}`;
    return refuse(409, "invalid_transition", `A ${from} job cannot become ${to}: ${why}`, [{ path: "status", message: why }]);
  }

  // ---------------------------------------------------------------- engine entry points

  /** Queue consumer: claim an attempt before running it. Only the current, unclaimed attempt can be claimed. */
  async claimAttempt(attemptId: string): Promise<ClaimedAttempt | null> {
    const now = Date.now();
    const claimed = this.tx((): ClaimedAttempt | null => {
      const s = this.load();
      const a = s?.attempt;
      if (!s || !a || a.id !== attemptId || a.mode !== "queue" || a.claimedAt !== null) return null;
      if (this.engine.pastDeadline(s, now)) return null; // the next step times the job out
      const task = this.engine.taskOf(s, a);
      a.claimedAt = now;
      a.deadline = now + task.timeout * 1000 + REPORT_GRACE_MS;
      a.beatAt = null;
      this.store.log(now, "info", task.name, `attempt ${a.number} of task '${task.name}' (${task.kind}) started`, { attempt: a.number, attemptId: a.id, kind: task.kind });
      this.save(s);
      return { jobID: s.jobID, attemptId: a.id, number: a.number, task, scope: this.store.scope(s), deadline: now + task.timeout * 1000 };
    });
    if (claimed) await this.settle();
    else await this.drive();
    return claimed;
  }

  /**
   * Queue consumer: is this attempt still the one the job waits for? (false: abort it). Each call
   * is also the attempt's heartbeat: the watchdog calls a claimed attempt lost once it has gone
   * HEARTBEAT_TIMEOUT_MS without one (after its first), instead of waiting for its timeout.
   */
  async attemptAlive(attemptId: string): Promise<boolean> {
    const now = Date.now();
    const { alive, first } = this.tx(() => {
      const s = this.load();
      const a = s?.attempt;
      if (!s || !a || a.id !== attemptId || a.mode !== "queue" || a.claimedAt === null || this.engine.pastDeadline(s, now)) return { alive: false, first: false };
      const first = a.beatAt == null;
      a.beatAt = Math.max(now, a.beatAt ?? 0);
      this.save(s);
      return { alive: true, first };
    });
    // The first heartbeat brings the watchdog forward (later ones only push it back: the alarm,
    // when it fires, finds the attempt not due and is set again).
    if (first) await this.settle();
    return alive;
  }

  /** Queue consumer: the outcome of a claimed attempt. Reports for any other attempt are ignored. */
  async reportAttempt(attemptId: string, report: AttemptReport): Promise<boolean> {
    const accepted = this.tx(() => this.engine.applyReport(attemptId, report, Date.now()));
    await this.drive();
    return accepted;
  }

  /** Cron sweep: start a missed start, time out an overdue job, repair the mirror. Idempotent. */
  async sweep(nowMs: number): Promise<JobView | null> {
    if (!this.load()) return null;
    await this.drive(nowMs);
    const s = this.load();
    return s ? jobView(s) : null;
  }

  async alarm() {
    const s = this.load();
    if (!s) return;
    // The alarm fires at or after the time it was set for: that moment has come.
    const floor = s.alarmAt ?? 0;
    s.alarmAt = null;
    this.save(s);
    await this.drive(floor);
  }

  /** For tests and debugging: the raw state and the alarm. */
  async inspect(): Promise<{ state: JobState | null; alarm: number | null }> {
    return { state: this.load(), alarm: await this.ctx.storage.getAlarm() };
  }

  // ---------------------------------------------------------------- engine

  /** Advances the job as far as it can go now, then sets the alarm and writes the mirror. */
  private async drive(floor = 0) {
    const now = () => Math.max(Date.now(), floor);
    for (let guard = 0; guard < 10_000; guard++) {
      const action: StepAction = this.tx(() => this.engine.step(now()));
      if (!action) break;
      if (action.type === "send") {
        try {
          await this.env.TASKS.send(action.message);
        } catch (err) {
          // The attempt stays unclaimed; the watchdog alarm sends it again.
          console.error(JSON.stringify({ level: "error", msg: "queue send failed", jobID: action.message.jobID, error: String(err) }));
        }
        break;
      }
      if (action.type === "inline") {
        const report = await runAttempt(this.env, action.claimed);
        if (report) this.tx(() => this.engine.applyReport(action.claimed.attemptId, report, now()));
      }
    }
    await this.settle();
  }

  // ---------------------------------------------------------------- alarm and mirror

  /** Writes the mirror if it is behind, then points the alarm at the next thing the job waits for. */
  private async settle() {
    const before = this.load();
    if (!before) return;
    if (before.mirrored < before.version) {
      // The alarm is pointed before the mirror write too, counting the write as one to retry: if
      // this DO dies while the write is in flight, the alarm still wakes it (to go on, and to write
      // the mirror). Otherwise nothing would: the sweep only sees what the mirror says.
      if (before.mirrorRetryAt === null) {
        before.mirrorRetryAt = Date.now() + MIRROR_RETRY_MS[0];
        this.save(before);
      }
      await this.pointAlarm();
      await this.syncMirror();
    }
    await this.pointAlarm();
  }

  private async pointAlarm() {
    const s = this.load();
    if (!s) return;
    const wake = this.engine.wakeAt(s);
    if (wake === null) {
      if (s.alarmAt !== null) {
        s.alarmAt = null;
        this.save(s);
      }
      await this.ctx.storage.deleteAlarm();
      return;
    }
    const at = Math.min(Math.max(wake, MIN_ALARM_MS), MAX_ALARM_MS);
    s.alarmAt = at;
    this.save(s);
    await this.ctx.storage.setAlarm(at);
  }

  private syncMirror() {
    return syncMirror(this.env, this.store);
  }
}

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
import { DurableObject } from "cloudflare:workers";
import type { TaskDefinition, TemplateScope, WorkflowSnapshot } from "../workflows/tasks";
import { runAttempt } from "./attempt";
import {
  iso,
  type AttemptMessage,
  type AttemptReport,
  type ClaimedAttempt,
  type CreateInput,
  type DoResult,
  type JobView,
  type LogLevel,
  type LogLine,
  type Progress,
  type Refusal,
  type UpdateInput,
} from "./model";
import { canTransition, isFinal, TRANSITIONS, type JobStatus } from "./states";

/** Kinds run inside the DO: no effect outside the job, so running them here is trivially exactly-once. */
const INLINE_KINDS = new Set(["log", "fail"]);
/** A queued attempt not claimed within this (doubling per miss, up to 5 min) is sent again. */
const CLAIM_TIMEOUT_MS = 15_000;
const MAX_CLAIM_TIMEOUT_MS = 300_000;
/** Slack after an attempt's own timeout before the watchdog calls it lost. */
const REPORT_GRACE_MS = 5_000;
/**
 * Heartbeat: a running queue attempt asks `attemptAlive` every second (ALIVE_POLL_MS in queue.ts),
 * first right when it starts. Once it has, going this long without a call means its Worker is gone:
 * the watchdog calls the attempt lost without waiting for its timeout.
 */
export const HEARTBEAT_TIMEOUT_MS = 5_000;
/** Lost claimed attempts (worker died) re-run without using the task's retries, this many times. */
const MAX_LOST = 3;
/** Each log line (message + data as JSON) is capped at 16 KiB. */
export const LOG_LINE_MAX_BYTES = 16 * 1024;
const MIRROR_RETRY_MS = [2_000, 10_000, 30_000, 60_000, 300_000];
/**
 * setAlarm() refuses times <= 0 and (despite its message, "after 2189") past 2262. The API refuses
 * a startAt from 2100 on, but whatever the state holds, the alarm is clamped into this range: a
 * past time fires at once, a time beyond the range wakes the job early and the alarm is set again.
 */
const MIN_ALARM_MS = 1;
const MAX_ALARM_MS = Date.UTC(2189, 0, 1);

type Phase = "main" | "onError";

type Attempt = {
  id: string;
  phase: Phase;
  index: number;
  number: number;
  mode: "queue" | "inline" | "delay";
  dispatchedAt: number;
  claimedAt: number | null;
  /** Watchdog: unclaimed → claim timeout; claimed → task timeout + grace; delay → its end. */
  deadline: number;
  /** The last heartbeat (attemptAlive) of a claimed queue attempt; null/absent before the first. */
  beatAt?: number | null;
};

export type JobState = {
  jobID: string;
  workflowID: string;
  /** The token subject that created the job. */
  userID: string | null;
  status: JobStatus;
  startAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  /** Workflow timeout of a running job (startedAt + timeout). */
  deadline: number | null;
  parameters: Record<string, string>;
  snapshot: WorkflowSnapshot;
  progress: Progress;
  error: string | null;
  createdAt: number;
  updatedAt: number;
  /** Bumped on every change of the job's JSON; stamps D1 mirror writes. */
  version: number;
  /** Highest version known to be in the D1 mirror. */
  mirrored: number;
  mirrorRetryAt: number | null;
  mirrorFailures: number;
  // engine
  phase: Phase | null;
  index: number;
  attempts: number;
  failures: number;
  lost: number;
  unclaimed: number;
  attempt: Attempt | null;
  waitUntil: number | null;
  onErrorDeadline: number | null;
  /** The time the alarm is set for (so the alarm handler knows which moment it stands for). */
  alarmAt: number | null;
};

type StepAction = { type: "again" } | { type: "send"; message: AttemptMessage } | { type: "inline"; claimed: ClaimedAttempt } | null;

const AGAIN = { type: "again" } as const;

function refuse<T>(status: Refusal["status"], code: string, message: string, details?: Refusal["details"]): DoResult<T> {
  return { ok: false, refusal: { status, code, message, ...(details ? { details } : {}) } };
}

const byteLength = (text: string) => new TextEncoder().encode(text).byteLength;

export class JobObject extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  /** True once this DO holds a job (its tables exist). */
  private ready = false;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
  }

  // ---------------------------------------------------------------- storage

  /**
   * Tables are made only when a job is created, so addressing an unknown jobID (a 404) leaves
   * no storage behind: the `state` row doubles as the "this job exists" flag.
   */
  private ensureSchema() {
    this.sql.exec("CREATE TABLE IF NOT EXISTS state (id INTEGER PRIMARY KEY CHECK (id = 1), data TEXT NOT NULL)");
    this.sql.exec(
      "CREATE TABLE IF NOT EXISTS log (seq INTEGER PRIMARY KEY, time INTEGER NOT NULL, level TEXT NOT NULL, task TEXT, message TEXT NOT NULL, data TEXT)",
    );
    this.sql.exec(
      "CREATE TABLE IF NOT EXISTS results (phase TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (phase, name))",
    );
    this.ready = true;
  }

  private hasTables() {
    if (!this.ready) this.ready = this.sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'state'").toArray().length > 0;
    return this.ready;
  }

  private load(): JobState | null {
    if (!this.hasTables()) return null;
    const row = this.sql.exec<{ data: string }>("SELECT data FROM state WHERE id = 1").toArray()[0];
    return row ? (JSON.parse(row.data) as JobState) : null;
  }

  private save(s: JobState) {
    this.sql.exec("INSERT INTO state (id, data) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET data = excluded.data", JSON.stringify(s));
  }

  private tx<T>(fn: () => T): T {
    return this.ctx.storage.transactionSync(fn);
  }

  /** Appends one log line; seq is max+1 inside the DO's single-threaded transaction: unique, gap-free. */
  private log(now: number, level: LogLevel, task: string | null, message: string, data?: unknown) {
    let text = message;
    let json = data === undefined ? null : JSON.stringify(data) ?? null;
    if (byteLength(text) + (json ? byteLength(json) : 0) > LOG_LINE_MAX_BYTES) {
      // Engine-written lines are cut to fit (lines from the API are refused instead, before this).
      if (json && byteLength(json) > LOG_LINE_MAX_BYTES / 2) json = JSON.stringify({ truncated: true, bytes: byteLength(json) });
      while (byteLength(text) + (json ? byteLength(json) : 0) > LOG_LINE_MAX_BYTES) text = text.slice(0, Math.floor(text.length * 0.9));
    }
    this.sql.exec(
      "INSERT INTO log (seq, time, level, task, message, data) VALUES ((SELECT IFNULL(MAX(seq), 0) + 1 FROM log), ?, ?, ?, ?, ?)",
      now,
      level,
      task,
      text,
      json,
    );
  }

  private bump(s: JobState, now: number) {
    s.version += 1;
    s.updatedAt = Math.max(now, s.updatedAt);
  }

  private view(s: JobState): JobView {
    return {
      jobID: s.jobID,
      workflowID: s.workflowID,
      status: s.status,
      startAt: iso(s.startAt)!,
      startedAt: iso(s.startedAt),
      finishedAt: iso(s.finishedAt),
      parameters: s.parameters,
      progress: s.progress,
      error: s.error,
      createdAt: iso(s.createdAt)!,
      updatedAt: iso(s.updatedAt)!,
    };
  }

  private scope(s: JobState): TemplateScope {
    const rows = this.sql.exec<{ phase: string; name: string; value: string }>("SELECT phase, name, value FROM results").toArray();
    const main: Record<string, unknown> = {};
    const onError: Record<string, unknown> = {};
    for (const r of rows) (r.phase === "main" ? main : onError)[r.name] = JSON.parse(r.value);
    const job = s.userID ? { jobID: s.jobID, userID: s.userID } : { jobID: s.jobID };
    return { params: s.parameters, job, tasks: s.phase === "onError" ? { ...onError, ...main } : main };
  }

  // ---------------------------------------------------------------- API (called by the routes)

  /** Creates the job once; a repeat (same jobID) answers the existing job. */
  async create(input: CreateInput): Promise<{ job: JobView; created: boolean }> {
    const now = Date.now();
    const result = this.tx(() => {
      this.ensureSchema();
      const existing = this.load();
      if (existing) return { job: this.view(existing), created: false };
      const s: JobState = {
        jobID: input.jobID,
        workflowID: input.workflowID,
        userID: input.userID ?? null,
        status: "queued",
        startAt: input.startAt ?? now,
        startedAt: null,
        finishedAt: null,
        deadline: null,
        parameters: input.parameters,
        snapshot: input.snapshot,
        progress: { task: null, done: 0, total: input.snapshot.tasks.length },
        error: null,
        createdAt: input.createdAt,
        updatedAt: now,
        version: 1,
        mirrored: 0,
        mirrorRetryAt: null,
        mirrorFailures: 0,
        phase: null,
        index: 0,
        attempts: 0,
        failures: 0,
        lost: 0,
        unclaimed: 0,
        attempt: null,
        waitUntil: null,
        onErrorDeadline: null,
        alarmAt: null,
      };
      const startNote = s.startAt > now ? `; starts at ${iso(s.startAt)}` : "";
      this.log(now, "info", null, `job created from workflow ${s.workflowID} '${s.snapshot.name}' (${s.snapshot.tasks.length} tasks)${startNote}`, {
        parameters: s.parameters,
      });
      this.save(s);
      return { job: this.view(s), created: true };
    });
    await this.settle();
    return result;
  }

  async get(): Promise<JobView | null> {
    const s = this.load();
    return s ? this.view(s) : null;
  }

  async logs(query: { offset: number; limit: number; after: number }): Promise<{ count: number; logs: LogLine[] } | null> {
    if (!this.load()) return null;
    const count = this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM log WHERE seq > ?", query.after).one().n;
    const rows = this.sql
      .exec<{ seq: number; time: number; level: LogLevel; task: string | null; message: string; data: string | null }>(
        "SELECT seq, time, level, task, message, data FROM log WHERE seq > ? ORDER BY seq LIMIT ? OFFSET ?",
        query.after,
        query.limit,
        query.offset,
      )
      .toArray();
    return {
      count,
      logs: rows.map((r) => ({
        seq: r.seq,
        time: iso(r.time)!,
        level: r.level,
        task: r.task,
        message: r.message,
        data: r.data === null ? null : JSON.parse(r.data),
      })),
    };
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
        this.bump(s, now);
        this.log(now, "info", null, `job updated: ${changed.join(", ")}`, {
          workflowID: s.workflowID,
          startAt: iso(s.startAt),
          parameters: s.parameters,
        });
      }
      if (input.status !== undefined) this.clientTransition(s, input.status, now);
      for (const line of input.log ?? []) this.log(now, line.level, null, line.message, line.data);
      this.save(s);
      return { ok: true, value: this.view(s) };
    });
    if (result.ok) await this.settle();
    return result.ok ? { ok: true, value: this.view(this.load()!) } : result;
  }

  /** `DELETE /job/{jobID}`. */
  async cancel(): Promise<DoResult<JobView>> {
    const now = Date.now();
    const result = this.tx((): DoResult<JobView> => {
      const s = this.load();
      if (!s) return refuse(404, "not_found", `Job not found`);
      if (!canTransition(s.status, "cancelled")) return this.refuseTransition(s.status, "cancelled");
      this.clientTransition(s, "cancelled", now);
      this.save(s);
      return { ok: true, value: this.view(s) };
    });
    if (result.ok) await this.settle();
    return result.ok ? { ok: true, value: this.view(this.load()!) } : result;
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
      if (this.pastDeadline(s, now)) return null; // the next step times the job out
      const task = this.taskOf(s, a);
      a.claimedAt = now;
      a.deadline = now + task.timeout * 1000 + REPORT_GRACE_MS;
      a.beatAt = null;
      this.log(now, "info", task.name, `attempt ${a.number} of task '${task.name}' (${task.kind}) started`, { attempt: a.number, attemptId: a.id, kind: task.kind });
      this.save(s);
      return { jobID: s.jobID, attemptId: a.id, number: a.number, task, scope: this.scope(s), deadline: now + task.timeout * 1000 };
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
      if (!s || !a || a.id !== attemptId || a.mode !== "queue" || a.claimedAt === null || this.pastDeadline(s, now)) return { alive: false, first: false };
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
    const accepted = this.tx(() => this.applyReport(attemptId, report, Date.now()));
    await this.drive();
    return accepted;
  }

  /** Cron sweep: start a missed start, time out an overdue job, repair the mirror. Idempotent. */
  async sweep(nowMs: number): Promise<JobView | null> {
    if (!this.load()) return null;
    await this.drive(nowMs);
    const s = this.load();
    return s ? this.view(s) : null;
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
      const action: StepAction = this.tx(() => this.step(now()));
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
        if (report) this.tx(() => this.applyReport(action.claimed.attemptId, report, now()));
      }
    }
    await this.settle();
  }

  /** When the watchdog acts on an attempt: its deadline, or for a heartbeating claimed queue attempt its heartbeat lapse. */
  private attemptDue(a: Attempt) {
    if (a.mode === "queue" && a.claimedAt !== null && a.beatAt != null) return Math.min(a.deadline, a.beatAt + HEARTBEAT_TIMEOUT_MS);
    return a.deadline;
  }

  private pastDeadline(s: JobState, now: number) {
    return (s.status === "running" && s.deadline !== null && now >= s.deadline) ||
      (s.phase === "onError" && s.onErrorDeadline !== null && now >= s.onErrorDeadline);
  }

  private list(s: JobState, phase: Phase): TaskDefinition[] {
    return phase === "main" ? s.snapshot.tasks : s.snapshot.onError;
  }

  private taskOf(s: JobState, a: Attempt): TaskDefinition {
    return this.list(s, a.phase)[a.index];
  }

  /** One synchronous move of the engine (inside a transaction). */
  private step(now: number): StepAction {
    const s = this.load();
    if (!s) return null;
    if (s.status === "queued") {
      if (now < s.startAt) return null;
      this.setStatus(s, "running", now);
      this.log(now, "info", null, "job started", { startAt: iso(s.startAt), timeout: s.snapshot.timeout });
      this.save(s);
      return AGAIN;
    }
    if (s.status === "running" && s.deadline !== null && now >= s.deadline) {
      this.timeOut(s, now);
      this.save(s);
      return null;
    }
    if (s.phase === "onError" && s.onErrorDeadline !== null && now >= s.onErrorDeadline) {
      this.abandonAttempt(s, now, "past the workflow timeout");
      this.log(now, "error", null, `onError tasks stopped: past the workflow timeout (${s.snapshot.timeout} s)`);
      this.stopEngine(s);
      this.save(s);
      return null;
    }
    if (!s.phase) return null;

    const a = s.attempt;
    if (a) {
      if (now < this.attemptDue(a)) return null;
      const task = this.taskOf(s, a);
      if (a.mode === "delay") {
        this.succeed(s, { ok: true, durationMs: now - a.dispatchedAt }, now);
      } else if (a.claimedAt === null) {
        s.unclaimed += 1;
        s.attempt = null;
        this.log(now, "warn", task.name, `attempt ${a.number} of task '${task.name}' was not picked up from the queue in time; sending it again`, {
          attempt: a.number,
        });
      } else {
        s.lost += 1;
        s.attempt = null;
        const silent = a.beatAt != null && now < a.deadline;
        const message = silent
          ? `attempt ${a.number} of task '${task.name}' sent no heartbeat for ${HEARTBEAT_TIMEOUT_MS / 1000} s; the worker running it was lost`
          : `attempt ${a.number} of task '${task.name}' sent no report within its timeout (${task.timeout} s); the worker running it was lost`;
        if (s.lost > MAX_LOST) {
          this.fail(s, a, task, { ok: false, durationMs: now - (a.claimedAt ?? now), message: `no report from the worker (${s.lost} attempts lost)` }, now);
        } else {
          this.log(now, "warn", task.name, `${message}; running it again`, { attempt: a.number, outcome: "lost" });
        }
      }
      this.save(s);
      return AGAIN;
    }

    if (s.waitUntil !== null) {
      if (now < s.waitUntil) return null;
      s.waitUntil = null;
    }
    const list = this.list(s, s.phase);
    if (s.index >= list.length) {
      if (s.phase === "main") {
        s.progress = { task: null, done: list.length, total: list.length };
        this.setStatus(s, "ok", now);
        this.log(now, "info", null, `job finished ok in ${now - (s.startedAt ?? now)} ms`);
      } else {
        this.log(now, "info", null, "onError tasks finished");
      }
      this.stopEngine(s);
      this.save(s);
      return null;
    }
    const action = this.dispatch(s, list[s.index], now);
    this.save(s);
    return action;
  }

  private dispatch(s: JobState, task: TaskDefinition, now: number): StepAction {
    const phase = s.phase!;
    s.attempts += 1;
    const base = { id: crypto.randomUUID(), phase, index: s.index, number: s.attempts, dispatchedAt: now };
    if (phase === "main" && s.progress.task !== task.name) {
      s.progress = { ...s.progress, task: task.name };
      this.bump(s, now);
    }
    if (task.kind === "delay") {
      const seconds = Math.max(0, Number(task.options.seconds) || 0);
      s.attempt = { ...base, mode: "delay", claimedAt: now, deadline: now + seconds * 1000 };
      this.log(now, "info", task.name, `attempt ${base.number} of task '${task.name}' (delay) started: waiting ${seconds} s`, {
        attempt: base.number,
        kind: "delay",
        until: iso(now + seconds * 1000),
      });
      return AGAIN;
    }
    if (INLINE_KINDS.has(task.kind)) {
      s.attempt = { ...base, mode: "inline", claimedAt: now, deadline: now + task.timeout * 1000 + REPORT_GRACE_MS };
      this.log(now, "info", task.name, `attempt ${base.number} of task '${task.name}' (${task.kind}) started`, { attempt: base.number, attemptId: base.id, kind: task.kind });
      return {
        type: "inline",
        claimed: { jobID: s.jobID, attemptId: base.id, number: base.number, task, scope: this.scope(s), deadline: now + task.timeout * 1000 },
      };
    }
    const wait = Math.min(CLAIM_TIMEOUT_MS * 2 ** s.unclaimed, MAX_CLAIM_TIMEOUT_MS);
    s.attempt = { ...base, mode: "queue", claimedAt: null, deadline: now + wait };
    return { type: "send", message: { jobID: s.jobID, attemptId: base.id } };
  }

  /** Records a report for the current claimed attempt; false (nothing written) for any other. */
  private applyReport(attemptId: string, report: AttemptReport, now: number): boolean {
    const s = this.load();
    const a = s?.attempt;
    if (!s || !a || a.id !== attemptId || a.claimedAt === null || a.mode === "delay") return false;
    if (this.pastDeadline(s, now)) return false; // the next step ends the job; the result is discarded
    if (report.ok) this.succeed(s, report, now);
    else this.fail(s, a, this.taskOf(s, a), report, now);
    this.save(s);
    return true;
  }

  private succeed(s: JobState, report: Extract<AttemptReport, { ok: true }>, now: number) {
    const a = s.attempt!;
    const task = this.taskOf(s, a);
    if (report.result !== undefined) {
      this.sql.exec(
        "INSERT INTO results (phase, name, value) VALUES (?, ?, ?) ON CONFLICT (phase, name) DO UPDATE SET value = excluded.value",
        a.phase,
        task.name,
        JSON.stringify(report.result),
      );
    }
    for (const line of report.logs ?? []) this.log(now, line.level, task.name, line.message, line.data);
    const what = a.mode === "delay" ? `ended after ${Math.round(report.durationMs / 1000)} s` : `succeeded in ${report.durationMs} ms`;
    this.log(now, "info", task.name, `attempt ${a.number} of task '${task.name}' ${what}`, {
      attempt: a.number,
      kind: task.kind,
      outcome: "ok",
      durationMs: report.durationMs,
    });
    this.nextTask(s);
    if (a.phase === "main") {
      s.progress = { ...s.progress, done: s.progress.done + 1 };
      this.bump(s, now);
    }
  }

  private fail(s: JobState, a: Attempt, task: TaskDefinition, report: Extract<AttemptReport, { ok: false }>, now: number) {
    s.attempt = null;
    s.failures += 1;
    const data = { attempt: a.number, kind: task.kind, outcome: "failed", durationMs: report.durationMs, error: report.message, details: report.data };
    const head = `attempt ${a.number} of task '${task.name}' failed in ${report.durationMs} ms: ${report.message}`;
    if (s.failures <= task.retries.length) {
      const delay = task.retries[s.failures - 1];
      s.waitUntil = now + delay * 1000;
      this.log(now, "warn", task.name, `${head}; retry ${s.failures} of ${task.retries.length} in ${delay} s`, data);
      return;
    }
    this.log(now, "error", task.name, head, data);
    if (a.phase === "onError") {
      this.nextTask(s); // onError failures are logged; the remaining onError tasks still run
      return;
    }
    s.error = `task '${task.name}' failed: ${report.message}`;
    this.setStatus(s, "error", now);
    this.log(now, "error", null, `job failed: ${s.error}`);
    this.stopEngine(s);
    if (s.snapshot.onError.length) {
      s.phase = "onError";
      s.onErrorDeadline = now + s.snapshot.timeout * 1000;
      this.log(now, "info", null, `running ${s.snapshot.onError.length} onError tasks`);
    }
  }

  private nextTask(s: JobState) {
    s.attempt = null;
    s.index += 1;
    s.attempts = 0;
    s.failures = 0;
    s.lost = 0;
    s.unclaimed = 0;
    s.waitUntil = null;
  }

  private stopEngine(s: JobState) {
    s.phase = null;
    s.index = 0;
    s.attempt = null;
    s.attempts = 0;
    s.failures = 0;
    s.lost = 0;
    s.unclaimed = 0;
    s.waitUntil = null;
    s.onErrorDeadline = null;
  }

  private abandonAttempt(s: JobState, now: number, why: string) {
    const a = s.attempt;
    if (!a) return;
    const task = this.taskOf(s, a);
    const what = a.mode === "delay" ? "delay ended early" : "abandoned; any late result is discarded";
    this.log(now, "warn", task.name, `attempt ${a.number} of task '${task.name}' ${what} (${why})`, { attempt: a.number, outcome: "abandoned" });
  }

  private timeOut(s: JobState, now: number) {
    this.abandonAttempt(s, now, "workflow timeout");
    s.error = `workflow timed out after ${s.snapshot.timeout} s`;
    this.setStatus(s, "error", now);
    this.log(now, "error", null, `job failed: ${s.error}`);
    this.stopEngine(s);
  }

  /** A transition asked for through the API (already checked against the table). */
  private clientTransition(s: JobState, to: JobStatus, now: number) {
    if (to === "running") {
      this.setStatus(s, "running", now);
      this.log(now, "info", null, "job started by a client", { startAt: iso(s.startAt), timeout: s.snapshot.timeout });
      return;
    }
    this.abandonAttempt(s, now, to === "cancelled" ? "job cancelled" : `status set to ${to}`);
    if (to === "error") s.error = "status set to error by a client";
    this.setStatus(s, to, now);
    this.log(now, to === "error" ? "error" : "info", null, to === "cancelled" ? "job cancelled" : `status set to ${to} by a client; no further task runs`);
    this.stopEngine(s);
  }

  /** Every status change goes through here, against the transition table. */
  private setStatus(s: JobState, to: JobStatus, now: number) {
    if (!canTransition(s.status, to)) throw new Error(`bug: transition ${s.status} → ${to}`);
    s.status = to;
    if (to === "running") {
      s.startedAt = now;
      s.deadline = now + s.snapshot.timeout * 1000;
      s.phase = "main";
      s.index = 0;
      s.progress = { task: s.snapshot.tasks[0]?.name ?? null, done: 0, total: s.snapshot.tasks.length };
    }
    if (isFinal(to)) {
      s.finishedAt = now;
      s.deadline = null;
    }
    // progress.task is null once the job is ok (a client may set ok while a task still runs).
    if (to === "ok" && s.progress.task !== null) s.progress = { ...s.progress, task: null };
    this.bump(s, now);
  }

  // ---------------------------------------------------------------- alarm and mirror

  private wakeAt(s: JobState): number | null {
    const times: number[] = [];
    if (s.status === "queued") times.push(s.startAt);
    if (s.status === "running" && s.deadline !== null) times.push(s.deadline);
    if (s.phase) {
      if (s.attempt) times.push(this.attemptDue(s.attempt));
      if (s.waitUntil !== null) times.push(s.waitUntil);
      if (!s.attempt && s.waitUntil === null) times.push(Date.now()); // something to dispatch: now
      if (s.phase === "onError" && s.onErrorDeadline !== null) times.push(s.onErrorDeadline);
    }
    if (s.mirrored < s.version && s.mirrorRetryAt !== null) times.push(s.mirrorRetryAt);
    return times.length ? Math.min(...times) : null;
  }

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
    const wake = this.wakeAt(s);
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

  /**
   * D1 mirror: one write of the whole row, stamped with the version and guarded by
   * `version < ?`, so an older write never overwrites a newer one. A failure leaves `mirrored`
   * behind `version`: the next change writes the whole row again, and an alarm retries sooner.
   */
  private async syncMirror() {
    const s = this.load();
    if (!s || s.mirrored >= s.version) return;
    const v = s.version;
    try {
      // An upsert, not a plain UPDATE: should the row be gone (deleted as an orphan while this DO was
      // making its job), an UPDATE would change nothing and still count as written, and the job
      // would never be listed again. The DO holds the job, so its row belongs in the mirror.
      await this.env.DB.prepare(
        `INSERT INTO jobs (id, workflow_id, status, start_at, started_at, finished_at, deadline_at,
           parameters, progress, error, version, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET workflow_id = excluded.workflow_id, status = excluded.status,
           start_at = excluded.start_at, started_at = excluded.started_at, finished_at = excluded.finished_at,
           deadline_at = excluded.deadline_at, parameters = excluded.parameters, progress = excluded.progress,
           error = excluded.error, version = excluded.version, created_at = excluded.created_at, updated_at = excluded.updated_at
         WHERE jobs.version < excluded.version`,
      )
        .bind(
          Number(s.jobID),
          Number(s.workflowID),
          s.status,
          iso(s.startAt),
          iso(s.startedAt),
          iso(s.finishedAt),
          iso(s.deadline),
          JSON.stringify(s.parameters),
          JSON.stringify(s.progress),
          s.error,
          v,
          iso(s.createdAt),
          iso(s.updatedAt),
        )
        .run();
      const after = this.load()!;
      if (after.mirrored < v) {
        after.mirrored = v;
        after.mirrorFailures = 0;
        after.mirrorRetryAt = null;
        this.save(after);
      }
    } catch (err) {
      const after = this.load()!;
      after.mirrorFailures += 1;
      after.mirrorRetryAt = Date.now() + MIRROR_RETRY_MS[Math.min(after.mirrorFailures, MIRROR_RETRY_MS.length) - 1];
      this.save(after);
      console.error(JSON.stringify({ level: "error", msg: "job mirror write failed", jobID: s.jobID, version: v, error: String(err) }));
    }
  }
}

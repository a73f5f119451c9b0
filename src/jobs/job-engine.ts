// The engine: every synchronous move of a job (start, dispatch, report, retry, watchdog, timeout,
// client transitions), made inside the DO's transactions. It hands out one attempt at a time, each
// with a fresh attempt ID; what it cannot do synchronously (a queue send, an inline run) it returns
// as a StepAction for JobObject.drive. Every status change goes through setStatus, against the
// table in states.ts.
import type { TaskDefinition } from "../workflows/tasks";
import { iso, type AttemptMessage, type AttemptReport, type ClaimedAttempt, type LogLevel } from "./model";
import { bump, type Attempt, type JobState, type Phase } from "./job-state";
import type { JobStore } from "./job-store";
import { canTransition, isFinal, type JobStatus } from "./states";

/** Kinds run inside the DO: no effect outside the job, so running them here is trivially exactly-once. */
const INLINE_KINDS = new Set(["log", "fail"]);
/** A queued attempt not claimed within this (doubling per miss, up to 5 min) is sent again. */
const CLAIM_TIMEOUT_MS = 15_000;
const MAX_CLAIM_TIMEOUT_MS = 300_000;
/** Slack after an attempt's own timeout before the watchdog calls it lost. */
export const REPORT_GRACE_MS = 5_000;
/**
 * Heartbeat: a running queue attempt asks `attemptAlive` every second (ALIVE_POLL_MS in queue.ts),
 * first right when it starts. Once it has, going this long without a call means its Worker is gone:
 * the watchdog calls the attempt lost without waiting for its timeout.
 */
export const HEARTBEAT_TIMEOUT_MS = 5_000;
/** Lost claimed attempts (worker died) re-run without using the task's retries, this many times. */
const MAX_LOST = 3;

export type StepAction = { type: "again" } | { type: "send"; message: AttemptMessage } | { type: "inline"; claimed: ClaimedAttempt } | null;

const AGAIN = { type: "again" } as const;

export class JobEngine {
  constructor(private readonly store: JobStore) {}

  private load() {
    return this.store.load();
  }

  private save(s: JobState) {
    this.store.save(s);
  }

  private log(now: number, level: LogLevel, task: string | null, message: string, data?: unknown) {
    this.store.log(now, level, task, message, data);
  }

  /** When the watchdog acts on an attempt: its deadline, or for a heartbeating claimed queue attempt its heartbeat lapse. */
  private attemptDue(a: Attempt) {
    if (a.mode === "queue" && a.claimedAt !== null && a.beatAt != null) return Math.min(a.deadline, a.beatAt + HEARTBEAT_TIMEOUT_MS);
    return a.deadline;
  }

  pastDeadline(s: JobState, now: number) {
    return (s.status === "running" && s.deadline !== null && now >= s.deadline) ||
      (s.phase === "onError" && s.onErrorDeadline !== null && now >= s.onErrorDeadline);
  }

  private list(s: JobState, phase: Phase): TaskDefinition[] {
    return phase === "main" ? s.snapshot.tasks : s.snapshot.onError;
  }

  taskOf(s: JobState, a: Attempt): TaskDefinition {
    return this.list(s, a.phase)[a.index];
  }

  /** One synchronous move of the engine (inside a transaction). */
  step(now: number): StepAction {
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
      bump(s, now);
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
        claimed: { jobID: s.jobID, attemptId: base.id, number: base.number, task, scope: this.store.scope(s), deadline: now + task.timeout * 1000 },
      };
    }
    const wait = Math.min(CLAIM_TIMEOUT_MS * 2 ** s.unclaimed, MAX_CLAIM_TIMEOUT_MS);
    s.attempt = { ...base, mode: "queue", claimedAt: null, deadline: now + wait };
    return { type: "send", message: { jobID: s.jobID, attemptId: base.id } };
  }

  /** Records a report for the current claimed attempt; false (nothing written) for any other. */
  applyReport(attemptId: string, report: AttemptReport, now: number): boolean {
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
    if (report.result !== undefined) this.store.putResult(a.phase, task.name, report.result);
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
      bump(s, now);
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
  clientTransition(s: JobState, to: JobStatus, now: number) {
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
    bump(s, now);
  }

  wakeAt(s: JobState): number | null {
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
}

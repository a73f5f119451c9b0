// The engine's decisions: pure functions of (job, event, now) that answer the new job and what to
// do about it (log lines and results to write, queue messages to send, an attempt to run or
// abort). They never touch storage or the network: job-object-base.ts loads the job, calls one of these,
// saves the outcome in one transaction and then carries out the effects. How the engine behaves is
// described once, in docs/jobs.md.
import type { TaskDefinition } from "./tasks";
import type { ImportState } from "./import-job";
import { bump, jobView, startProgress, tasksOf, type Attempt, type Job, type JobState, type Phase } from "./job-state";
import {
  CLAIM_TIMEOUT_MS,
  LOG_LINE_MAX_BYTES,
  LOG_MAX_BYTES,
  LOG_MAX_LINES,
  LOG_TRUNCATION_RESERVE_BYTES,
  MAX_CLAIM_TIMEOUT_MS,
  MAX_LOST,
  REPORT_GRACE_MS,
  RUN_WATCH_MS,
} from "./limits";
import { iso, type AttemptMessage, type AttemptReport, type JobView, type LogInput, type LogLevel, type Refusal, type UpdateInput } from "./model";
import { canTransition, isFinal, TRANSITIONS, type JobStatus } from "./states";

/** Kinds run inside the DO's transaction-bounded steps: no effect outside the job. */
const INLINE_KINDS = new Set(["log", "fail"]);

/** A log line ready to insert (seq assigned: the log's count after it). */
type NewLogLine = { seq: number; time: number; level: LogLevel; task: string | null; message: string; data: string | null };

/** An attempt for the DO to run now. */
export type RunOrder = {
  attemptId: string;
  number: number;
  phase: Phase;
  index: number;
  task: TaskDefinition;
  /** ms since the epoch: abort at this time (the task's timeout, or the workflow's, whichever first). */
  deadline: number;
};

export type Effect = { type: "send"; message: AttemptMessage } | { type: "run"; run: RunOrder } | { type: "abort"; attemptId: string; reason: string };

export type Decision<T> = {
  /** The job after the decision (null: there is no job). */
  job: Job | null;
  /** Whether the definition (snapshot, parameters) changed and must be written. */
  definitionChanged: boolean;
  /** Whether anything at all changed (state, log, results). */
  changed: boolean;
  logs: NewLogLine[];
  results: Array<{ phase: Phase; name: string; value: string }>;
  effects: Effect[];
  value: T;
};

/**
 * What a tick may do besides deciding: the DO instance it runs in, whether it may start runs at all
 * (only in the alarm), and whether it may start an `http`/`content.*` run (at most one per alarm
 * invocation, within its wall time; `log` and `fail` runs take microseconds and are not counted).
 */
type TickContext = { now: number; instance: string; canRun: boolean; canRunQueued: boolean };

// ---------------------------------------------------------------- the draft a decision works on

class Draft {
  readonly job: Job;
  readonly logs: NewLogLine[] = [];
  readonly results: Decision<unknown>["results"] = [];
  readonly effects: Effect[] = [];
  definitionChanged = false;
  changed = false;

  constructor(
    job: Job,
    readonly now: number,
  ) {
    // The definition is shared, never changed in place (updateJob replaces it): only the hot state is copied.
    this.job = { state: structuredClone(job.state), definition: job.definition };
  }

  get s(): JobState {
    return this.job.state;
  }

  done<T>(value: T): Decision<T> {
    return {
      job: this.job,
      definitionChanged: this.definitionChanged,
      changed: this.changed || this.logs.length > 0 || this.results.length > 0 || this.definitionChanged,
      logs: this.logs,
      results: this.results,
      effects: this.effects,
      value,
    };
  }

  /** An engine line: cut to fit the line cap; past the log's cap dropped, after one line saying so. */
  log(level: LogLevel, task: string | null, message: string, data?: unknown) {
    this.changed = true;
    const tally = this.s.log;
    if (tally.truncated) return;
    const line = fitLine(message, data);
    if (tally.lines + 1 > LOG_MAX_LINES - 1 || tally.bytes + line.bytes > LOG_MAX_BYTES - LOG_TRUNCATION_RESERVE_BYTES) {
      tally.truncated = true;
      const note = fitLine(
        `log truncated: the job's log is full (at most ${LOG_MAX_LINES} lines and ${LOG_MAX_BYTES} bytes); the engine's later lines are dropped`,
      );
      this.push("warn", null, note);
      return;
    }
    this.push(level, task, line);
  }

  /** A client's line (already checked to fit: see logRoom). */
  clientLog(line: LogInput) {
    this.changed = true;
    this.push(line.level, null, measure(line.message, line.data === undefined ? null : (JSON.stringify(line.data) ?? null)));
  }

  private push(level: LogLevel, task: string | null, line: MeasuredLine) {
    const tally = this.s.log;
    tally.lines += 1;
    tally.bytes += line.bytes;
    this.logs.push({ seq: tally.lines, time: this.now, level, task, message: line.text, data: line.json });
  }
}

type MeasuredLine = { text: string; json: string | null; bytes: number };

const byteLength = (text: string) => new TextEncoder().encode(text).byteLength;

function measure(text: string, json: string | null): MeasuredLine {
  return { text, json, bytes: byteLength(text) + (json === null ? 0 : byteLength(json)) };
}

/** The line's size as the caps count it: message plus data as JSON. */
function lineBytes(line: LogInput) {
  return measure(line.message, line.data === undefined ? null : (JSON.stringify(line.data) ?? null)).bytes;
}

/** Engine lines are cut to fit LOG_LINE_MAX_BYTES (lines from the API are refused instead). */
function fitLine(message: string, data?: unknown): MeasuredLine {
  let text = message;
  let json = data === undefined ? null : (JSON.stringify(data) ?? null);
  if (measure(text, json).bytes > LOG_LINE_MAX_BYTES) {
    if (json && byteLength(json) > LOG_LINE_MAX_BYTES / 2) json = JSON.stringify({ truncated: true, bytes: byteLength(json) });
    while (measure(text, json).bytes > LOG_LINE_MAX_BYTES) text = text.slice(0, Math.floor(text.length * 0.9));
  }
  return measure(text, json);
}

/** Whether client lines fit in the job's log (the last line's room is kept for the engine). */
function logRoom(s: JobState, lines: LogInput[]): Refusal | null {
  if (lines.length === 0) return null;
  const bytes = lines.reduce((sum, l) => sum + lineBytes(l), 0);
  const { log } = s;
  if (!log.truncated && log.lines + lines.length <= LOG_MAX_LINES - 1 && log.bytes + bytes <= LOG_MAX_BYTES - LOG_TRUNCATION_RESERVE_BYTES) return null;
  const message = `The job's log is full: it holds ${log.lines} lines (${log.bytes} bytes) of at most ${LOG_MAX_LINES} lines and ${LOG_MAX_BYTES} bytes; nothing was appended`;
  return { code: "log_full", message, details: [{ path: "log", message: "the job's log is full" }] };
}

function refusal(code: Refusal["code"], message: string, details?: Refusal["details"]): Refusal {
  return { code, message, ...(details ? { details } : {}) };
}

function transitionRefusal(from: JobStatus, to: JobStatus): Refusal {
  const why = isFinal(from) ? `the job is ${from}, which is final` : `allowed from ${from}: ${TRANSITIONS[from].join(", ")}`;
  return refusal("invalid_transition", `A ${from} job cannot become ${to}: ${why}`, [{ path: "status", message: why }]);
}

const unchanged = <T>(job: Job | null, value: T): Decision<T> => ({
  job,
  definitionChanged: false,
  changed: false,
  logs: [],
  results: [],
  effects: [],
  value,
});

// ---------------------------------------------------------------- API events

/** Creates the job once; a repeat (same jobID) answers the existing job. */
export function createJob(existing: Job | null, created: Job, now: number): Decision<{ job: JobView; created: boolean }> {
  if (existing) return unchanged(existing, { job: jobView(existing), created: false });
  const d = new Draft(created, now);
  d.definitionChanged = true;
  const { snapshot, parameters } = d.job.definition;
  const startNote = d.s.startAt > now ? `; starts at ${iso(d.s.startAt)}` : "";
  const origin = d.job.definition.schedule;
  const trigger = d.job.definition.trigger;
  const byNote = origin
    ? ` by schedule ${origin.scheduleID} for ${iso(origin.scheduledFor)}`
    : trigger
      ? ` by trigger ${trigger.event} of item ${trigger.contentID} in module ${trigger.moduleID} (trigger depth ${trigger.depth})`
      : "";
  const spec = d.job.definition.import;
  if (spec) {
    const keyed = spec.key ? `, key ${spec.key} (onConflict ${spec.onConflict})` : "";
    d.log(
      "info",
      null,
      `import job created: ${spec.rows} rows (${spec.bytes} bytes of ${spec.format}) into module ${spec.moduleID}; mode ${spec.mode}${keyed}${spec.triggers ? "" : ", triggers off"}`,
      {
        columns: Object.fromEntries(spec.columns.map((c, i) => [c, spec.fields[i]])),
      },
    );
  } else
    d.log("info", null, `job created from workflow ${d.s.workflowID} '${snapshot.name}' (${snapshot.tasks.length} tasks)${byNote}${startNote}`, { parameters });
  return d.done({ job: jobView(d.job), created: true });
}

/** `POST /job/{jobID}`: all checks first, then every change (fields, status, log) at once. */
export function updateJob(job: Job, input: UpdateInput, now: number): Decision<Refusal | null> {
  const s = job.state;
  const changed = (["workflowID", "startAt", "parameters"] as const).filter((k) => input[k] !== undefined);
  if (changed.length && job.definition.import) {
    return unchanged(
      job,
      refusal(
        "import_job",
        `${changed.join(", ")} of an import job cannot change`,
        changed.map((path) => ({ path, message: "an import job runs its import" })),
      ),
    );
  }
  if (changed.length && s.status !== "queued") {
    return unchanged(
      job,
      refusal(
        "job_not_queued",
        `${changed.join(", ")} can change only while the job is queued; it is ${s.status}`,
        changed.map((path) => ({ path, message: `the job is ${s.status}` })),
      ),
    );
  }
  if (input.status !== undefined && !canTransition(s.status, input.status)) return unchanged(job, transitionRefusal(s.status, input.status));
  const full = logRoom(s, input.log ?? []);
  if (full) return unchanged(job, full);

  const d = new Draft(job, now);
  if (changed.length) {
    const def = (d.job.definition = { ...d.job.definition });
    if (input.workflowID !== undefined && input.snapshot) {
      d.s.workflowID = input.workflowID;
      def.snapshot = input.snapshot;
      d.s.progress = { task: null, done: 0, total: input.snapshot.tasks.length };
    }
    if (input.startAt !== undefined) d.s.startAt = input.startAt;
    if (input.parameters !== undefined) def.parameters = input.parameters;
    d.definitionChanged = input.snapshot !== undefined || input.parameters !== undefined;
    bump(d.s, now);
    d.log("info", null, `job updated: ${changed.join(", ")}`, { workflowID: d.s.workflowID, startAt: iso(d.s.startAt), parameters: def.parameters });
  }
  if (input.status !== undefined) clientTransition(d, input.status);
  for (const line of input.log ?? []) d.clientLog(line);
  return d.done(null);
}

/**
 * A line about something the job caused outside its own run: a trigger that refused to start a
 * job for a change one of its content.* tasks made (past the trigger depth). An engine line (cut
 * to fit, dropped past the log's cap); the job itself does not change.
 */
export function noteLine(job: Job, level: LogLevel, task: string | null, message: string, data: unknown, now: number): Decision<void> {
  const d = new Draft(job, now);
  d.log(level, task, message, data);
  return d.done(undefined);
}

/** `DELETE /job/{jobID}`. */
export function cancelJob(job: Job, now: number): Decision<Refusal | null> {
  if (!canTransition(job.state.status, "cancelled")) return unchanged(job, transitionRefusal(job.state.status, "cancelled"));
  const d = new Draft(job, now);
  clientTransition(d, "cancelled");
  return d.done(null);
}

/** A transition asked for through the API (already checked against the table). */
function clientTransition(d: Draft, to: JobStatus) {
  if (to === "running") {
    setStatus(d, "running");
    d.log("info", null, "job started by a client", { startAt: iso(d.s.startAt), timeout: d.job.definition.snapshot.timeout });
    return;
  }
  abandonAttempt(d, to === "cancelled" ? "job cancelled" : `status set to ${to}`);
  if (to === "error") d.s.error = "status set to error by a client";
  setStatus(d, to);
  d.log(to === "error" ? "error" : "info", null, to === "cancelled" ? "job cancelled" : `status set to ${to} by a client; no further task runs`);
  stopEngine(d.s);
}

// ---------------------------------------------------------------- attempts

/**
 * The queue consumer delivered an attempt's message. Only the current, unclaimed queue attempt can
 * be claimed, and only once: a duplicate, a redelivery or a stale message claims nothing. The
 * claimed attempt runs at the DO's next alarm (wakeAt answers now).
 */
export function claimAttempt(job: Job, attemptId: string, now: number): Decision<boolean> {
  const a = job.state.attempt;
  if (!a || a.id !== attemptId || a.mode !== "queue" || a.claimedAt !== null || pastDeadline(job.state, now)) return unchanged(job, false);
  const d = new Draft(job, now);
  d.s.attempt!.claimedAt = now;
  d.changed = true;
  return d.done(true);
}

/** The outcome of a run. Only the current attempt's counts; anything else (late, replaced, discarded) is ignored. */
export function endAttempt(job: Job, attemptId: string, report: AttemptReport, now: number): Decision<boolean> {
  const a = job.state.attempt;
  if (!a || a.id !== attemptId || a.running === null || a.mode === "delay") return unchanged(job, false);
  if (pastDeadline(job.state, now)) return unchanged(job, false); // the next tick ends the job; the result is discarded
  const d = new Draft(job, now);
  if (report.ok) succeed(d, report);
  else fail(d, d.s.attempt!, taskOf(d.job, a), report);
  return d.done(true);
}

function pastDeadline(s: JobState, now: number) {
  return (
    (s.status === "running" && s.deadline !== null && now >= s.deadline) || (s.phase === "onError" && s.onErrorDeadline !== null && now >= s.onErrorDeadline)
  );
}

const taskOf = (job: Job, a: Pick<Attempt, "phase" | "index">) => tasksOf(job.definition, a.phase)[a.index];

/** The moment a run must stop: its task's timeout, or the workflow's (or onError's) timeout, whichever first. */
function runDeadline(s: JobState, task: TaskDefinition, now: number) {
  const job = s.phase === "onError" ? s.onErrorDeadline : s.deadline;
  return Math.min(now + task.timeout * 1000, job ?? Infinity);
}

function startRun(d: Draft, a: Attempt, task: TaskDefinition, instance: string) {
  a.running = { since: d.now, instance };
  d.log("info", task.name, `attempt ${a.number} of task '${task.name}' (${task.kind}) started`, { attempt: a.number, attemptId: a.id, kind: task.kind });
  d.effects.push({ type: "run", run: { attemptId: a.id, number: a.number, phase: a.phase, index: a.index, task, deadline: runDeadline(d.s, task, d.now) } });
}

// ---------------------------------------------------------------- the tick

/**
 * Advances the job as far as it can go at `now`: starts it, times it out, ends delays, notices lost
 * and unclaimed attempts, dispatches the next task. Stops at the first thing that needs the outside
 * world (a queue send, a run) or time to pass.
 */
export function tick(job: Job, ctx: TickContext): Decision<void> {
  const d = new Draft(job, ctx.now);
  const before = JSON.stringify(job.state);
  for (let guard = 0; guard < 10_000 && step(d, ctx); guard++);
  if (JSON.stringify(d.s) !== before) d.changed = true;
  return d.done(undefined);
}

/** One move; true when another may follow at once. */
function step(d: Draft, ctx: TickContext): boolean {
  const { s, now } = d;
  const def = d.job.definition;
  if (s.status === "queued") {
    if (now < s.startAt) return false;
    setStatus(d, "running");
    d.log("info", null, "job started", { startAt: iso(s.startAt), timeout: def.snapshot.timeout });
    return true;
  }
  if (s.status === "running" && s.deadline !== null && now >= s.deadline) {
    abandonAttempt(d, "workflow timeout");
    s.error = `workflow timed out after ${def.snapshot.timeout} s`;
    setStatus(d, "error");
    d.log("error", null, `job failed: ${s.error}`);
    stopEngine(s);
    return false;
  }
  if (s.phase === "onError" && s.onErrorDeadline !== null && now >= s.onErrorDeadline) {
    abandonAttempt(d, "past the workflow timeout");
    d.log("error", null, `onError tasks stopped: past the workflow timeout (${def.snapshot.timeout} s)`);
    stopEngine(s);
    return false;
  }
  if (!s.phase) return false;

  const a = s.attempt;
  if (a) {
    const task = taskOf(d.job, a);
    if (a.mode === "delay") {
      if (now < a.deadline) return false;
      succeed(d, { ok: true, durationMs: now - a.dispatchedAt });
      return true;
    }
    if (a.running) {
      if (a.running.instance === ctx.instance) return false; // in flight here: never a second copy
      // A DO has one live instance: the one that ran this attempt is gone, and the run with it.
      s.lost += 1;
      s.attempt = null;
      if (s.lost > MAX_LOST) {
        fail(d, a, task, {
          ok: false,
          durationMs: now - a.running.since,
          message: `the attempt was lost ${s.lost} times (the Durable Object running it was restarted)`,
        });
      } else {
        d.log("warn", task.name, `attempt ${a.number} of task '${task.name}' was lost: the Durable Object instance running it is gone; running it again`, {
          attempt: a.number,
          outcome: "lost",
        });
      }
      return true;
    }
    if (a.claimedAt === null) {
      if (now < a.deadline) return false;
      s.unclaimed += 1;
      s.attempt = null;
      d.log("warn", task.name, `attempt ${a.number} of task '${task.name}' was not picked up from the queue in time; sending it again`, { attempt: a.number });
      return true;
    }
    // Claimed (delivered) and not started: it runs in the DO's alarm.
    if (!ctx.canRunQueued) return false;
    startRun(d, a, task, ctx.instance);
    return false;
  }

  if (s.waitUntil !== null) {
    if (now < s.waitUntil) return false;
    s.waitUntil = null;
  }
  const list = tasksOf(def, s.phase);
  if (s.index >= list.length) {
    if (s.phase === "main") {
      s.progress = d.job.definition.import ? { ...s.progress, task: null } : { task: null, done: list.length, total: list.length };
      setStatus(d, "ok");
      d.log("info", null, `job finished ok in ${now - (s.startedAt ?? now)} ms`);
    } else {
      d.log("info", null, "onError tasks finished");
    }
    stopEngine(s);
    return false;
  }
  const task = list[s.index];
  if (INLINE_KINDS.has(task.kind) && !ctx.canRun) return false; // the alarm (now) runs it
  return dispatch(d, task, ctx);
}

function dispatch(d: Draft, task: TaskDefinition, ctx: TickContext): boolean {
  const { s, now } = d;
  const phase = s.phase!;
  s.attempts += 1;
  const base = { id: crypto.randomUUID(), phase, index: s.index, number: s.attempts, dispatchedAt: now, running: null };
  if (phase === "main" && s.progress.task !== task.name) {
    s.progress = { ...s.progress, task: task.name };
    bump(s, now);
  }
  if (task.kind === "delay") {
    const seconds = Math.max(0, Number(task.options.seconds) || 0);
    s.attempt = { ...base, mode: "delay", claimedAt: now, deadline: now + seconds * 1000 };
    d.log("info", task.name, `attempt ${base.number} of task '${task.name}' (delay) started: waiting ${seconds} s`, {
      attempt: base.number,
      kind: "delay",
      until: iso(now + seconds * 1000),
    });
    return true;
  }
  if (INLINE_KINDS.has(task.kind)) {
    s.attempt = { ...base, mode: "inline", claimedAt: now, deadline: now };
    startRun(d, s.attempt, task, ctx.instance);
    return false;
  }
  const wait = Math.min(CLAIM_TIMEOUT_MS * 2 ** s.unclaimed, MAX_CLAIM_TIMEOUT_MS);
  s.attempt = { ...base, mode: "queue", claimedAt: null, deadline: now + wait };
  d.effects.push({ type: "send", message: { jobID: s.jobID, attemptId: base.id } });
  return false;
}

function succeed(d: Draft, report: Extract<AttemptReport, { ok: true }>) {
  const { s } = d;
  const a = s.attempt!;
  const task = taskOf(d.job, a);
  if (report.result !== undefined) d.results.push({ phase: a.phase, name: task.name, value: JSON.stringify(report.result) });
  for (const line of report.logs ?? []) d.log(line.level, task.name, line.message, line.data);
  const what = a.mode === "delay" ? `ended after ${Math.round(report.durationMs / 1000)} s` : `succeeded in ${report.durationMs} ms`;
  d.log("info", task.name, `attempt ${a.number} of task '${task.name}' ${what}`, {
    attempt: a.number,
    kind: task.kind,
    outcome: "ok",
    durationMs: report.durationMs,
  });
  nextTask(s);
  // An import job's progress counts rows, written by its task as it goes.
  if (a.phase === "main" && !d.job.definition.import) {
    s.progress = { ...s.progress, done: s.progress.done + 1 };
    bump(s, d.now);
  }
}

function fail(d: Draft, a: Attempt, task: TaskDefinition, report: Extract<AttemptReport, { ok: false }>) {
  const { s, now } = d;
  s.attempt = null;
  s.failures += 1;
  const data = { attempt: a.number, kind: task.kind, outcome: "failed", durationMs: report.durationMs, error: report.message, details: report.data };
  const head = `attempt ${a.number} of task '${task.name}' failed in ${report.durationMs} ms: ${report.message}`;
  if (s.failures <= task.retries.length && !report.final) {
    const delay = task.retries[s.failures - 1];
    s.waitUntil = now + delay * 1000;
    d.log("warn", task.name, `${head}; retry ${s.failures} of ${task.retries.length} in ${delay} s`, data);
    return;
  }
  d.log("error", task.name, head, data);
  if (a.phase === "onError") {
    nextTask(s); // onError failures are logged; the remaining onError tasks still run
    return;
  }
  s.error = `task '${task.name}' failed: ${report.message}`;
  setStatus(d, "error");
  d.log("error", null, `job failed: ${s.error}`);
  stopEngine(s);
  const { onError, timeout } = d.job.definition.snapshot;
  if (onError.length) {
    s.phase = "onError";
    s.onErrorDeadline = now + timeout * 1000;
    d.log("info", null, `running ${onError.length} onError tasks`);
  }
}

function nextTask(s: JobState) {
  s.attempt = null;
  s.index += 1;
  s.attempts = 0;
  s.failures = 0;
  s.lost = 0;
  s.unclaimed = 0;
  s.waitUntil = null;
}

function stopEngine(s: JobState) {
  nextTask(s);
  s.phase = null;
  s.index = 0;
  s.onErrorDeadline = null;
}

/** Ends the attempt in flight, if any: logged, and a run in this DO is aborted (its result discarded). */
function abandonAttempt(d: Draft, why: string) {
  const a = d.s.attempt;
  if (!a) return;
  const task = taskOf(d.job, a);
  const what = a.mode === "delay" ? "delay ended early" : "abandoned; any late result is discarded";
  d.log("warn", task.name, `attempt ${a.number} of task '${task.name}' ${what} (${why})`, { attempt: a.number, outcome: "abandoned" });
  if (a.running) d.effects.push({ type: "abort", attemptId: a.id, reason: why });
}

/** Every status change goes through here, against the transition table. */
function setStatus(d: Draft, to: JobStatus) {
  const { s, now } = d;
  if (!canTransition(s.status, to)) throw new Error(`bug: transition ${s.status} → ${to}`);
  const { snapshot } = d.job.definition;
  s.status = to;
  if (to === "running") {
    s.startedAt = now;
    s.deadline = now + snapshot.timeout * 1000;
    s.phase = "main";
    s.index = 0;
    s.progress = startProgress(d.job.definition);
  }
  if (isFinal(to)) {
    s.finishedAt = now;
    s.deadline = null;
  }
  // progress.task is null once the job is ok (a client may set ok while a task still runs).
  if (to === "ok" && s.progress.task !== null) s.progress = { ...s.progress, task: null };
  bump(s, now);
}

// ---------------------------------------------------------------- imports

/** What an import's task records after each batch: where it is, the rows done, and its log lines. */
export type ImportStep = { state: ImportState; done: number; lines: LogInput[] };

/**
 * An import's batch was committed: its state, progress and log lines, written only while the
 * attempt that reports it is still the job's current run in this instance (a run the job stopped
 * waiting for, or one a restarted instance took over, records nothing and stops).
 */
export function importProgress(job: Job, attemptId: string, instance: string, step: ImportStep, now: number): Decision<boolean> {
  const a = job.state.attempt;
  if (job.state.status !== "running" || !a || a.id !== attemptId || a.running?.instance !== instance) return unchanged(job, false);
  const d = new Draft(job, now);
  d.s.import = step.state;
  d.s.progress = { ...d.s.progress, done: step.done };
  bump(d.s, now);
  for (const line of step.lines) d.log(line.level, a.phase === "main" ? taskOf(d.job, a).name : null, line.message, line.data);
  return d.done(true);
}

// ---------------------------------------------------------------- alarm and mirror bookkeeping

/**
 * The earliest moment the job waits for (null: nothing). A run in flight in this instance is
 * watched from `since + timeout + grace` on (its own timer ends it before); one marked by another
 * instance, or a claimed attempt not started yet, is due now.
 */
export function wakeAt(job: Job, now: number, instance: string): number | null {
  const s = job.state;
  const times: number[] = [];
  if (s.status === "queued") times.push(s.startAt);
  if (s.status === "running" && s.deadline !== null) times.push(s.deadline);
  if (s.phase) {
    const a = s.attempt;
    if (a) {
      if (a.mode === "delay" || (a.mode === "queue" && a.claimedAt === null)) times.push(a.deadline);
      else if (!a.running || a.running.instance !== instance) times.push(now);
      // In flight here: look again every RUN_WATCH_MS. While this instance lives such an alarm
      // finds the run in flight and changes nothing; should the instance die, the next one's alarm
      // finds the run lost within RUN_WATCH_MS (a restart does not re-deliver the interrupted alarm).
      else times.push(Math.min(a.running.since + taskOf(job, a).timeout * 1000 + REPORT_GRACE_MS, now + RUN_WATCH_MS));
    } else {
      times.push(s.waitUntil ?? now); // something to dispatch: now
    }
    if (s.phase === "onError" && s.onErrorDeadline !== null) times.push(s.onErrorDeadline);
  }
  if (s.mirrored < s.version && s.mirrorRetryAt !== null) times.push(s.mirrorRetryAt);
  return times.length ? Math.min(...times) : null;
}

/** Records the time the alarm is set for. */
export function alarmSet(job: Job, at: number | null, now: number): Decision<void> {
  if (job.state.alarmAt === at) return unchanged(job, undefined);
  const d = new Draft(job, now);
  d.s.alarmAt = at;
  d.changed = true;
  return d.done(undefined);
}

/**
 * Before a mirror write: counts it as one to retry, so the alarm still wakes a DO that dies while
 * the write is in flight (the sweep only sees what the mirror says).
 */
export function mirrorStarting(job: Job, retryMs: number, now: number): Decision<boolean> {
  const s = job.state;
  if (s.mirrored >= s.version) return unchanged(job, false);
  if (s.mirrorRetryAt !== null) return unchanged(job, true);
  const d = new Draft(job, now);
  d.s.mirrorRetryAt = now + retryMs;
  d.changed = true;
  return d.done(true);
}

export type MirrorOutcome = { ok: true; version: number } | { ok: false; failures: number; retryAt: number };

/** After a mirror write: written up to a version, or failed (and when to retry). */
export function mirrorEnded(job: Job, outcome: MirrorOutcome, now: number): Decision<void> {
  const d = new Draft(job, now);
  const s = d.s;
  if (outcome.ok) {
    s.mirrored = Math.max(s.mirrored, outcome.version);
    s.mirrorFailures = 0;
    s.mirrorRetryAt = null;
  } else {
    s.mirrorFailures = outcome.failures;
    s.mirrorRetryAt = outcome.retryAt;
  }
  d.changed = true;
  return d.done(undefined);
}

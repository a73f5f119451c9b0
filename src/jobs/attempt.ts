// Runs one task attempt (docs/jobs.md) through the function that does its kind's work until it
// ends, its deadline passes, or the job's Durable Object aborts it (cancel, a client's status
// change), and turns whatever happens into a report for the engine. Never throws. Which function
// runs which kind is given to the job's Durable Object where the Worker is put together
// (src/worker/job-object.ts); the engine itself knows none of them.
import { TaskFailure, type TaskDefinition, type TaskIdentity, type TaskOutcome, type TemplateScope } from "./tasks";
import type { AttemptReport } from "./model";

/** Does a task's work: `executeTask` of src/workflows/execute.ts for the workflow kinds. */
type TaskExecutor = (env: Env, task: TaskDefinition, scope: TemplateScope, signal: AbortSignal, identity: TaskIdentity) => Promise<TaskOutcome>;

/**
 * Runs one attempt of a task kind and reports it; null when `cancel` aborted it (its result is
 * discarded). The job's Durable Object holds one per kind it runs (besides `delay`, which the
 * engine waits out itself).
 */
export type Executor = (env: Env, run: AttemptRun, cancel: AbortSignal) => Promise<AttemptReport | null>;

/** The kinds an executor runs: every kind but `delay`. */
export type ExecutedKind = Exclude<TaskDefinition["kind"], "delay">;

/** JSON-safe copy (results land in SQLite as JSON). */
function jsonSafe(value: unknown): unknown {
  if (value === undefined) return undefined;
  try {
    return JSON.parse(JSON.stringify(value));
  } catch {
    return String(value);
  }
}

type AttemptRun = {
  attemptId: string;
  task: TaskDefinition;
  scope: TemplateScope;
  identity: TaskIdentity;
  /** ms since the epoch: the attempt is aborted and fails at this time... */
  deadline: number;
  /** ...with this message ("timed out after 30 s"). */
  timeoutMessage: string;
};

class Discarded extends Error {}

/** The report, or null when `cancel` aborted the attempt (its result is discarded). */
export async function runAttempt(env: Env, run: AttemptRun, cancel: AbortSignal, execute: TaskExecutor): Promise<AttemptReport | null> {
  const started = Date.now();
  const controller = new AbortController();
  let timedOut = false;
  let rejectAborted: (err: Error) => void = () => {};
  const aborted = new Promise<never>((_, reject) => (rejectAborted = reject));
  aborted.catch(() => {});
  const stop = (reason: Error) => {
    controller.abort(reason);
    rejectAborted(reason);
  };
  const timer = setTimeout(
    () => {
      timedOut = true;
      stop(new TaskFailure(run.timeoutMessage));
    },
    Math.max(0, run.deadline - Date.now()),
  );
  const onCancel = () => stop(new Discarded("the job no longer waits for this attempt"));
  if (cancel.aborted) onCancel();
  else cancel.addEventListener("abort", onCancel, { once: true });

  try {
    // Raced with `aborted`: an executor that ignores its signal cannot hold the job past its deadline.
    const outcome = await Promise.race([execute(env, run.task, run.scope, controller.signal, run.identity), aborted]);
    if (cancel.aborted) return null;
    if (timedOut) return { ok: false, durationMs: Date.now() - started, message: run.timeoutMessage };
    return {
      ok: true,
      durationMs: Date.now() - started,
      result: jsonSafe(outcome?.result),
      logs: (outcome?.logs ?? []).map((l) => ({ level: l.level, message: String(l.message), data: jsonSafe(l.data) })),
    };
  } catch (err) {
    const durationMs = Date.now() - started;
    if (cancel.aborted) return null;
    if (timedOut) return { ok: false, durationMs, message: run.timeoutMessage };
    if (err instanceof TaskFailure) return { ok: false, durationMs, message: err.message, data: jsonSafe(err.data) };
    const message = err instanceof Error ? err.message : String(err);
    return { ok: false, durationMs, message: `unexpected error: ${message}` };
  } finally {
    clearTimeout(timer);
    cancel.removeEventListener("abort", onCancel);
  }
}

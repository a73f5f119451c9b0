// Runs one task attempt (docs/jobs.md) through `executeTask` until it ends, its deadline passes, or the job's
// Durable Object aborts it (cancel, a client's status change), and turns whatever happens into a
// report for the engine. Never throws.
import { executeTask } from "../workflows/execute";
import { TaskFailure, type TaskDefinition, type TaskIdentity, type TemplateScope } from "../workflows/tasks";
import type { AttemptReport } from "./model";

/** JSON-safe copy (results land in SQLite as JSON). */
export function jsonSafe(value: unknown): unknown {
  if (value === undefined) return undefined;
  try {
    return JSON.parse(JSON.stringify(value));
  } catch {
    return String(value);
  }
}

export type AttemptRun = {
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
export async function runAttempt(env: Env, run: AttemptRun, cancel: AbortSignal): Promise<AttemptReport | null> {
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
  const timer = setTimeout(() => {
    timedOut = true;
    stop(new TaskFailure(run.timeoutMessage));
  }, Math.max(0, run.deadline - Date.now()));
  const onCancel = () => stop(new Discarded("the job no longer waits for this attempt"));
  if (cancel.aborted) onCancel();
  else cancel.addEventListener("abort", onCancel, { once: true });

  try {
    // Raced with `aborted`: an executor that ignores its signal cannot hold the job past its deadline.
    const outcome = await Promise.race([executeTask(env, run.task, run.scope, controller.signal, run.identity), aborted]);
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

// Runs one task attempt through `executeTask` with its deadline and an optional liveness poll, and
// turns whatever happens into a report for the job's Durable Object. Never throws.
import { executeTask } from "../workflows/execute";
import { TaskFailure } from "../workflows/tasks";
import type { AttemptReport, ClaimedAttempt } from "./model";

/**
 * The executor the engine calls. Production always uses the workflows' `executeTask`; tests may
 * swap it (tests run in the same isolate as the Worker and its Durable Objects).
 */
export const engineHooks: { executeTask: typeof executeTask } = { executeTask };

class Discarded extends Error {}

/** JSON-safe copy (results cross RPC and land in SQLite as JSON). */
export function jsonSafe(value: unknown): unknown {
  if (value === undefined) return undefined;
  try {
    return JSON.parse(JSON.stringify(value));
  } catch {
    return String(value);
  }
}

export type RunOptions = {
  /** Asked at once and then every `pollMs`; answering false aborts the attempt and discards its result. */
  isAlive?: () => Promise<boolean>;
  pollMs?: number;
};

/** Resolves with the report, or null when the attempt was discarded (cancelled, timed out, replaced). */
export async function runAttempt(env: Env, claimed: ClaimedAttempt, options: RunOptions = {}): Promise<AttemptReport | null> {
  const { task } = claimed;
  const started = Date.now();
  const controller = new AbortController();
  let timedOut = false;
  let discarded = false;
  let rejectAborted: (err: Error) => void = () => {};
  const aborted = new Promise<never>((_, reject) => (rejectAborted = reject));
  aborted.catch(() => {});

  const timer = setTimeout(() => {
    timedOut = true;
    const reason = new TaskFailure(`timed out after ${task.timeout} s`);
    controller.abort(reason);
    rejectAborted(reason);
  }, Math.max(0, claimed.deadline - Date.now()));

  let pollTimer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  if (options.isAlive) {
    const isAlive = options.isAlive;
    const tick = async () => {
      if (stopped) return;
      let alive = true;
      try {
        alive = await isAlive();
      } catch {
        alive = true; // cannot tell: keep going, the DO discards a stale report anyway
      }
      if (stopped) return;
      if (!alive) {
        discarded = true;
        const reason = new Discarded("the job no longer waits for this attempt");
        controller.abort(reason);
        rejectAborted(reason);
        return;
      }
      pollTimer = setTimeout(tick, options.pollMs ?? 1000);
    };
    // The first call right away: it is also the attempt's first heartbeat (see JobObject.attemptAlive).
    pollTimer = setTimeout(tick, 0);
  }

  try {
    const outcome = await Promise.race([engineHooks.executeTask(env, task, claimed.scope, controller.signal), aborted]);
    if (discarded) return null;
    if (timedOut) return { ok: false, durationMs: Date.now() - started, message: `timed out after ${task.timeout} s` };
    return {
      ok: true,
      durationMs: Date.now() - started,
      result: jsonSafe(outcome?.result),
      logs: (outcome?.logs ?? []).map((l) => ({ level: l.level, message: String(l.message), data: jsonSafe(l.data) })),
    };
  } catch (err) {
    const durationMs = Date.now() - started;
    if (discarded) return null;
    if (timedOut) return { ok: false, durationMs, message: `timed out after ${task.timeout} s` };
    if (err instanceof TaskFailure) return { ok: false, durationMs, message: err.message, data: jsonSafe(err.data) };
    const message = err instanceof Error ? err.message : String(err);
    return { ok: false, durationMs, message: `unexpected error: ${message}` };
  } finally {
    stopped = true;
    clearTimeout(timer);
    if (pollTimer) clearTimeout(pollTimer);
  }
}

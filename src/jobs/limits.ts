// The job engine's size and time limits, each in one place. Where a value stands for a platform
// limit, it comes from src/platform/limits.ts (see docs/limits.md).
import { DO_ALARM_WALL_TIME_MS, SET_ALARM_MAX_MS, SET_ALARM_MIN_MS } from "../platform/limits";

/** Each log line (message + data as JSON) is capped at 16 KiB. */
export const LOG_LINE_MAX_BYTES = 16 * 1024;

/**
 * A job's whole log: at most this many lines and this many bytes (message + data, as measured for
 * LOG_LINE_MAX_BYTES). Client appends that would cross either are refused (409 `log_full`); the
 * engine's own lines past it are dropped, after one last line saying so, for which room is kept.
 */
export const LOG_MAX_LINES = 10_000;
export const LOG_MAX_BYTES = 4 * 1024 * 1024;
/** Room kept for the engine's one "log truncated" line. */
export const LOG_TRUNCATION_RESERVE_BYTES = 1024;

/**
 * A Durable Object's alarm() handler has 15 minutes of wall time per invocation (DO_ALARM_WALL_TIME_MS).
 * Attempts of `http` and `content.*` tasks run inside the job DO's alarm, so one attempt gets at
 * most this much of it (the rest is kept for recording its outcome and writing the mirror).
 */
export const ATTEMPT_RUN_BUDGET_MS = DO_ALARM_WALL_TIME_MS - 10_000;

/** A queued attempt not claimed within this (doubling per miss, up to the max) is sent again. */
export const CLAIM_TIMEOUT_MS = 15_000;
export const MAX_CLAIM_TIMEOUT_MS = 300_000;
/** Slack after an attempt's own timeout before the watchdog alarm looks at it again. */
export const REPORT_GRACE_MS = 5_000;
/**
 * While an attempt runs, the job's alarm looks again this often, so a run whose Durable Object
 * instance died is noticed (and run again) within it, not only after the task's timeout.
 */
export const RUN_WATCH_MS = 5_000;
/** Lost attempts (the DO instance running them is gone) re-run without using the task's retries, this many times. */
export const MAX_LOST = 3;

/**
 * The range setAlarm() accepts. Whatever the state holds, the alarm is clamped into it: a past
 * time fires at once, a time beyond it wakes the job early and the alarm is set again.
 */
export const MIN_ALARM_MS = SET_ALARM_MIN_MS;
export const MAX_ALARM_MS = SET_ALARM_MAX_MS;

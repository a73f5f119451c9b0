// The schedules' bounds and timings, each in one place. Where one stands for a platform limit it
// says which (docs/limits.md has the table).

/** A cron expression is at most this long (a 5-field spec with long lists fits easily). */
export const CRON_MAX_CHARS = 256;

/** Default, smallest and largest `catchupWindow`, in seconds. */
export const CATCHUP_WINDOW_DEFAULT_S = 60;
/** Below this an alarm a few milliseconds late would already count its fire time as missed. */
export const CATCHUP_WINDOW_MIN_S = 10;
export const CATCHUP_WINDOW_MAX_S = 7 * 86_400;

/** Fire times in one `POST /schedule/{id}/backfill`; more is a 400. Each costs ~3-5 subrequests of the DO call (SUBREQUESTS_PER_INVOCATION). */
export const BACKFILL_MAX_FIRES = 100;

/**
 * Fire times one wake of the schedule's Durable Object starts (alarm, sweep visit, re-arm); the
 * rest wait for the next wake, set at once. Bounds the subrequests and CPU of one invocation after
 * a long catch-up window.
 */
export const FIRES_PER_WAKE = 20;

/** Missed fire times are counted up to this many per record ("1000 or more"). */
export const MISSED_COUNT_CAP = 1_000;

/**
 * Active jobs looked at per overlap check (the newest first): the queued or running jobs a
 * `cancel_other` cancels, or that a `skip` / `buffer_one` waits for. `allow_all` never checks.
 */
export const ACTIVE_JOBS_CHECKED = 20;

/**
 * While a run is buffered, the schedule looks again this often for the end of the job it waits
 * for. The job's Durable Object also tells the schedule when it ends; this covers a lost message.
 */
export const BUFFER_POLL_MS = 10_000;

/** An alarm that fires up to this much before its time still counts its fire time as due. */
export const ALARM_EARLY_SLACK_MS = 1_000;

/** A wake that failed (D1 or a job's DO unreachable) tries again after this long. */
export const WAKE_RETRY_MS = 5_000;

/** The schedule's log keeps its newest lines only (a schedule may run for years). */
export const SCHEDULE_LOG_MAX_LINES = 1_000;

/** How many upcoming fire times and recent jobs a schedule's JSON shows. */
export const NEXT_RUNS_SHOWN = 5;
export const LAST_RUNS_SHOWN = 5;

/** The sweep re-arms schedules whose `next_fire_at` is this far past (an alarm starts within a second). */
export const SWEEP_GRACE_MS = 2_000;
/**
 * Schedules re-armed per sweep: one DO call each, on top of the job sweep's ~802 subrequests,
 * under SUBREQUESTS_PER_INVOCATION (1,000); the rest wait for the next minute.
 */
export const SWEEP_BATCH = 100;

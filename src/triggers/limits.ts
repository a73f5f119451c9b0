// Bounds and timings of record and date triggers, each in one place (docs/api/triggers.md, "Limits";
// docs/limits.md for the platform limits they come from).
import { SUBREQUESTS_PER_INVOCATION } from "../platform/limits";

/** Triggers one workflow may declare. */
export const MAX_TRIGGERS_PER_WORKFLOW = 10;

/**
 * How many triggered jobs may follow one another: a change through the API starts jobs of depth
 * 1; a content.* task of a job of depth d records events of depth d + 1. An event deeper than this
 * starts no job, and the refusal is logged in the job whose task made the change.
 */
export const MAX_TRIGGER_DEPTH = 5;

/** Longest `filter` of a trigger (characters): the content filter's own bound. */
export { MAX_FILTER_LENGTH as MAX_TRIGGER_FILTER_LENGTH } from "../content/filter";

/** Largest date trigger `offset`, either way: ten years. */
export const MAX_OFFSET_MS = 3660 * 86_400_000;

/**
 * What one invocation (a request's waitUntil, a queue batch, a sweep) may spend on dispatching
 * events: at most this many job starts (each ~3 subrequests: the workflow read, the mirror row,
 * the job's Durable Object) and this many events (each ~4: the event, its triggers and module, the
 * filters, the delete), ~550 subrequests in all, within SUBREQUESTS_PER_INVOCATION with room for
 * the invocation's other work. What is left waits in the outbox: a queue message is retried, the
 * sweep comes back next minute.
 */
export const STARTS_PER_INVOCATION = 50;
export const EVENTS_PER_INVOCATION = 100;

/**
 * The sweep leaves events younger than this to the dispatch that follows their write (a request's
 * waitUntil, a queue message): it only delivers what those left behind.
 */
export const EVENT_SWEEP_GRACE_MS = 10_000;

/** The error text kept on an event whose dispatch failed. */
export const EVENT_ERROR_MAX_CHARS = 1000;

if (STARTS_PER_INVOCATION * 3 + EVENTS_PER_INVOCATION * 4 > SUBREQUESTS_PER_INVOCATION * 0.6) {
  throw new Error("trigger dispatch bounds exceed their share of the subrequest limit");
}

/**
 * Due items one wake of a date trigger's clock handles (each a job start): a module of any size
 * costs at most this much per wake; more due at once are handled by further wakes, at once.
 */
export const DATE_ITEMS_PER_WAKE = 20;

/** After a wake that failed (D1 or a job's Durable Object unreachable), the clock tries again this soon. */
export const DATE_WAKE_RETRY_MS = 5_000;

/** Date trigger clocks the sweep wakes per run (each one DO call of at most DATE_ITEMS_PER_WAKE starts). */
export const DATE_CLOCKS_PER_SWEEP = 10;

/** The sweep leaves a clock alone until its `next_due_at` is this far past (its own alarm comes first). */
export const DATE_SWEEP_GRACE_MS = 2_000;

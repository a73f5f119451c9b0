// Bounds and timings of record and date triggers, each in one place (README, "Triggers";
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

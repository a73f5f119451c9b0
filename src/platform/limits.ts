// Cloudflare's documented limits that this code base depends on, each named after the limit it
// stands for, with the page it comes from. Our own bounds (1 MiB bodies, the result cache budget,
// 10,000 chart points, ...) are derived from these where they exist for the platform's sake; see
// docs/limits.md for the table of who depends on what, and what `wrangler dev` does not enforce.
//
// Values are for the Workers Paid plan (Queues and a production D1 need it). Where the pages
// disagree between versions, the smaller value is kept and the comment says so.

const MINUTE_MS = 60_000;

// ---------------------------------------------------------------- Workers (every invocation)

/**
 * Memory per isolate: 128 MB, shared by every request the isolate serves at once; over it the
 * runtime cancels requests. Read as 128,000,000 bytes (the smaller reading of "MB").
 * https://developers.cloudflare.com/workers/platform/limits/#memory
 */
export const WORKER_MEMORY_BYTES = 128_000_000;

/**
 * CPU time per invocation (HTTP request, queue batch, cron, Durable Object request or alarm):
 * 30 s by default, raised up to 5 min with `limits.cpu_ms` (wrangler.toml sets none). Time spent
 * waiting on I/O does not count.
 * https://developers.cloudflare.com/workers/platform/limits/#cpu-time
 * https://developers.cloudflare.com/queues/platform/limits/ ("Consumer CPU time")
 * https://developers.cloudflare.com/durable-objects/platform/limits/ ("CPU per request")
 */
export const WORKER_CPU_TIME_MS = 30_000;

/**
 * `ctx.waitUntil()` work may outlive its event (the response sent, the client gone) by at most
 * 30 s; what is still pending then is cancelled. The pages state it for HTTP requests; for a queue
 * consumer under `queue_consumer_no_wait_for_wait_until` (our wrangler.toml) they only say that
 * waitUntil "extends the lifetime" past the batch's acknowledgement, with no figure: assume 30 s.
 * https://developers.cloudflare.com/workers/runtime-apis/context/#waituntil
 * https://developers.cloudflare.com/workers/platform/limits/#how-long-can-a-subrequest-take
 * https://developers.cloudflare.com/workers/configuration/compatibility-flags/
 */
export const WAIT_UNTIL_AFTER_EVENT_MS = 30_000;

/**
 * Subrequests per invocation (fetch, D1 queries, Queue sends, Durable Object calls). The newest
 * stored copy of the Workers page says 10,000 on Workers Paid; older copies, and the D1 page
 * ("Queries per Worker invocation"), say 1,000. Plan against 1,000.
 * https://developers.cloudflare.com/workers/platform/limits/#subrequests
 * https://developers.cloudflare.com/d1/platform/limits/
 */
export const SUBREQUESTS_PER_INVOCATION = 1_000;

/**
 * Connections one invocation may have open at once (fetch, Queue send, KV, Cache, R2, TCP; D1
 * too per the D1 FAQ). A seventh waits until one of the six closes; it does not fail. The same
 * limit applies per Durable Object request.
 * https://developers.cloudflare.com/workers/platform/limits/#simultaneous-open-connections
 */
export const SIMULTANEOUS_OPEN_CONNECTIONS = 6;

// ---------------------------------------------------------------- Queues

/**
 * Wall time of one queue consumer invocation: 15 minutes.
 * https://developers.cloudflare.com/queues/platform/limits/ ("Consumer duration")
 */
export const QUEUE_CONSUMER_WALL_TIME_MS = 15 * MINUTE_MS;

/**
 * Most messages in one consumer batch (`max_batch_size` in wrangler.toml may be at most this).
 * https://developers.cloudflare.com/queues/platform/limits/
 */
export const QUEUE_MAX_BATCH_SIZE = 100;

/**
 * Largest message: 128 KB, with 1 KB = 1,000 bytes and up to ~100 bytes of it taken by metadata.
 * https://developers.cloudflare.com/queues/platform/limits/
 */
export const QUEUE_MAX_MESSAGE_BYTES = 128_000;

/**
 * Longest `delaySeconds` on send or retry: 12 hours in the stored copies of the page (a newer
 * listing shows 24 hours). Plan against 12.
 * https://developers.cloudflare.com/queues/platform/limits/
 */
export const QUEUE_MAX_DELAY_SECONDS = 12 * 3600;

// ---------------------------------------------------------------- Durable Objects (SQLite-backed)

/**
 * Wall time of one `alarm()` invocation: 15 minutes. (A Durable Object's RPC and fetch calls have
 * no wall-time limit while the caller stays connected.)
 * https://developers.cloudflare.com/workers/platform/limits/#duration
 * https://developers.cloudflare.com/durable-objects/api/alarms/
 */
export const DO_ALARM_WALL_TIME_MS = 15 * MINUTE_MS;

/**
 * Largest string, BLOB or table row in a Durable Object's SQLite storage: 2 MB (the D1 page spells
 * the same limit as 2,000,000 bytes). Key and value of the KV API together: also 2 MB.
 * https://developers.cloudflare.com/durable-objects/platform/limits/#sql-storage-limits
 */
export const DO_SQL_MAX_ROW_BYTES = 2_000_000;

/**
 * Bound parameters per Durable Object SQL statement.
 * https://developers.cloudflare.com/durable-objects/platform/limits/#sql-storage-limits
 */
export const DO_SQL_MAX_BOUND_PARAMETERS = 100;

/**
 * `setAlarm()` refuses times <= 0 ("cannot be called with an alarm time <= 0") and times past
 * 2189 ("This API doesn't support dates after 2189"). Runtime behaviour measured in workerd, not a
 * documented limit.
 */
export const SET_ALARM_MIN_MS = 1;
export const SET_ALARM_MAX_MS = Date.UTC(2189, 0, 1);

// ---------------------------------------------------------------- D1

/**
 * Largest string, BLOB or table row: 2,000,000 bytes.
 * https://developers.cloudflare.com/d1/platform/limits/
 */
export const D1_MAX_ROW_BYTES = 2_000_000;

/**
 * Bound parameters per statement (each statement of a batch on its own).
 * https://developers.cloudflare.com/d1/platform/limits/
 */
export const D1_MAX_BOUND_PARAMETERS = 100;

/**
 * Columns per table: 100 (SQLite's own default is 2,000; D1 lowers it, and local workerd enforces
 * it: `CREATE TABLE` with 101 columns and `ALTER TABLE ADD COLUMN` past 100 fail).
 * https://developers.cloudflare.com/d1/platform/limits/
 */
export const D1_MAX_COLUMNS_PER_TABLE = 100;

/**
 * Longest SQL statement text: 100,000 bytes.
 * https://developers.cloudflare.com/d1/platform/limits/
 */
export const D1_MAX_STATEMENT_BYTES = 100_000;

/**
 * Longest LIKE or GLOB pattern: 50 bytes.
 * https://developers.cloudflare.com/d1/platform/limits/
 */
export const D1_MAX_LIKE_PATTERN_BYTES = 50;

/**
 * Longest query, and longest `batch()` as a whole: 30 s.
 * https://developers.cloudflare.com/d1/platform/limits/
 */
export const D1_MAX_QUERY_DURATION_MS = 30_000;

/**
 * Largest query result: 50 MB. Only the newest stored copy of the page lists it; older copies
 * have no such row (the isolate's memory bounded results regardless).
 * https://developers.cloudflare.com/d1/platform/limits/
 */
export const D1_MAX_RESULT_BYTES = 50_000_000;

// The bounds of an import, each with the reason for its value (docs/api/import-export.md, "Import" →
// "Limits"; docs/limits.md for the platform limits they come from).
import { DO_SQL_MAX_ROW_BYTES } from "../platform/limits";

/**
 * Largest file sent as the request body: 50 MiB. Cloudflare refuses bodies over 100 MB on the
 * Free and Pro plans (more only on Business and Enterprise), so this works on every plan with room
 * to spare. The body is read as a counted stream and parsed while it arrives: the Worker holds
 * one chunk of rows at a time, not the file.
 */
export const IMPORT_MAX_BYTES = 50 * 1024 * 1024;

/**
 * Largest file sent as a multipart form part: 25 MiB. The runtime's form parser holds the whole
 * form in memory while it is read, and an isolate has 128 MB (WORKER_MEMORY_BYTES), shared with
 * the requests it serves at once; a bare body is streamed and may be twice as large.
 */
export const IMPORT_MAX_MULTIPART_BYTES = 25 * 1024 * 1024;

/**
 * Most data rows per file: 100,000. The rows become visible in one D1 batch (one transaction,
 * so nothing is half-imported), and a batch has 30 s (D1_MAX_QUERY_DURATION_MS); publishing
 * 100,000 ten-field rows took 10-13 s under `wrangler dev` (bench/README.md, "Import").
 */
export const IMPORT_MAX_ROWS = 100_000;

/**
 * Most columns per file: 120. A module has at most 100 fields; the rest leaves room for columns
 * an export adds (contentID, userID, createdAt, updatedAt) and a few a spreadsheet carries along.
 */
export const IMPORT_MAX_COLUMNS = 120;

/** Longest header name: field names and labels are far shorter. */
export const IMPORT_MAX_COLUMN_NAME = 256;

/**
 * Largest single row (record), in bytes of the file: 1 MiB. An item's values are at most
 * 128 KiB (MAX_ITEM_BYTES); a row eight times that is a broken file, not an item, and every
 * stored chunk (even one holding a single row) stays under the Durable Object's 2 MB row.
 */
export const IMPORT_MAX_RECORD_BYTES = 1024 * 1024;

/**
 * Rows per batch: each batch is checked, then staged in one D1 batch, then recorded (progress,
 * rejected rows, log line) in the job's Durable Object. Also the rows per stored chunk.
 */
export const IMPORT_BATCH_ROWS = 1000;

/** Bytes of one stored chunk (JSON of its rows): at most half a Durable Object row (DO_SQL_MAX_ROW_BYTES). */
export const IMPORT_CHUNK_BYTES = Math.floor(DO_SQL_MAX_ROW_BYTES / 2);

/** Bytes of chunks the upload hands the job's Durable Object per call (about 4 MB: a handful of calls per file). */
export const IMPORT_UPLOAD_CALL_BYTES = 4 * 1024 * 1024;

/**
 * Bytes of staged rows bound into one statement (one JSON parameter): under D1's 2,000,000-byte
 * limit for one value (D1_MAX_ROW_BYTES), with the search text next to the values.
 */
export const IMPORT_STAGE_STATEMENT_BYTES = 900_000;

/** Rejected rows written one by one to the job's log (with row, column and message); the report lists them all. */
export const IMPORT_LOGGED_REJECTS = 1000;

/** Rows of the report read from the job's Durable Object per call while the report streams. */
export const IMPORT_REPORT_PAGE = 500;

/** Times an import starts over because its module was edited while it ran; then it fails. */
export const IMPORT_MAX_RESTARTS = 3;

/** Conflicts the checks before publishing look at per query (they run again until none is left). */
export const IMPORT_CHECK_PAGE = 5000;

/** Seconds the whole import job may take (its workflow timeout): far beyond 100,000 rows. */
export const IMPORT_JOB_TIMEOUT_S = 6 * 3600;

/**
 * Delays (s) before an import attempt that failed for a passing reason (D1 unreachable, the
 * attempt's 890 s budget spent) runs again; each run resumes after the last recorded batch.
 */
export const IMPORT_RETRIES = [5, 30, 120];

/** Uploaded chunks of a job that was never created are dropped after this long (the upload died). */
export const IMPORT_ORPHAN_FILE_MS = 3600_000;

// Every failure a client can cause is an ApiError; `onError` turns it into the error envelope.
import type { ContentfulStatusCode } from "hono/utils/http-status";

/**
 * Every error code the API answers, with its HTTP status and when it is answered. The list is
 * closed: ApiError, the envelope and the job engine's refusals take only these codes, so a new
 * code is added here (with its status) before it can be thrown. The README's table of error
 * codes is generated from it (`node scripts/error-table.mjs --write`; test/error-codes.test.ts
 * fails when the two differ).
 */
export const ERROR_CODES = {
  // 400: the request itself is wrong; `details` points at each problem.
  invalid_input: { status: 400, when: "a parameter or body field is missing, of the wrong type or out of range; `details` names each problem" },
  invalid_id: { status: 400, when: "a path ID is not a positive decimal integer below 2^53 (`abc`, `0`, `01`); a reorder's `selfID` may also be 0" },
  invalid_bookmark: { status: 400, when: "`X-D1-Bookmark` is not a bookmark from an earlier answer" },
  malformed_json: { status: 400, when: "the body is not JSON, not a JSON object, or nested too deep" },
  malformed_body: { status: 400, when: "a multipart form body cannot be parsed" },
  bad_request: { status: 400, when: "the framework refused the request before a route read it (its own 4xx status)" },
  invalid_content: { status: 400, when: "an item's fields do not fit its module (unknown field, wrong value, missing required value)" },
  invalid_filter: { status: 400, when: "`filter` does not parse or names an unknown field; the message gives the position" },
  invalid_sort: { status: 400, when: "`sort` does not parse, or names an unknown, multi-valued or repeated field" },
  invalid_query: { status: 400, when: "the search `query` has more words than allowed" },
  invalid_chart: { status: 400, when: "a chart parameter is invalid (unknown kind, format or bucket; a field of the wrong kind)" },
  unknown_field: { status: 400, when: "a chart parameter names a field the module does not have" },
  missing_parameter: { status: 400, when: "a chart lacks a parameter it needs (`kind`, or the axes its aggregation needs)" },
  invalid_bound: { status: 400, when: "a chart's `xMin`/`xMax` does not fit the xAxis field, or `xMin` is after `xMax`" },
  too_many_points: { status: 400, when: "a chart would have more points or categories than allowed; narrow it with `xMin`/`xMax` or `filter`" },
  invalid_workflow: { status: 400, when: "a workflow's tasks or triggers are invalid" },
  unknown_workflow: { status: 400, when: "the `workflowID` of a job or schedule names no workflow" },
  log_line_too_large: { status: 400, when: "a job log line (message + data) is over its size limit" },
  backfill_too_large: { status: 400, when: "a schedule backfill's range holds more fire times than allowed; split it" },
  invalid_fields: { status: 400, when: "an export's `fields` names an unknown field, a field twice, or too many names" },
  export_too_large: { status: 400, when: "an export would hold more items than allowed; narrow it with `filter`" },
  invalid_import: { status: 400, when: "an import's columns do not map onto the module's fields" },
  malformed_file: { status: 400, when: "an import's file cannot be parsed as its format" },
  empty_file: { status: 400, when: "an import's file has no rows" },
  too_many_columns: { status: 400, when: "an import's file has more columns than allowed" },
  // 401, 403, 404, 405: who is asking, and for what.
  unauthorized: { status: 401, when: "no, malformed, expired or badly signed token, or one without `exp`" },
  forbidden: { status: 403, when: "the token lacks the route's scope" },
  not_found: { status: 404, when: "unknown route or object (deleted objects included)" },
  method_not_allowed: { status: 405, when: "known path, wrong method (with an `Allow` header)" },
  // 409: the request conflicts with the current state; nothing was changed.
  conflict: { status: 409, when: "concurrent writes kept changing the module while the request ran; send it again" },
  module_in_use: { status: 409, when: "a module is the target of related fields or has a record page" },
  content_conflict: { status: 409, when: "existing content does not fit a module's new field definitions" },
  unique_conflict: { status: 409, when: "another item holds the value of a unique field (`details[].contentID`)" },
  page_exists: { status: 409, when: "the module already has a record page" },
  page_has_children: { status: 409, when: "a page with child pages cannot be deleted or become a record page" },
  concurrent_change: { status: 409, when: "pages changed while the request ran; send it again" },
  workflow_in_use: { status: 409, when: "a workflow to delete still has queued or running jobs" },
  workflow_missing: { status: 409, when: "a schedule's workflow no longer exists, so `trigger` cannot start a job" },
  schedule_busy: { status: 409, when: "a schedule is being changed by another request; retry" },
  idempotency_key_reused: { status: 409, when: "the `Idempotency-Key` was used in the last 24 hours with a different request" },
  idempotency_key_in_progress: { status: 409, when: "the first request with this `Idempotency-Key` is still making its job" },
  invalid_transition: { status: 409, when: "a job cannot move from its status to the one asked for" },
  job_not_queued: { status: 409, when: "a job's workflowID, startAt or parameters change only while it is queued" },
  import_job: { status: 409, when: "an import job's workflowID, startAt or parameters cannot change" },
  import_published: { status: 409, when: "an import job has published its rows; it can no longer be cancelled or ended" },
  log_full: { status: 409, when: "a job's log is full; nothing was appended" },
  // 413, 415, 429, 500.
  payload_too_large: { status: 413, when: "body over 1 MiB, or an import's file over its own size limit" },
  too_many_rows: { status: 413, when: "an import's file has more rows than allowed" },
  unsupported_media_type: { status: 415, when: "body neither JSON nor a form (an import's file: not CSV, JSON, NDJSON or a form)" },
  rate_limited: { status: 429, when: "over the per-token limit; `Retry-After: 60`" },
  internal_error: { status: 500, when: "a genuine fault: `Internal error` and a `requestId`, nothing else" },
} as const satisfies Record<string, { status: ContentfulStatusCode; when: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The codes answered with `status`. */
export type CodeOf<S extends ContentfulStatusCode> = { [C in ErrorCode]: (typeof ERROR_CODES)[C]["status"] extends S ? C : never }[ErrorCode];

/** `contentID`: the existing item a unique value conflicts with. */
export type ErrorDetail = { path: string; message: string; contentID?: string };

/**
 * The status comes from the code's entry in ERROR_CODES: one code, one status. (Fields are
 * declared, not parameter properties, so scripts/error-table.mjs can load this file in Node.)
 */
export class ApiError extends Error {
  readonly status: ContentfulStatusCode;
  readonly code: ErrorCode;
  readonly details?: ErrorDetail[];
  readonly headers?: Record<string, string>;

  constructor(code: ErrorCode, message: string, details?: ErrorDetail[], headers?: Record<string, string>) {
    super(message);
    this.status = ERROR_CODES[code].status;
    this.code = code;
    this.details = details;
    this.headers = headers;
  }
}

export const badRequest = (message: string, details?: ErrorDetail[], code: CodeOf<400> = "invalid_input") => new ApiError(code, message, details);

export const notFound = (what: string) => new ApiError("not_found", `${what} not found`);

export const conflict = (message: string, details?: ErrorDetail[], code: CodeOf<409> = "conflict") => new ApiError(code, message, details);

export const unauthorized = () => new ApiError("unauthorized", "Unauthorized");

export const forbidden = (scope: string) => new ApiError("forbidden", `This token lacks the '${scope}' scope`);

/** Formats a zod-style path (["fields", 2, "kind"]) as `fields[2].kind`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out === "" ? String(part) : `.${String(part)}`;
  }
  return out;
}

// Validators gather every problem of a request as `details` ({path, message}), so one 400 names
// them all; the error's message names the first.
import { badRequest, type ApiError, type CodeOf, type ErrorDetail } from "./errors";

/**
 * The 400 naming the first of `details` (at least one) after `what`: `Invalid page: title: must
 * not be empty`, or `Invalid request body: must be an object` for a problem without a path.
 */
export function detailsError(details: ErrorDetail[], what: string, code: CodeOf<400> = "invalid_input"): ApiError {
  const [first] = details;
  return badRequest(`${what}: ${first.path ? `${first.path}: ` : ""}${first.message}`, details, code);
}

/** Throws detailsError when `details` holds a problem; does nothing when it is empty. */
export function throwIfDetails(details: ErrorDetail[], what: string, code: CodeOf<400> = "invalid_input"): void {
  if (details.length) throw detailsError(details, what, code);
}

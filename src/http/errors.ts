// Every failure a client can cause is an ApiError; `onError` turns it into the error envelope.
import type { ContentfulStatusCode } from "hono/utils/http-status";

/** `contentID`: the existing item a unique value conflicts with. */
export type ErrorDetail = { path: string; message: string; contentID?: string };

export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly details?: ErrorDetail[],
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }
}

export const badRequest = (message: string, details?: ErrorDetail[], code = "invalid_input") =>
  new ApiError(400, code, message, details);

export const notFound = (what: string) => new ApiError(404, "not_found", `${what} not found`);

export const conflict = (message: string, details?: ErrorDetail[], code = "conflict") =>
  new ApiError(409, code, message, details);

export const unauthorized = () => new ApiError(401, "unauthorized", "Unauthorized");

export const forbidden = (scope: string) =>
  new ApiError(403, "forbidden", `This token lacks the '${scope}' scope`);

/** Formats a zod-style path (["fields", 2, "kind"]) as `fields[2].kind`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out === "" ? String(part) : `.${String(part)}`;
  }
  return out;
}

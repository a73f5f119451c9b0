// The response envelope of the contract: {"response": ...}, {"success": ...} or {"error": ...}.
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ErrorCode, ErrorDetail } from "./errors";

export const JSON_TYPE = "application/json; charset=utf-8";

export function sendJson(c: Context, body: unknown, status: ContentfulStatusCode = 200, headers?: Record<string, string>) {
  return c.body(JSON.stringify(body), status, { "content-type": JSON_TYPE, ...headers });
}

export const ok = (c: Context, payload: unknown, status: ContentfulStatusCode = 200) => sendJson(c, { response: payload }, status);

export const created = (c: Context, payload: unknown) => ok(c, payload, 201);

/** Deletes and reorders answer this instead of the object. */
export const success = (c: Context) => sendJson(c, { success: { message: "OK" } });

export function errorBody(code: ErrorCode, message: string, details?: ErrorDetail[], extra?: Record<string, unknown>) {
  return { error: { message, code, ...(details?.length ? { details } : {}), ...extra } };
}

// Request-wide pieces: request IDs, one structured log line per request, CORS, errors, 404/405.
import type { Context, MiddlewareHandler } from "hono";
import { cors } from "hono/cors";
import { HTTPException } from "hono/http-exception";
import { sendJson, errorBody } from "./envelope";
import { ApiError, badRequest } from "./errors";
import { BOOKMARK_HEADER, isBookmark, requestConstraint } from "../db/session";
import { knownPaths } from "./route";
import type { AppEnv } from "./types";

const REQUEST_ID = /^[\w.:@-]{1,128}$/;

export const requestContext: MiddlewareHandler<AppEnv> = async (c, next) => {
  const given = c.req.header("x-request-id");
  const requestId = given && REQUEST_ID.test(given) ? given : crypto.randomUUID();
  c.set("requestId", requestId);
  const started = Date.now();
  await next();
  c.res.headers.set("x-request-id", requestId);
  console.log(
    JSON.stringify({
      level: "info",
      msg: "request",
      method: c.req.method,
      route: c.get("routePath") ?? null,
      path: new URL(c.req.url).pathname,
      status: c.res.status,
      durationMs: Date.now() - started,
      requestId,
    }),
  );
};

/**
 * Opens the request's D1 session (src/db/session.ts) and answers its bookmark. A request that
 * ran no query answers the bookmark it was sent, so a client's chain is never broken.
 */
export const d1Session: MiddlewareHandler<AppEnv> = async (c, next) => {
  const given = c.req.header(BOOKMARK_HEADER)?.trim() || undefined;
  if (given !== undefined && !isBookmark(given)) {
    const message = "must be a bookmark from a previous answer's x-d1-bookmark header";
    throw badRequest(`Invalid ${BOOKMARK_HEADER}: ${message}`, [{ path: BOOKMARK_HEADER, message }], "invalid_bookmark");
  }
  const session = c.env.DB.withSession(requestConstraint(c.req.method, given));
  c.env = { ...c.env, DB: session as unknown as D1Database };
  await next();
  const bookmark = session.getBookmark() ?? given;
  if (bookmark) c.res.headers.set(BOOKMARK_HEADER, bookmark);
};

export const corsFromConfig: MiddlewareHandler<AppEnv> = (c, next) => {
  const configured = (c.env.CORS_ORIGINS ?? "*")
    .split(",")
    .map((o) => o.trim())
    .filter(Boolean);
  const origin = configured.length === 0 || configured.includes("*") ? "*" : configured;
  return cors({
    origin,
    allowMethods: ["GET", "POST", "DELETE", "OPTIONS"],
    allowHeaders: ["Authorization", "Content-Type", "Idempotency-Key", "X-Request-Id", "X-D1-Bookmark"],
    exposeHeaders: ["X-Request-Id", "Retry-After", "X-D1-Bookmark"],
    maxAge: 600,
  })(c, next);
};

export function handleError(err: Error, c: Context<AppEnv>) {
  if (err instanceof ApiError) {
    return sendJson(c, errorBody(err.code, err.message, err.details), err.status, err.headers);
  }
  if (err instanceof HTTPException && err.status < 500) {
    return sendJson(c, errorBody("bad_request", err.message || "Bad request"), err.status);
  }
  const requestId = c.get("requestId");
  console.error(JSON.stringify({ level: "error", msg: "unhandled", requestId, error: String(err?.stack ?? err) }));
  return sendJson(c, errorBody("internal_error", "Internal error", undefined, { requestId }), 500);
}

export function handleNotFound(c: Context<AppEnv>) {
  const path = new URL(c.req.url).pathname;
  const allowed = knownPaths.filter((p) => p.regex.test(path)).map((p) => p.method);
  if (allowed.length) {
    const allow = [...new Set([...allowed, ...(allowed.includes("GET") ? ["HEAD"] : []), "OPTIONS"])].join(", ");
    return sendJson(c, errorBody("method_not_allowed", `Method ${c.req.method} is not allowed on ${path}`), 405, { allow });
  }
  return sendJson(c, errorBody("not_found", `No route for ${c.req.method} ${path}`), 404);
}

// Shared test helpers: signed tokens and a `call` that goes through the Worker's real fetch.
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { sign } from "hono/jwt";
import { expect } from "vitest";
import worker from "../src/index";
import { TaskFailure } from "../src/jobs/tasks";
import { checkAgainstOpenApi } from "./openapi-check";

export const SECRET = "test-secret";

export async function token(scope = "read write admin", extra: Record<string, unknown> = {}) {
  return sign({ sub: "7", scope, exp: Math.floor(Date.now() / 1000) + 3600, ...extra }, SECRET, "HS256");
}

type CallInit = { method?: string; body?: unknown; form?: Record<string, string>; scope?: string; token?: string | null; headers?: Record<string, string> };

export async function call(path: string, init: CallInit = {}) {
  const headers: Record<string, string> = { ...init.headers };
  const bearer = init.token === undefined ? await token(init.scope) : init.token;
  if (bearer !== null) headers.authorization = `Bearer ${bearer}`;
  let body: BodyInit | undefined;
  if (init.form) {
    body = new URLSearchParams(init.form).toString();
    headers["content-type"] = "application/x-www-form-urlencoded";
  } else if (init.body !== undefined) {
    body = typeof init.body === "string" ? init.body : JSON.stringify(init.body);
    headers["content-type"] ??= "application/json";
  }
  const method = init.method ?? (body === undefined ? "GET" : "POST");
  const res = await exports.default.fetch(new Request(`http://api.test${path}`, { method, headers, body }));
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  await checkAgainstOpenApi(method, path, res.status, json, res.headers.get("content-type"));
  return { status: res.status, headers: res.headers, json, text };
}

/** A module with a few common fields; answers the created module. */
export async function makeModule(name = "Lead", fields: unknown[] = [{ name: "title", kind: "text" }]) {
  const res = await call("/module/", { body: { name, fields } });
  if (res.status !== 201) throw new Error(`module create failed: ${res.status} ${res.text}`);
  return res.json.response;
}

/** Creates an item through the content API; answers its contentID. */
export async function createItem(moduleID: string, fields: Record<string, unknown>) {
  const res = await call(`/module/${moduleID}/content`, { body: { fields } });
  if (res.status !== 201) throw new Error(`content create failed: ${res.status} ${res.text}`);
  return res.json.response.contentID as string;
}

/** The TaskFailure a promise rejects with (the test fails if it resolves or throws anything else). */
export async function failure(promise: Promise<unknown>): Promise<TaskFailure> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(TaskFailure);
    return err as TaskFailure;
  }
  throw new Error("expected a TaskFailure");
}

/**
 * After a test wrote `content` rows directly (behind the service's back), has the module's typed
 * rows derived again from them: the next request rebuilds the typed table, as it does for a
 * module written before typed tables (the documented repair, see docs/storage.md).
 */
export async function rederiveTypedRows(moduleID: string | number) {
  // A new content version, as every write makes: results cached for the old one are not reused.
  await env.DB.prepare("update modules set typed_table = 0, content_version = content_version + 1 where id = ?").bind(Number(moduleID)).run();
}

/** Runs the every-minute cron (the job, schedule and trigger sweeps) as if it fired at `atMs`. */
export async function runCron(atMs: number) {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ scheduledTime: atMs, cron: "* * * * *" }), env, ctx);
  await waitOnExecutionContext(ctx);
}

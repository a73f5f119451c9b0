// Runs one attempt of a task. The engine (src/jobs) owns retries, the workflow timeout, `delay`
// and what is logged around an attempt; this file only does the task's own work.
import type { WriteOptions } from "../content/events";
import { createContent, deleteContent, updateContent } from "../content/service";
import { queueEvents } from "../triggers/queue";
import { getDb } from "../db/client";
import { normaliseId } from "../http/ids";
import { ApiError } from "../http/errors";
import { parseJson } from "../http/json";
import { checkOutboundResolved } from "./outbound-guard";
import { DEFAULT_EXPECT_STATUS, describeExpectStatus, HTTP_METHODS, parseExpectStatus, type StatusRange } from "./schemas";
import type { TaskDefinition, TaskIdentity, TaskOutcome, TemplateScope } from "../jobs/tasks";
import { TaskFailure } from "../jobs/tasks";
import { templateText } from "../jobs/template-text";
import { renderTemplates } from "./templates";
import { redactHeaders } from "../jobs/redact";
import { AttemptSecrets } from "./secrets";

/** Bytes of an http answer's body kept in the task result. */
export const HTTP_BODY_LIMIT = 64 * 1024;

/**
 * A task's options after rendering its templates, as JSON, are at most this many bytes; above it
 * the attempt fails (a template can multiply a large parameter or result many times over).
 */
export const RENDERED_OPTIONS_MAX_BYTES = 1024 * 1024;

/** The `userID` of items that content.create makes when the engine gives no job owner. */
const SYSTEM_USER_ID = "0";

/** What an `http` task answers as its result. */
type HttpResult = {
  status: number;
  /** The answer's headers, credential ones (see redact.ts) as "[redacted]". */
  headers: Record<string, string>;
  /** Parsed JSON when the answer says it is JSON (and was not cut), else text. */
  body: unknown;
  /** Present (true) when the body was cut at HTTP_BODY_LIMIT bytes. */
  truncated?: true;
};

/**
 * Runs one attempt of a task (any kind but `delay`, which the engine schedules itself).
 * Resolves with the outcome, or rejects with a TaskFailure. `signal` aborts it (timeout, cancel).
 *
 * Options are rendered with `renderTemplates(task.options, scope)` first; a template naming a
 * missing value fails the attempt (a TemplateError, which is a TaskFailure). Errors that are not
 * TaskFailures (a D1 outage, a bug) are thrown as they are.
 *
 * `{{secrets.NAME}}` is resolved from `env` (TASK_SECRET_NAME) for http tasks only (validation
 * refuses it elsewhere; here it fails the attempt). Whatever the attempt answers or throws has
 * every resolved value replaced by "[redacted]": the engine stores and logs it as it comes.
 *
 * `identity` (given by the job engine) adds the job's headers to an `http` request (see addJobHeaders).
 */
export async function executeTask(env: Env, task: TaskDefinition, scope: TemplateScope, signal: AbortSignal, identity?: TaskIdentity): Promise<TaskOutcome> {
  const secrets = new AttemptSecrets(env);
  try {
    return secrets.redactOutcome(await runTask(env, task, scope, signal, secrets, identity));
  } catch (err) {
    throw secrets.redactError(err);
  }
}

async function runTask(
  env: Env,
  task: TaskDefinition,
  scope: TemplateScope,
  signal: AbortSignal,
  secrets: AttemptSecrets,
  identity?: TaskIdentity,
): Promise<TaskOutcome> {
  throwIfAborted(signal);
  if (task.kind === "delay") throw new Error("delay tasks are scheduled by the job engine, not executed by executeTask");
  const secret = task.kind === "http" ? (name: string) => secrets.resolve(name) : undefined;
  const options = renderTemplates(task.options, scope, secret) as Record<string, unknown>;
  const rendered = new TextEncoder().encode(JSON.stringify(options) ?? "").byteLength;
  if (rendered > RENDERED_OPTIONS_MAX_BYTES) {
    throw new TaskFailure(`the task's options are ${rendered} bytes once its templates are rendered; at most ${RENDERED_OPTIONS_MAX_BYTES} bytes`);
  }
  switch (task.kind) {
    case "log":
      return { logs: [{ level: "info", message: templateText(options.message) }] };
    case "fail":
      throw new TaskFailure(templateText(options.message) || `task '${task.name}' failed`);
    case "http":
      return { result: await runHttp(env, task, options, signal, identity) };
    case "content.create":
    case "content.update":
    case "content.delete":
      return runContent(env, task, options, scope, identity);
    default:
      throw new TaskFailure(`unknown task kind '${String((task as TaskDefinition).kind)}'`);
  }
}

function throwIfAborted(signal: AbortSignal) {
  if (signal.aborted) throw new TaskFailure(`the attempt was aborted: ${reasonText(signal.reason)}`);
}

function reasonText(reason: unknown): string {
  if (reason instanceof Error) return reason.name === "TimeoutError" ? "timed out" : reason.message || reason.name;
  return reason === undefined ? "aborted" : String(reason);
}

// ---------------------------------------------------------------- http

/** Rejects when `signal` aborts, so a stalled body read cannot outlive the attempt. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}

async function readCapped(res: Response, limit: number, signal: AbortSignal): Promise<{ bytes: Uint8Array; truncated: boolean }> {
  if (!res.body) return { bytes: new Uint8Array(0), truncated: false };
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let truncated = false;
  try {
    for (;;) {
      const { done, value } = await abortable(reader.read(), signal);
      if (done) break;
      if (size + value.byteLength > limit) {
        chunks.push(value.subarray(0, limit - size));
        size = limit;
        truncated = true;
        break;
      }
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    if (truncated || signal.aborted) reader.cancel().catch(() => {});
    else reader.releaseLock();
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    bytes.set(c, offset);
    offset += c.byteLength;
  }
  return { bytes, truncated };
}

const isJsonType = (contentType: string | null) => {
  const type = (contentType ?? "").split(";")[0].trim().toLowerCase();
  return type === "application/json" || /^[\w.-]+\/[\w.-]+\+json$/.test(type);
};

/** `origin + path` of a URL, for messages: the query string may hold secrets. */
const shortUrl = (url: URL) => `${url.origin}${url.pathname}`;

/**
 * The job's headers on every request of an `http` task: `Idempotency-Key` (the same for every
 * attempt and redelivery of this task in this job, so a target that honours it applies the effect
 * once), `X-Job-ID`, `X-Job-Task` and `X-Job-Attempt`. A header of the same name the workflow sets
 * itself wins (a workflow may key requests by its own business ID).
 */
function addJobHeaders(headers: Headers, task: TaskDefinition, identity: TaskIdentity) {
  const own: Array<[string, string]> = [
    ["Idempotency-Key", identity.idempotencyKey],
    ["X-Job-ID", identity.jobID],
    ["X-Job-Task", task.name],
    ["X-Job-Attempt", String(identity.attempt)],
  ];
  for (const [name, value] of own) if (!headers.has(name)) headers.set(name, value);
}

async function runHttp(
  env: Env,
  task: TaskDefinition,
  options: Record<string, unknown>,
  engineSignal: AbortSignal,
  identity?: TaskIdentity,
): Promise<HttpResult> {
  const method = templateText(options.method ?? "GET")
    .trim()
    .toUpperCase();
  if (!(HTTP_METHODS as readonly string[]).includes(method)) {
    throw new TaskFailure(`method '${method}' is not one of ${HTTP_METHODS.join(", ")}`);
  }
  const rawUrl = templateText(options.url);
  // The name is resolved first: one that leads to a private address is refused (fail closed).
  const verdict = await checkOutboundResolved(rawUrl, env, engineSignal);
  if (!verdict.ok) throw new TaskFailure(`http request not sent: ${verdict.reason}`);
  const url = verdict.url;

  const headers = new Headers();
  const given = options.headers && typeof options.headers === "object" ? (options.headers as Record<string, unknown>) : {};
  for (const [name, value] of Object.entries(given)) {
    try {
      headers.set(name, templateText(value));
    } catch {
      throw new TaskFailure(`header '${name}' has a value that cannot be sent`);
    }
  }
  if (identity) addJobHeaders(headers, task, identity);

  let body: string | undefined;
  if (options.body !== undefined) {
    if (method === "GET" || method === "HEAD") throw new TaskFailure(`a ${method} request cannot have a body`);
    if (typeof options.body === "string") body = options.body;
    else {
      body = JSON.stringify(options.body);
      if (!headers.has("content-type")) headers.set("content-type", "application/json");
    }
  }

  const expect: StatusRange[] = options.expectStatus === undefined ? DEFAULT_EXPECT_STATUS : (parseExpectStatus(options.expectStatus) ?? []);
  if (expect.length === 0) throw new TaskFailure(`expectStatus ${JSON.stringify(options.expectStatus)} is not a status, a range or a list of them`);

  // The engine's signal (its own timeout, cancellation) and the task's timeout, whichever first.
  const signal = AbortSignal.any([engineSignal, AbortSignal.timeout(task.timeout * 1000)]);
  const where = `${method} ${shortUrl(url)}`;
  const failed = (err: unknown): never => {
    if (err instanceof TaskFailure) throw err;
    if (engineSignal.aborted) throw new TaskFailure(`${where} aborted: ${reasonText(engineSignal.reason)}`);
    if (signal.aborted) throw new TaskFailure(`${where} timed out after ${task.timeout} s`);
    throw new TaskFailure(`${where} failed: ${err instanceof Error ? err.message : String(err)}`);
  };

  let res: Response;
  try {
    res = await globalThis.fetch(url.toString(), { method, headers, body, redirect: "manual", signal });
  } catch (err) {
    return failed(err);
  }
  let bytes: Uint8Array;
  let truncated: boolean;
  try {
    ({ bytes, truncated } = method === "HEAD" ? { bytes: new Uint8Array(0), truncated: false } : await readCapped(res, HTTP_BODY_LIMIT, signal));
  } catch (err) {
    return failed(err);
  }
  const text = new TextDecoder().decode(bytes);
  let parsed: unknown = text;
  if (!truncated && text !== "" && isJsonType(res.headers.get("content-type"))) {
    try {
      parsed = parseJson(text); // depth-bounded: the result is cloned, stored and templated later
    } catch {
      parsed = text; // says JSON, is not (or is nested deeper than we walk): keep the text
    }
  }
  const result: HttpResult = { status: res.status, headers: redactHeaders(Object.fromEntries(res.headers)) as Record<string, string>, body: parsed };
  if (truncated) result.truncated = true;
  if (!expect.some(([lo, hi]) => res.status >= lo && res.status <= hi)) {
    throw new TaskFailure(`${where} answered ${res.status}; expected ${describeExpectStatus(expect)}`, result);
  }
  return result;
}

// ---------------------------------------------------------------- content.*

function idOption(options: Record<string, unknown>, name: string): number {
  const id = normaliseId(options[name], { trim: true });
  if (id === null) throw new TaskFailure(`${name} ${JSON.stringify(options[name])} is not a positive integer ID`);
  return Number(id);
}

/** `fields` may be one template that rendered to a JSON string (`"{{params.fields}}"`). */
function fieldsOption(options: Record<string, unknown>): unknown {
  if (typeof options.fields !== "string") return options.fields;
  try {
    return JSON.parse(options.fields);
  } catch {
    throw new TaskFailure("fields must be an object of name → value or an array of {name, value}");
  }
}

/**
 * The content.* kinds. With the engine's `identity`, the write is recorded under the task's
 * Idempotency-Key in its own batch, so a re-run of a task whose write committed (its DO instance
 * died before storing the outcome) answers that write instead of making it twice.
 *
 * The write fires triggers like a change through the API: its events carry this job's trigger
 * depth + 1 and its jobID (docs/api/triggers.md, "Loop depth"), and are handed to the queue for
 * dispatch (the cron sweep delivers them should that fail).
 */
async function runContent(
  env: Env,
  task: TaskDefinition,
  options: Record<string, unknown>,
  scope: TemplateScope,
  identity?: TaskIdentity,
): Promise<TaskOutcome> {
  const moduleId = idOption(options, "moduleID");
  const db = getDb(env);
  const userId = scope.job?.userID || SYSTEM_USER_ID;
  const events: number[] = [];
  const write: WriteOptions = {
    effectKey: identity?.idempotencyKey,
    origin: { actor: userId, depth: (scope.job?.triggerDepth ?? 0) + 1, jobID: scope.job?.jobID ?? null },
    events,
  };
  try {
    let outcome: TaskOutcome = {};
    if (task.kind === "content.create") outcome = { result: await createContent(db, moduleId, userId, fieldsOption(options), write) };
    else {
      const contentId = idOption(options, "contentID");
      if (task.kind === "content.update") outcome = { result: await updateContent(db, moduleId, contentId, fieldsOption(options), write) };
      else await deleteContent(db, moduleId, contentId, write);
    }
    if (events.length) await queueEvents(env, events);
    return outcome;
  } catch (err) {
    if (err instanceof ApiError) {
      throw new TaskFailure(err.message, { code: err.code, status: err.status, ...(err.details ? { details: err.details } : {}) });
    }
    throw err;
  }
}

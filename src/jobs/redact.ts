// Credential-bearing headers: the one rule for which header values are credentials, and the
// redactions built on it — of http results before they are stored or logged (for everyone: logs
// and results are durable), and of workflows and log data a token without `admin` reads back.
import type { TaskDefinition } from "./tasks";

/** What a redacted value reads as. */
export const REDACTED = "[redacted]";

const CREDENTIAL_HEADERS = new Set(["authorization", "proxy-authorization", "cookie", "set-cookie"]);

/**
 * Whether a header's value is a credential: authorization, proxy-authorization, cookie,
 * set-cookie, or any name containing `token`, `secret` or `key` (x-api-key, x-auth-token,
 * x-client-secret), whatever the case.
 */
function isCredentialHeader(name: string): boolean {
  const lower = name.toLowerCase();
  return CREDENTIAL_HEADERS.has(lower) || /token|secret|key/.test(lower);
}

/** The headers with every credential value replaced by REDACTED (a new object). */
export function redactHeaders(headers: Record<string, unknown>, keep: (value: unknown) => boolean = () => false): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(headers)) {
    // defineProperty, so that a header named `__proto__` stays a plain key
    Object.defineProperty(out, name, {
      value: isCredentialHeader(name) && !keep(value) ? REDACTED : value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

/**
 * A stored header value that holds no credential of its own: only templates (`{{secrets.API}}`,
 * `{{params.token}}`), optionally after one scheme word (`Bearer {{secrets.API}}`). Readers see
 * it as stored: it shows how the request is built, not what it sends.
 */
const TEMPLATES_ONLY = /^\s*(?:[A-Za-z][A-Za-z0-9._-]*\s+)?(?:\{\{[^{}]*\}\}\s*)+$/;

const holdsNoCredential = (value: unknown) => typeof value === "string" && TEMPLATES_ONLY.test(value);

const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/** The tasks as a token without `admin` reads them: credential header values of http tasks redacted. */
export function redactTasksForReader<T extends TaskDefinition>(tasks: T[]): T[] {
  return tasks.map((task) => {
    const headers = task.options.headers;
    if (task.kind !== "http" || !isPlainObject(headers)) return task;
    return { ...task, options: { ...task.options, headers: redactHeaders(headers, holdsNoCredential) } };
  });
}

/**
 * Log data as a token without `admin` reads it: inside any object, a `headers` object has its
 * credential values redacted. Lines the engine writes are redacted already when written; this
 * covers lines clients wrote and lines written before redaction existed.
 */
export function redactLogData(data: unknown): unknown {
  if (Array.isArray(data)) return data.map(redactLogData);
  if (!isPlainObject(data)) return data;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(data)) {
    const value = k.toLowerCase() === "headers" && isPlainObject(v) ? redactHeaders(v) : redactLogData(v);
    Object.defineProperty(out, k, { value, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

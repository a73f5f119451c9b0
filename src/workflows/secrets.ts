// `{{secrets.NAME}}`: a Worker secret (or var) named TASK_SECRET_NAME, read when a task runs and
// never stored. A workflow holds only the template; the value is looked up by the attempt that
// uses it, and every occurrence of it in what the attempt answers (result, log lines, failure
// message and data) is replaced by REDACTED before the job stores or logs it.
import { REDACTED } from "../jobs/redact";
import { TaskFailure, type TaskOutcome } from "../jobs/tasks";

/** The prefix of the Worker secrets `{{secrets.NAME}}` reads. */
const SECRET_ENV_PREFIX = "TASK_SECRET_";

/** A secret's NAME in `{{secrets.NAME}}`. */
export const SECRET_NAME = /^[A-Za-z0-9_]{1,64}$/;

/** Where a secret may be used: options of an http task whose values are sent, not kept. */
export const SECRET_OPTIONS: ReadonlySet<string> = new Set(["url", "headers", "body"]);

export const SECRET_PLACEMENT = "secrets may be used only in an http task's url, headers and body (anywhere else their value would be stored or logged)";

/** The spellings of a value that may show up in a message or a result: as is, URL- and JSON-escaped. */
function spellings(value: string): string[] {
  const forms = new Set([value, encodeURIComponent(value), encodeURI(value), JSON.stringify(value).slice(1, -1)]);
  forms.add(new URLSearchParams({ v: value }).toString().slice(2));
  try {
    forms.add(new URL(`http://x/${value}`).pathname.slice(1));
    forms.add(new URL(`http://x/?${value}`).search.slice(1));
  } catch {
    // not URL text: the other spellings stand
  }
  forms.delete("");
  return [...forms];
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** The secrets one attempt resolves, and the redaction of their values from what it answers. */
export class AttemptSecrets {
  private readonly forms: string[] = [];
  /** All spellings of all resolved values, longest first (a spelling containing another is replaced whole). */
  private pattern: RegExp | null = null;

  constructor(private readonly env: Env) {}

  /** The value of `{{secrets.NAME}}`; a TaskFailure when it is not set. */
  resolve(name: string): string {
    // `unknown`: a binding of that name could be something other than text (a KV namespace, a JSON var)
    const value: unknown = this.env[`${SECRET_ENV_PREFIX}${name}`];
    if (typeof value !== "string") {
      const why = value === undefined ? "is not set" : "is not a text secret";
      throw new TaskFailure(`secret '${name}' ${why} (expected a Worker secret ${SECRET_ENV_PREFIX}${name})`);
    }
    for (const form of spellings(value)) if (!this.forms.includes(form)) this.forms.push(form);
    this.forms.sort((a, b) => b.length - a.length);
    this.pattern = new RegExp(this.forms.map(escapeRegExp).join("|"), "g");
    return value;
  }

  get used() {
    return this.forms.length > 0;
  }

  /** The text with every spelling of a resolved value replaced by REDACTED (one pass: REDACTED itself is never rewritten). */
  redactText(text: string): string {
    return this.pattern ? text.replace(this.pattern, REDACTED) : text;
  }

  /** The outcome of an attempt with resolved values redacted from its result and log lines. */
  redactOutcome(outcome: TaskOutcome): TaskOutcome {
    if (!this.used) return outcome;
    const out: TaskOutcome = {};
    if (outcome.result !== undefined) out.result = this.redactResult(outcome.result);
    if (outcome.logs) {
      out.logs = outcome.logs.map((l) => ({
        ...l,
        message: this.redactText(l.message),
        ...(l.data !== undefined ? { data: this.redactValue(l.data, false) } : {}),
      }));
    }
    return out;
  }

  /**
   * A result (or a failure's data) with resolved values redacted from every string. Keys are kept
   * (they are the result's own structure: `status`, `headers`, `body`), except inside an http
   * answer's `body`, the one place keys come from outside (a target may echo a value as a key).
   */
  private redactResult(value: unknown): unknown {
    if (value !== null && typeof value === "object" && !Array.isArray(value) && "body" in value) {
      return { ...(this.redactValue(value, false) as object), body: this.redactValue((value as { body: unknown }).body, true) };
    }
    return this.redactValue(value, false);
  }

  private redactValue(value: unknown, keys: boolean): unknown {
    if (typeof value === "string") return this.redactText(value);
    if (Array.isArray(value)) return value.map((v) => this.redactValue(v, keys));
    if (value !== null && typeof value === "object") {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) {
        // defineProperty, so that a key named `__proto__` stays a plain key
        Object.defineProperty(out, keys ? this.redactText(k) : k, { value: this.redactValue(v, keys), enumerable: true, writable: true, configurable: true });
      }
      return out;
    }
    return value;
  }

  /** The error an attempt threw, with resolved values redacted from its message and data. */
  redactError(err: unknown): unknown {
    if (!this.used) return err;
    if (err instanceof TaskFailure) return new TaskFailure(this.redactText(err.message), err.data === undefined ? undefined : this.redactResult(err.data));
    if (err instanceof Error) {
      const clean = new Error(this.redactText(err.message));
      clean.name = err.name;
      return clean;
    }
    return new Error(this.redactText(String(err)));
  }
}

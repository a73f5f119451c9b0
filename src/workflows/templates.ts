// Templates inside task option strings: `{{params.NAME}}`, `{{job.jobID}}`,
// `{{tasks.TASK.PATH}}` (a dotted path into an earlier task's result) and `{{secrets.NAME}}` (a
// Worker secret, read only when the task runs: see secrets.ts).
//
// Syntax: `{{` expression `}}`, spaces allowed inside the braces. An expression is a root
// (`params`, `job`, `tasks`, `secrets`) followed by `.`-separated segments; an array index may also be
// written `[2]` (`tasks.fetch.body.items[0].id` = `tasks.fetch.body.items.0.id`). A `{{` with
// no closing `}}` is plain text. Only string values are templated, never object keys.
//
// Rendering rule (`renderTemplates`):
// - a string that is exactly one template (nothing else, not even spaces) becomes the referenced
//   value itself, keeping its type (number, boolean, object, array, null);
// - any other string has each template replaced by the value's text: strings as they are,
//   numbers and booleans in their JSON spelling, null as an empty string, objects and arrays as
//   JSON;
// - a template whose value does not exist (a parameter the job was not given, a task that has
//   no result, a path that leads nowhere) throws a TemplateError, a TaskFailure: the attempt
//   fails with a message naming the template rather than sending an empty value;
// - rendering is one pass: text produced by a template is never rendered again;
// - secrets are not part of the scope (which jobs store and send around): the caller passes a
//   resolver for them, and without one a `{{secrets.NAME}}` fails the attempt.
import { SECRET_NAME, SECRET_PLACEMENT } from "./secrets";
import { TaskFailure, type TemplateScope } from "../jobs/tasks";
import { templateText } from "../jobs/template-text";

const TEMPLATE_ROOTS = ["params", "job", "tasks", "secrets"] as const;
type TemplateRoot = (typeof TEMPLATE_ROOTS)[number];

/** Fields of `job` a template may name. */
const JOB_FIELDS = ["jobID"] as const;

type TemplateRef = {
  /** The template as written, braces included. */
  source: string;
  root: TemplateRoot;
  /** Segments after the root: `["leadID"]`, `["jobID"]`, `["notify", "body", "id"]`. */
  path: string[];
};

type TemplateProblem = { source: string; message: string };

const TEMPLATE = /\{\{([^{}]*)\}\}/g;
const SEGMENT = /^[^.\s[\]{}]+$/;

/** Splits `a.b[0].c` into segments; null when malformed. */
function splitPath(expr: string): string[] | null {
  const normalised = expr.replace(/\[(\d+)\]/g, ".$1");
  const parts = normalised.split(".");
  return parts.every((p) => SEGMENT.test(p)) ? parts : null;
}

function parseExpression(source: string, inner: string): TemplateRef | TemplateProblem {
  const expr = inner.trim();
  if (expr === "") return { source, message: `empty template ${source}` };
  const parts = splitPath(expr);
  if (!parts) return { source, message: `malformed template ${source}: expected a dotted path such as {{params.NAME}}` };
  const [root, ...path] = parts;
  if (!(TEMPLATE_ROOTS as readonly string[]).includes(root)) {
    return { source, message: `unknown template root '${root}' in ${source}: use params, job, tasks or secrets` };
  }
  if (root === "params" && path.length !== 1) {
    return { source, message: `${source}: write {{params.NAME}} (parameters are strings, with no deeper path)` };
  }
  if (root === "job" && (path.length !== 1 || !(JOB_FIELDS as readonly string[]).includes(path[0]))) {
    return { source, message: `${source}: the job's only template field is {{job.jobID}}` };
  }
  if (root === "secrets" && (path.length !== 1 || !SECRET_NAME.test(path[0]))) {
    return { source, message: `${source}: write {{secrets.NAME}} (NAME: 1 to 64 letters, digits or '_')` };
  }
  if (root === "tasks" && path.length < 1) {
    return { source, message: `${source}: write {{tasks.TASKNAME}} or {{tasks.TASKNAME.PATH}}` };
  }
  return { source, root: root as TemplateRoot, path };
}

const isProblem = (x: TemplateRef | TemplateProblem): x is TemplateProblem => "message" in x;

/** Every template in a string, with the ones that do not parse reported as problems. */
export function parseTemplates(text: string): { refs: TemplateRef[]; problems: TemplateProblem[] } {
  const refs: TemplateRef[] = [];
  const problems: TemplateProblem[] = [];
  for (const match of text.matchAll(TEMPLATE)) {
    const parsed = parseExpression(match[0], match[1]);
    if (isProblem(parsed)) problems.push(parsed);
    else refs.push(parsed);
  }
  return { refs, problems };
}

/** Whether a string holds at least one `{{...}}`. */
export const hasTemplate = (text: string) => /\{\{[^{}]*\}\}/.test(text);

/** Calls `visit` for every string inside a JSON-like value, with its path segments. */
export function walkStrings(value: unknown, visit: (text: string, path: (string | number)[]) => void, path: (string | number)[] = []) {
  if (typeof value === "string") visit(value, path);
  else if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) walkStrings(v, visit, [...path, i]);
  } else if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) walkStrings(v, visit, [...path, k]);
  }
}

/** A template that names something the scope does not hold. */
export class TemplateError extends TaskFailure {}

const MISSING = Symbol("missing");

/** Answers the value of `{{secrets.NAME}}`, or throws a TaskFailure naming the missing secret. */
type SecretResolver = (name: string) => string;

function lookup(ref: TemplateRef, scope: TemplateScope, secret?: SecretResolver): unknown {
  let current: unknown;
  let rest: string[];
  if (ref.root === "secrets") {
    if (!secret) throw new TemplateError(`template ${ref.source}: ${SECRET_PLACEMENT}`);
    try {
      return secret(ref.path[0]);
    } catch (err) {
      if (err instanceof TaskFailure) throw new TemplateError(`template ${ref.source}: ${err.message}`);
      throw err;
    }
  }
  if (ref.root === "params") {
    const name = ref.path[0];
    return Object.hasOwn(scope.params ?? {}, name) ? scope.params[name] : MISSING;
  }
  if (ref.root === "job") {
    current = scope.job;
    rest = ref.path;
  } else {
    const [task, ...path] = ref.path;
    if (!Object.hasOwn(scope.tasks ?? {}, task)) return MISSING;
    current = scope.tasks[task];
    rest = path;
  }
  for (const segment of rest) {
    if (Array.isArray(current) && /^\d+$/.test(segment)) {
      const i = Number(segment);
      if (i >= current.length) return MISSING;
      current = current[i];
    } else if (current !== null && typeof current === "object" && !Array.isArray(current) && Object.hasOwn(current, segment)) {
      current = (current as Record<string, unknown>)[segment];
    } else {
      return MISSING;
    }
  }
  return current === undefined ? MISSING : current;
}

function missingMessage(ref: TemplateRef, scope: TemplateScope): string {
  if (ref.root === "params") return `template ${ref.source}: the job has no parameter '${ref.path[0]}'`;
  if (ref.root === "tasks" && !Object.hasOwn(scope.tasks ?? {}, ref.path[0])) {
    return `template ${ref.source}: task '${ref.path[0]}' has no result (it has not run, or failed)`;
  }
  return `template ${ref.source}: no value at that path`;
}

function renderString(text: string, scope: TemplateScope, secret?: SecretResolver): unknown {
  const whole = /^\{\{([^{}]*)\}\}$/.exec(text);
  if (whole) {
    const parsed = parseExpression(text, whole[1]);
    if (isProblem(parsed)) throw new TemplateError(parsed.message);
    const value = lookup(parsed, scope, secret);
    if (value === MISSING) throw new TemplateError(missingMessage(parsed, scope));
    return structuredClone(value);
  }
  return text.replace(TEMPLATE, (source, inner: string) => {
    const parsed = parseExpression(source, inner);
    if (isProblem(parsed)) throw new TemplateError(parsed.message);
    const value = lookup(parsed, scope, secret);
    if (value === MISSING) throw new TemplateError(missingMessage(parsed, scope));
    return templateText(value);
  });
}

/**
 * Resolves the templates inside every string of `value` (an options object, an array, a string)
 * against `scope`; answers a new value (typed `T` at the caller's word: an exact template may
 * change a string into any JSON type), `value` itself is not changed. Throws a TemplateError
 * (a TaskFailure) when a template names something the scope does not hold. `secret` resolves
 * `{{secrets.NAME}}` (only where one appears); without it such a template is a TemplateError.
 */
export function renderTemplates<T = unknown>(value: unknown, scope: TemplateScope, secret?: SecretResolver): T {
  return renderValue(value, scope, secret) as T;
}

function renderValue(value: unknown, scope: TemplateScope, secret?: SecretResolver): unknown {
  if (typeof value === "string") return renderString(value, scope, secret);
  if (Array.isArray(value)) return value.map((v) => renderValue(v, scope, secret));
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      // defineProperty, so that a key named `__proto__` stays a plain key
      Object.defineProperty(out, k, { value: renderValue(v, scope, secret), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return value;
}

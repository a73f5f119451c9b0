// Request and response schemas of /workflow/, and the options schema of each task kind.
// The body schema checks the workflow's own parameters; each task is checked by validate.ts with
// the per-field and per-kind schemas below, so that one 400 lists every problem of every task.
import { z } from "@hono/zod-openapi";
import { isHttpUrl } from "../fields/registry";
import { normaliseId } from "../http/ids";
import { idString, intParam, jsonParam, timestamp } from "../http/schemas";
import { triggerSchema, triggersParam } from "../triggers/schemas";
import { hasTemplate } from "./templates";
import { TASK_KINDS, type TaskKind } from "../jobs/tasks";

export const HTTP_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] as const;
const TASK_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const MAX_TASKS = 100;
const MAX_RETRIES = 10;
const MAX_RETRY_DELAY = 86_400;
const DEFAULT_TASK_TIMEOUT = 30;
const MAX_TASK_TIMEOUT = 900;
const DEFAULT_WORKFLOW_TIMEOUT = 3600;
/** 366 days: room for the longest `delay` (365 days) plus the other tasks. */
const MAX_WORKFLOW_TIMEOUT = 366 * 86_400;
const MAX_DELAY_SECONDS = 365 * 86_400;
const MAX_EXPECT_STATUS_ENTRIES = 20;
/**
 * A workflow definition (`name`, `tasks` and `onError` as sent, in compact JSON, UTF-8) is at most
 * 256 KiB. It is stored in one D1 row, copied into every job's Durable Object as its snapshot and
 * answered in full by listings, so it stays far below the 2,000,000-byte row limits of both.
 */
export const WORKFLOW_MAX_BYTES = 256 * 1024;

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const STATUS_RANGE = /^([1-5][0-9][0-9])\.\.([1-5][0-9][0-9])$/;

// ---------------------------------------------------------------- expectStatus

export type StatusRange = [number, number];

/**
 * `expectStatus`: a status code (100..599), a range string `"200..299"` (inclusive), or a
 * non-empty array of those. Answers the ranges, or null when the value is not one of these.
 */
export function parseExpectStatus(value: unknown): StatusRange[] | null {
  const one = (v: unknown): StatusRange | null => {
    if (typeof v === "number" && Number.isInteger(v) && v >= 100 && v <= 599) return [v, v];
    if (typeof v === "string") {
      const m = STATUS_RANGE.exec(v.trim());
      if (m && Number(m[1]) <= Number(m[2])) return [Number(m[1]), Number(m[2])];
    }
    return null;
  };
  if (Array.isArray(value)) {
    if (value.length === 0 || value.length > MAX_EXPECT_STATUS_ENTRIES) return null;
    const ranges = value.map(one);
    return ranges.every((r) => r !== null) ? (ranges as StatusRange[]) : null;
  }
  const r = one(value);
  return r ? [r] : null;
}

export const DEFAULT_EXPECT_STATUS: StatusRange[] = [[200, 299]];

export const describeExpectStatus = (ranges: StatusRange[]) => ranges.map(([lo, hi]) => (lo === hi ? String(lo) : `${lo}..${hi}`)).join(", ");

// ---------------------------------------------------------------- option pieces

const required = (what: string) => ({ error: (issue: { input: unknown }) => (issue.input === undefined ? "is required" : `must be ${what}`) });

/** An ID (string or number, stored as a decimal string) or a string holding templates. */
const idOrTemplate = () =>
  z.union([z.string(), z.number()], required("an ID or a template")).transform((v, ctx) => {
    if (typeof v === "string" && hasTemplate(v)) return v;
    const id = normaliseId(v);
    if (id === null) {
      ctx.addIssue({ code: "custom", message: "must be a positive integer ID (or a template such as {{params.ID}})" });
      return z.NEVER;
    }
    return id;
  });

/**
 * Content fields as the content API takes them: an object by name, or an array of {name, value};
 * or a string that is exactly one template (`"{{tasks.fetch.body.fields}}"`), checked when the
 * task runs.
 */
const contentFields = () =>
  z.unknown().superRefine((value, ctx) => {
    if (value === undefined) {
      ctx.addIssue({ code: "custom", message: "is required" });
      return;
    }
    if (typeof value === "string" && /^\{\{[^{}]*\}\}$/.test(value)) return;
    if (Array.isArray(value)) {
      value.forEach((item, i) => {
        const ok =
          item !== null &&
          typeof item === "object" &&
          !Array.isArray(item) &&
          typeof (item as { name?: unknown }).name === "string" &&
          (item as { name?: unknown }).name !== "";
        if (!ok) ctx.addIssue({ code: "custom", path: [i], message: "must be an object {name, value}" });
      });
      return;
    }
    if (value === null || typeof value !== "object") {
      ctx.addIssue({ code: "custom", message: "must be an object of field values, or an array of {name, value}" });
    }
  });

const nonEmptyText = () => z.string(required("a string")).min(1, "must not be empty").max(16_384, "at most 16384 characters");

/** A URL: absolute http(s), or starting with a template (then checked when the task runs). */
const urlOption = () =>
  z
    .string(required("a string"))
    .max(8192, "at most 8192 characters")
    .refine((url) => {
      if (url.startsWith("{{")) return true;
      if (!/^https?:\/\//i.test(url)) return false;
      return isHttpUrl(url.replace(/\{\{[^{}]*\}\}/g, "x"));
    }, "must be an absolute http or https URL");

const methodOption = () =>
  z
    .string(required("a string"))
    .default("GET")
    .transform((m) => (hasTemplate(m) ? m : m.toUpperCase()))
    .refine((m) => hasTemplate(m) || (HTTP_METHODS as readonly string[]).includes(m), `must be one of ${HTTP_METHODS.join(", ")}`);

// ---------------------------------------------------------------- kinds

export const optionSchemas: Record<TaskKind, z.ZodType<Record<string, unknown>>> = {
  log: z.object({ message: nonEmptyText() }),
  delay: z.object({
    seconds: z.number(required("a number of seconds")).min(0, "must be at least 0").max(MAX_DELAY_SECONDS, `must be at most ${MAX_DELAY_SECONDS} (365 days)`),
  }),
  http: z
    .object({
      method: methodOption(),
      url: urlOption(),
      headers: z
        .record(z.string().regex(HEADER_NAME, "is not a valid header name"), z.string({ error: "must be a string" }), {
          error: (issue) => (issue.code === "invalid_type" ? "must be an object of header names to strings" : undefined),
        })
        .optional(),
      body: z.unknown().optional(),
      expectStatus: z
        .unknown()
        .refine(
          (v) => v === undefined || parseExpectStatus(v) !== null,
          `must be a status code (100..599), a range such as "200..299", or a non-empty array of them (at most ${MAX_EXPECT_STATUS_ENTRIES})`,
        )
        .optional(),
    })
    .superRefine((o, ctx) => {
      if ((o.method === "GET" || o.method === "HEAD") && o.body !== undefined) {
        ctx.addIssue({ code: "custom", path: ["body"], message: `a ${o.method} request cannot have a body` });
      }
    }),
  "content.create": z.object({ moduleID: idOrTemplate(), fields: contentFields() }),
  "content.update": z.object({ moduleID: idOrTemplate(), contentID: idOrTemplate(), fields: contentFields() }),
  "content.delete": z.object({ moduleID: idOrTemplate(), contentID: idOrTemplate() }),
  fail: z.object({ message: nonEmptyText() }),
};

/** Kinds whose tasks produce a result later templates can read. */
export const KINDS_WITH_RESULT: ReadonlySet<TaskKind> = new Set(["http", "content.create", "content.update"]);

/** Each top-level key of a task, checked on its own so every problem is reported. */
export const taskFieldSchemas = {
  name: z.string(required("a string")).regex(TASK_NAME, "must be 1 to 64 letters, digits, '_' or '-'"),
  kind: z.string(required("a string")).refine((k) => (TASK_KINDS as readonly string[]).includes(k), {
    message: `must be one of ${TASK_KINDS.join(", ")}`,
  }),
  options: z.record(z.string(), z.unknown(), { error: "must be an object" }).default({}),
  retries: z
    .array(
      z.number({ error: "must be a number of seconds" }).min(0, "must be at least 0").max(MAX_RETRY_DELAY, `must be at most ${MAX_RETRY_DELAY} (one day)`),
      { error: "must be an array of delays in seconds" },
    )
    .max(MAX_RETRIES, `at most ${MAX_RETRIES} retries`)
    .default([]),
  timeout: z
    .number({ error: "must be a number of seconds" })
    .min(1, "must be at least 1")
    .max(MAX_TASK_TIMEOUT, `must be at most ${MAX_TASK_TIMEOUT}`)
    .default(DEFAULT_TASK_TIMEOUT),
};

// ---------------------------------------------------------------- request and response

const taskSchema = z
  .object({
    name: z.string().openapi({ example: "notify" }),
    kind: z.enum(TASK_KINDS),
    options: z.record(z.string(), z.unknown()).openapi({ example: { method: "POST", url: "https://hooks.example.com/x" } }),
    retries: z.array(z.number()).openapi({ example: [1, 5, 30] }),
    timeout: z.number().openapi({ example: 10 }),
  })
  .openapi("WorkflowTask");

/**
 * A task as a request may write it: `taskFieldSchemas` documented (the answer's WorkflowTask has
 * every key). Registered as the component WorkflowTaskInput by the routes.
 */
export const taskInputDoc = {
  type: "object" as const,
  required: ["name", "kind"],
  properties: {
    name: { type: "string" as const, pattern: TASK_NAME.source, example: "notify" },
    kind: { type: "string" as const, enum: [...TASK_KINDS] },
    options: { type: "object" as const, description: "the kind's options", example: { message: "hello {{params.leadID}}" } },
    retries: {
      type: "array" as const,
      maxItems: MAX_RETRIES,
      items: { type: "number" as const, minimum: 0, maximum: MAX_RETRY_DELAY },
      description: "delays in seconds before each retry; default none",
    },
    timeout: { type: "number" as const, minimum: 1, maximum: MAX_TASK_TIMEOUT, description: `seconds for one attempt; default ${DEFAULT_TASK_TIMEOUT}` },
  },
};

const taskList = (what: string) =>
  jsonParam(z.array(z.unknown(), { error: `must be an array of tasks` }).max(MAX_TASKS, `at most ${MAX_TASKS} tasks`))
    .default([])
    .openapi({
      type: "array",
      maxItems: MAX_TASKS,
      items: { $ref: "#/components/schemas/WorkflowTaskInput" },
      description: `${what} (a JSON string in a form); default []`,
    });

/**
 * The workflow `timeout`: an integer number of seconds. Its decimal spelling ("120") is accepted
 * only in a form (through intParam, which honours withFormSpellings); in a JSON body a string is
 * a 400, like any value of the wrong type.
 */
const workflowTimeout = () =>
  z
    .unknown()
    .transform((v, ctx): number => {
      const parsed = intParam().safeParse(v);
      const n = parsed.success ? parsed.data : v;
      if (typeof n !== "number" || !Number.isInteger(n)) {
        ctx.addIssue({ code: "custom", message: "must be an integer number of seconds" });
        return z.NEVER;
      }
      if (n < 1 || n > MAX_WORKFLOW_TIMEOUT) {
        ctx.addIssue({ code: "custom", message: n < 1 ? "must be at least 1" : `must be at most ${MAX_WORKFLOW_TIMEOUT} (366 days)` });
        return z.NEVER;
      }
      return n;
    })
    .optional()
    .transform((v) => v ?? DEFAULT_WORKFLOW_TIMEOUT)
    .openapi({ type: "integer", example: 300, description: "seconds for the whole job; default 3600" });

export const workflowBody = z.object({
  name: z.string(required("a string")).trim().min(1, "must not be empty").max(200, "at most 200 characters"),
  timeout: workflowTimeout(),
  tasks: taskList("the tasks, run in order"),
  onError: taskList("tasks run when the job fails"),
  triggers: triggersParam(),
});

export const workflowSchema = z
  .object({
    workflowID: idString,
    name: z.string(),
    timeout: z.number(),
    tasks: z.array(taskSchema),
    onError: z.array(taskSchema),
    triggers: z.array(triggerSchema).optional().openapi({ description: "present only when the workflow has triggers" }),
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .openapi("Workflow");

// Request and response schemas of /job/.
import { z } from "@hono/zod-openapi";
import { enumQuery, idQuery, idString, idValue, jsonParam, listMeta, logAfterParam, pagingParams, timestamp } from "../http/schemas";
import { JOB_STATUSES, LOG_LEVELS } from "./states";

/** RFC 3339 date-time with any offset (or Z); normalised to UTC ms by `parseStartAt`. */
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-](\d{2}):(\d{2}))$/;

/**
 * The latest accepted `startAt` (exclusive): 2100-01-01T00:00:00Z. Durable Object alarms refuse
 * times past 2189 (and the engine clamps its alarm anyway), and a job scheduled further ahead
 * is a mistake, not a plan. There is no lower bound: any past instant, year 0000 included, means
 * "start at once" (the contract's rule for a past `startAt`).
 */
export const MAX_START_AT_MS = Date.UTC(2100, 0, 1);
export const MAX_START_AT = new Date(MAX_START_AT_MS).toISOString();

/** ms since the epoch, or null when the text is not a real RFC 3339 date-time. */
export function parseStartAt(text: string): number | null {
  const m = RFC3339.exec(text.trim());
  if (!m) return null;
  const [, y, mo, d, h, mi, s] = m.map(Number);
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 60) return null;
  const daysInMonth = new Date(Date.UTC(y, mo, 0)).getUTCDate();
  if (d > daysInMonth) return null;
  if (m[9] !== undefined && (Number(m[9]) > 23 || Number(m[10]) > 59)) return null;
  const ms = Date.parse(text.trim().replace(" ", "T").toUpperCase());
  return Number.isFinite(ms) ? ms : null;
}

const startAtParam = () =>
  z
    .union([z.string(), z.null()], { error: "must be an RFC 3339 date-time string" })
    .transform((v, ctx) => {
      if (v === null || v.trim() === "") return null; // absent: start now
      const ms = parseStartAt(v);
      if (ms === null) {
        ctx.addIssue({ code: "custom", message: "must be an RFC 3339 date-time, e.g. 2026-11-27T20:18:49Z or 2026-11-27T21:18:49+01:00" });
        return z.NEVER;
      }
      if (ms >= MAX_START_AT_MS) {
        ctx.addIssue({ code: "custom", message: `must be before ${MAX_START_AT}` });
        return z.NEVER;
      }
      return ms;
    })
    .openapi({
      type: ["string", "null"],
      format: "date-time",
      example: "2026-11-27T20:18:49.000Z",
      description: "RFC 3339, any offset; null, empty or past: start at once",
    });

/**
 * Bounds of a job's `parameters`, which the job's Durable Object stores with its definition, the
 * D1 mirror row repeats, and every listing answers: at most 100 parameters, names of at most 64
 * characters, and 64 KiB as JSON (UTF-8, as `JSON.stringify` writes it). A listing page of 100
 * jobs stays under 6.5 MiB, and a mirror row far below D1's 2,000,000-byte row limit.
 */
export const PARAMETERS_MAX_COUNT = 100;
export const PARAMETER_NAME_MAX_CHARS = 64;
export const PARAMETERS_MAX_BYTES = 64 * 1024;

const utf8Bytes = (text: string) => new TextEncoder().encode(text).byteLength;

/** The size problems of a parameters object (each on the path `parameters`). */
function parametersTooLarge(parameters: Record<string, string>): string[] {
  const names = Object.keys(parameters);
  if (names.length > PARAMETERS_MAX_COUNT) return [`at most ${PARAMETERS_MAX_COUNT} parameters (got ${names.length})`];
  const problems: string[] = [];
  const long = names.find((name) => [...name].length > PARAMETER_NAME_MAX_CHARS);
  if (long !== undefined) {
    problems.push(`parameter names are at most ${PARAMETER_NAME_MAX_CHARS} characters (got ${[...long].length}: '${[...long].slice(0, 20).join("")}…')`);
  }
  const bytes = utf8Bytes(JSON.stringify(parameters));
  if (bytes > PARAMETERS_MAX_BYTES) problems.push(`is ${bytes} bytes as JSON; at most ${PARAMETERS_MAX_BYTES} (64 KiB)`);
  return problems;
}

/**
 * `parameters`: an object of strings, within the bounds above. Built by hand with Object.fromEntries (which defines keys)
 * rather than by a record schema (which assigns them), so that a parameter named `__proto__` is
 * kept as an ordinary key like any other instead of being silently dropped.
 */
export const parametersParam = () =>
  jsonParam(
    z.unknown().transform((value, ctx): Record<string, string> => {
      if (value === null || typeof value !== "object" || Array.isArray(value)) {
        ctx.addIssue({ code: "custom", message: "must be an object of strings" });
        return z.NEVER;
      }
      const entries = Object.entries(value);
      let ok = true;
      for (const [key, v] of entries) {
        if (typeof v !== "string") {
          ctx.addIssue({ code: "custom", path: [key], message: "must be a string" });
          ok = false;
        }
      }
      if (!ok) return z.NEVER;
      const parameters = Object.fromEntries(entries) as Record<string, string>;
      const problems = parametersTooLarge(parameters);
      for (const message of problems) ctx.addIssue({ code: "custom", message });
      return problems.length ? z.NEVER : parameters;
    }),
  ).openapi({
    type: "object",
    additionalProperties: { type: "string" },
    example: { leadID: "42" },
    maxProperties: PARAMETERS_MAX_COUNT,
    description: `a map of strings (a JSON string in a form): at most ${PARAMETERS_MAX_COUNT} parameters, names of at most ${PARAMETER_NAME_MAX_CHARS} characters, ${PARAMETERS_MAX_BYTES / 1024} KiB as JSON`,
  });

const statusParam = () => z.enum(JOB_STATUSES, { error: `must be one of ${JOB_STATUSES.join(", ")}` });

const logLineInput = z.object({
  message: z.string({ error: (i) => (i.input === undefined ? "is required" : "must be a string") }).min(1, "must not be empty"),
  level: z.enum(LOG_LEVELS, { error: "must be info, warn or error" }).default("info"),
  data: z.unknown().optional(),
});

const MAX_LOG_LINES_PER_REQUEST = 100;

/**
 * `workflowID`: missing (or null, or "" as an empty form field) in `POST /job/` is "is required";
 * anything else that is not an ID is "must be a positive integer ID", as on every route.
 */
export const workflowIdParam = (required: boolean) => idValue({ required });

export const createJobBody = z.object({
  workflowID: workflowIdParam(true),
  startAt: startAtParam().optional(),
  parameters: parametersParam().optional(),
});

type LogLineInput = z.output<typeof logLineInput>;

/**
 * `log`: one line object or an array of at most 100. Checked by hand rather than as a union, so
 * that a 400 points at the problem (`log.message`, `log[3].level`, "at most 100 lines") instead of
 * saying only that the union did not match.
 */
const logParam = () =>
  jsonParam(
    z.unknown().transform((value, ctx): LogLineInput[] => {
      const many = Array.isArray(value);
      if (!many && (value === null || typeof value !== "object")) {
        ctx.addIssue({ code: "custom", message: "must be a log line object or an array of them" });
        return z.NEVER;
      }
      const lines: unknown[] = many ? value : [value];
      if (lines.length > MAX_LOG_LINES_PER_REQUEST) {
        ctx.addIssue({ code: "custom", message: `at most ${MAX_LOG_LINES_PER_REQUEST} lines per request (got ${lines.length})` });
        return z.NEVER;
      }
      const out: LogLineInput[] = [];
      lines.forEach((line, i) => {
        const at = many ? [i] : [];
        if (line === null || typeof line !== "object" || Array.isArray(line)) {
          ctx.addIssue({ code: "custom", path: at, message: "must be a log line object {message, level?, data?}" });
          return;
        }
        const parsed = logLineInput.safeParse(line);
        if (parsed.success) out.push(parsed.data);
        else for (const issue of parsed.error.issues) ctx.addIssue({ code: "custom", path: [...at, ...(issue.path as PropertyKey[])], message: issue.message });
      });
      return out;
    }),
  );

export const updateJobBody = z.object({
  log: logParam()
    .optional()
    .openapi({
      description: "a line {message, level?, data?} or an array of at most 100 lines (a JSON string in a form)",
      oneOf: [
        {
          type: "object",
          required: ["message"],
          properties: { message: { type: "string", minLength: 1 }, level: { type: "string", enum: [...LOG_LEVELS] }, data: {} },
        },
        {
          type: "array",
          maxItems: MAX_LOG_LINES_PER_REQUEST,
          items: {
            type: "object",
            required: ["message"],
            properties: { message: { type: "string", minLength: 1 }, level: { type: "string", enum: [...LOG_LEVELS] }, data: {} },
          },
        },
      ],
    }),
  status: statusParam().optional(),
  workflowID: workflowIdParam(false).optional(),
  startAt: startAtParam().optional(),
  parameters: parametersParam().optional(),
});

export const jobListQuery = z.object({
  status: enumQuery(JOB_STATUSES).openapi({ description: "only jobs in this status" }),
  workflowID: idQuery().openapi({ description: "only jobs of this workflow" }),
  scheduleID: idQuery().openapi({ description: "only jobs started by this schedule" }),
  triggerContentID: idQuery().openapi({ description: "only jobs a trigger started for this content item (its change or its date)" }),
  ...pagingParams,
});

export const jobLogsQuery = z.object({
  ...pagingParams,
  after: logAfterParam,
});

export const jobSchema = z
  .object({
    jobID: idString,
    workflowID: idString,
    status: z.enum(JOB_STATUSES),
    startAt: timestamp,
    startedAt: timestamp.nullable(),
    finishedAt: timestamp.nullable(),
    parameters: z.record(z.string(), z.string()),
    progress: z.object({ task: z.string().nullable(), done: z.number(), total: z.number() }),
    error: z.string().nullable(),
    scheduleID: idString.nullable().openapi({ description: "the schedule that started the job; null for jobs posted by clients" }),
    scheduledFor: timestamp
      .nullable()
      .openapi({ description: "the schedule's fire time the job stands for (one job per schedule and fire time); null for jobs posted by clients" }),
    triggeredBy: z
      .object({
        event: z.string().openapi({ example: "content.updated" }),
        moduleID: idString,
        contentID: idString,
        depth: z.number().openapi({ description: "1 for a change through the API, one more per triggered job in between" }),
        field: z.string().optional().openapi({ description: "content.date: the date field" }),
        dueAt: timestamp.optional().openapi({ description: "content.date: the item's date plus the trigger's offset" }),
      })
      .optional()
      .openapi({ description: "present only on jobs a record or date trigger started: the change (or date) that started it" }),
    import: z
      .object({
        moduleID: idString,
        format: z.enum(["csv", "json", "ndjson"]),
        mode: z.enum(["all", "valid"]),
        key: z.string().nullable().openapi({ description: "the key field (`key=`); null: every row is new" }),
        onConflict: z.enum(["skip", "update", "error"]).nullable(),
        triggers: z.boolean().openapi({ description: "false: the import records no trigger events (`triggers=false`)" }),
        rows: z.number().openapi({ description: "data rows in the file" }),
        staged: z.number().openapi({ description: "rows checked and waiting to be published" }),
        skipped: z.number().openapi({ description: "rows whose key matched an item (`onConflict=skip`)" }),
        rejected: z.number().openapi({ description: "rows refused; `GET /job/{jobID}/report` lists them" }),
        created: z.number().openapi({ description: "items created (0 until the import publishes)" }),
        updated: z.number().openapi({ description: "items updated (0 until the import publishes)" }),
      })
      .optional()
      .openapi({ description: "present only on import jobs (`POST /module/{moduleID}/import`)" }),
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .openapi("Job");

export const jobListSchema = z.object({ meta: listMeta, jobs: z.array(jobSchema) });

export const logLineSchema = z
  .object({
    seq: z.number(),
    time: timestamp,
    level: z.enum(LOG_LEVELS),
    task: z.string().nullable(),
    message: z.string(),
    data: z.unknown(),
  })
  .openapi("JobLogLine");

export const jobLogsSchema = z.object({ meta: listMeta, logs: z.array(logLineSchema) });

// Request and response schemas of /schedule/. They validate (each problem a 400 `details` entry on
// its field) and document the routes in /openapi.json.
import { z } from "@hono/zod-openapi";
import { boolParam, idQuery, idString, intParam, listMeta, logAfterParam, pagingParams, timestamp } from "../http/schemas";
import { MAX_START_AT, MAX_START_AT_MS, parametersParam, parseStartAt, workflowIdParam } from "../jobs/schemas";
import { JOB_STATUSES, LOG_LEVELS } from "../jobs/states";
import { canonicalTimeZone, cronProblem } from "./cron";
import { BACKFILL_MAX_FIRES, CATCHUP_WINDOW_DEFAULT_S, CATCHUP_WINDOW_MAX_S, CATCHUP_WINDOW_MIN_S, CRON_MAX_CHARS } from "./limits";
import { OVERLAP_POLICIES } from "./model";

const cronParam = () =>
  z
    .string({ error: (i) => (i.input === undefined ? "is required" : "must be a string") })
    .transform((v, ctx) => {
      const problem = cronProblem(v);
      if (problem) {
        ctx.addIssue({ code: "custom", message: problem.message });
        return z.NEVER;
      }
      return v.trim();
    })
    .openapi({
      type: "string",
      example: "0 8 * * MON-FRI",
      maxLength: CRON_MAX_CHARS,
      description:
        "five fields (minute hour day-of-month month day-of-week) with lists, ranges, steps and names (MON-FRI, JAN), or @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly",
    });

const timezoneParam = () =>
  z
    .string({ error: "must be a string" })
    .transform((v, ctx) => {
      const zone = canonicalTimeZone(v);
      if (!zone) {
        ctx.addIssue({ code: "custom", message: `unknown time zone '${v.slice(0, 64)}': use an IANA name such as Europe/Ljubljana or UTC` });
        return z.NEVER;
      }
      return zone;
    })
    .openapi({ type: "string", example: "Europe/Ljubljana", description: "an IANA time zone name (default UTC)" });

/** An RFC 3339 date-time (any offset) as ms, before 2100; null or "" clears it. */
const instantParam = (what: string) =>
  z
    .union([z.string(), z.null()], { error: (i) => (i.input === undefined ? "is required" : "must be an RFC 3339 date-time string") })
    .transform((v, ctx) => {
      if (v === null || v.trim() === "") return null;
      const ms = parseStartAt(v);
      if (ms === null) {
        ctx.addIssue({ code: "custom", message: "must be an RFC 3339 date-time, e.g. 2026-11-27T08:00:00Z or 2026-11-27T09:00:00+01:00" });
        return z.NEVER;
      }
      if (ms >= MAX_START_AT_MS) {
        ctx.addIssue({ code: "custom", message: `must be before ${MAX_START_AT}` });
        return z.NEVER;
      }
      return ms;
    })
    .openapi({ type: ["string", "null"], format: "date-time", example: "2026-12-01T00:00:00.000Z", description: what });

const overlapParam = () =>
  z.enum(OVERLAP_POLICIES, { error: `must be one of ${OVERLAP_POLICIES.join(", ")}` }).openapi({
    description:
      "what a fire time does while an earlier job of the schedule is queued or running: skip (default: no start, the time is logged as skipped), buffer_one (start it when that job ends; one at most, later ones skipped), allow_all (start anyway), cancel_other (cancel that job, then start)",
  });

const catchupParam = () =>
  intParam()
    .pipe(
      z
        .number()
        .min(CATCHUP_WINDOW_MIN_S, `must be at least ${CATCHUP_WINDOW_MIN_S} seconds`)
        .max(CATCHUP_WINDOW_MAX_S, `must be at most ${CATCHUP_WINDOW_MAX_S} seconds (7 days)`),
    )
    .openapi({
      type: "integer",
      example: CATCHUP_WINDOW_DEFAULT_S,
      description: `seconds (${CATCHUP_WINDOW_MIN_S}..${CATCHUP_WINDOW_MAX_S}, default ${CATCHUP_WINDOW_DEFAULT_S}): after downtime, a fire time missed by at most this long still starts (once); older ones are recorded as missed`,
    });

const pausedParam = () => boolParam().openapi({ type: "boolean", description: 'a boolean, or "true"/"false" in a form' });

export const createScheduleBody = z.object({
  workflowID: workflowIdParam(true),
  cron: cronParam(),
  timezone: timezoneParam().optional(),
  parameters: parametersParam().optional(),
  startAt: instantParam("no fire time before this instant (inclusive); null: none").optional(),
  endAt: instantParam("no fire time after this instant (inclusive); null: none").optional(),
  overlap: overlapParam().optional(),
  catchupWindow: catchupParam().optional(),
  paused: pausedParam().optional(),
});

/** Every field optional: what is sent changes, the rest stays; `startAt`/`endAt` null clear them. */
export const updateScheduleBody = z.object({
  workflowID: workflowIdParam(false).optional(),
  cron: cronParam().optional(),
  timezone: timezoneParam().optional(),
  parameters: parametersParam().optional(),
  startAt: instantParam("no fire time before this instant (inclusive); null clears it").optional(),
  endAt: instantParam("no fire time after this instant (inclusive); null clears it").optional(),
  overlap: overlapParam().optional(),
  catchupWindow: catchupParam().optional(),
  paused: pausedParam().optional(),
});

export const triggerBody = z.object({
  overlap: overlapParam().optional().openapi({ description: "overrides the schedule's overlap policy for this start" }),
});

export const backfillBody = z.object({
  from: instantParam("the first instant of the range (inclusive)")
    .refine((v) => v !== null, "is required")
    .openapi({ type: "string" }),
  to: instantParam("the last instant of the range (inclusive); not in the future")
    .refine((v) => v !== null, "is required")
    .openapi({ type: "string" }),
  overlap: overlapParam().optional().openapi({ description: "overrides the schedule's overlap policy for these starts (allow_all starts every one)" }),
});

export const scheduleListQuery = z.object({
  workflowID: idQuery().openapi({ description: "only schedules of this workflow" }),
  ...pagingParams,
});

export const scheduleLogQuery = z.object({
  ...pagingParams,
  after: logAfterParam,
});

const fireTimeSchema = z.object({
  utc: timestamp,
  local: z
    .string()
    .openapi({ example: "2026-11-30T08:00:00.000+01:00", description: "the same instant as wall-clock time in the schedule's zone, with its offset" }),
});

const lastRunSchema = z.object({
  jobID: idString,
  scheduledFor: timestamp.nullable(),
  status: z.enum(JOB_STATUSES),
  startedAt: timestamp.nullable(),
  finishedAt: timestamp.nullable(),
});

export const scheduleSchema = z
  .object({
    scheduleID: idString,
    workflowID: idString,
    cron: z.string(),
    timezone: z.string(),
    parameters: z.record(z.string(), z.string()),
    startAt: timestamp.nullable(),
    endAt: timestamp.nullable(),
    overlap: z.enum(OVERLAP_POLICIES),
    catchupWindow: z.number().int(),
    paused: z.boolean(),
    nextRuns: z.array(fireTimeSchema).openapi({ description: "the next five fire times (empty while paused or after endAt)" }),
    lastRuns: z.array(lastRunSchema).openapi({ description: "the five jobs the schedule started most recently, newest first" }),
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .openapi("Schedule");

export const scheduleListSchema = z.object({ meta: listMeta, schedules: z.array(scheduleSchema) });

export const runSchema = z
  .object({
    scheduledFor: timestamp,
    action: z.enum(["started", "existing", "skipped", "buffered", "failed"]),
    jobID: idString.nullable(),
    reason: z.string().nullable(),
  })
  .openapi("ScheduleRun");

export const backfillSchema = z.object({
  runs: z.array(runSchema).openapi({ description: `one per fire time in the range, oldest first (at most ${BACKFILL_MAX_FIRES})` }),
});

export const scheduleLogSchema = z.object({
  meta: listMeta,
  logs: z.array(z.object({ seq: z.number(), time: timestamp, level: z.enum(LOG_LEVELS), message: z.string(), data: z.unknown() }).openapi("ScheduleLogLine")),
});

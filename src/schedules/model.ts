// Types shared by the schedule routes, the service, the schedule's Durable Object and the sweep.
import type { ErrorCode } from "../http/errors";
import type { schedules } from "../db/schema";
import type { CronSpec, Window } from "./cron";
import type { z } from "@hono/zod-openapi";
import type { runSchema, scheduleLogSchema, scheduleSchema } from "./schemas";

export const OVERLAP_POLICIES = ["skip", "buffer_one", "allow_all", "cancel_other"] as const;
export type OverlapPolicy = (typeof OVERLAP_POLICIES)[number];

export type ScheduleRow = typeof schedules.$inferSelect;

/** The schedule's JSON: scheduleSchema's, field by field. */
export type ScheduleView = z.output<typeof scheduleSchema>;

/** A job the schedule started, as `lastRuns` shows it. */
export type LastRun = ScheduleView["lastRuns"][number];

/**
 * What became of one fire time (or a trigger): a job `started`, one that already held the time
 * (`existing`), `skipped` or `buffered` by the overlap policy, or `failed` (the workflow is gone).
 */
export type Run = z.output<typeof runSchema>;
export type RunAction = Run["action"];

export type ScheduleLogLine = z.output<typeof scheduleLogSchema>["logs"][number];

/** DO answers cross the RPC boundary as data (custom error fields do not survive RPC). */
export type ScheduleResult<T> = { ok: true; value: T } | { ok: false; code: ErrorCode; message: string };

export const specOf = (row: Pick<ScheduleRow, "cron" | "timezone">): CronSpec => ({ cron: row.cron, timezone: row.timezone });

const ms = (text: string | null) => (text === null ? null : Date.parse(text));

export const windowOf = (row: Pick<ScheduleRow, "startAt" | "endAt">): Window => ({ startAt: ms(row.startAt), endAt: ms(row.endAt) });

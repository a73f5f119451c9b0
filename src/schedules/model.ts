// Types shared by the schedule routes, the service, the schedule's Durable Object and the sweep.
import type { ErrorCode } from "../http/errors";
import type { schedules } from "../db/schema";
import type { JobStatus } from "../jobs/states";
import type { CronSpec, Window } from "./cron";

export const OVERLAP_POLICIES = ["skip", "buffer_one", "allow_all", "cancel_other"] as const;
export type OverlapPolicy = (typeof OVERLAP_POLICIES)[number];

export type ScheduleRow = typeof schedules.$inferSelect;

/** One fire time as a schedule's JSON shows it: the instant, and the wall-clock time in its zone. */
export type FireTime = { utc: string; local: string };

/** A job the schedule started, as `lastRuns` shows it. */
export type LastRun = { jobID: string; scheduledFor: string | null; status: JobStatus; startedAt: string | null; finishedAt: string | null };

/** The schedule's JSON. */
export type ScheduleView = {
  scheduleID: string;
  workflowID: string;
  cron: string;
  timezone: string;
  parameters: Record<string, string>;
  startAt: string | null;
  endAt: string | null;
  overlap: OverlapPolicy;
  catchupWindow: number;
  paused: boolean;
  nextRuns: FireTime[];
  lastRuns: LastRun[];
  createdAt: string;
  updatedAt: string;
};

/**
 * What became of one fire time (or a trigger): a job `started`, one that already held the time
 * (`existing`), `skipped` or `buffered` by the overlap policy, or `failed` (the workflow is gone).
 */
export type RunAction = "started" | "existing" | "skipped" | "buffered" | "failed";
export type Run = { scheduledFor: string; action: RunAction; jobID: string | null; reason: string | null };

export type ScheduleLogLine = { seq: number; time: string; level: "info" | "warn" | "error"; message: string; data: unknown };

/** DO answers cross the RPC boundary as data (custom error fields do not survive RPC). */
export type ScheduleResult<T> = { ok: true; value: T } | { ok: false; code: ErrorCode; message: string };

export const specOf = (row: Pick<ScheduleRow, "cron" | "timezone">): CronSpec => ({ cron: row.cron, timezone: row.timezone });

const ms = (text: string | null) => (text === null ? null : Date.parse(text));

export const windowOf = (row: Pick<ScheduleRow, "startAt" | "endAt">): Window => ({ startAt: ms(row.startAt), endAt: ms(row.endAt) });

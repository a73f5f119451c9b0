// Types shared by the job's Durable Object, the routes, the queue consumer and the sweep.
import type { ErrorDetail } from "../http/errors";
import type { ImportSpec } from "./import-job";
import type { TaskLogLine, WorkflowSnapshot } from "./tasks";
import type { JobStatus } from "./states";
import type { z } from "@hono/zod-openapi";
import type { ErrorCode } from "../http/errors";
import type { jobSchema, logLineSchema } from "./schemas";

/** The job as the API shows it (the contract's JSON): jobSchema's, field by field. */
export type JobView = z.output<typeof jobSchema>;

export type Progress = JobView["progress"];

/** Which schedule made a job, for which of its fire times (ms since the epoch): the job's identity. */
export type JobOrigin = { scheduleID: string; scheduledFor: number };

/** `triggeredBy` in a job's JSON (docs/api/triggers.md, "What a job gets"): content.created, content.updated, content.deleted or content.date. */
export type TriggeredBy = NonNullable<JobView["triggeredBy"]>;

/** Which trigger made a job: `key` is the job's identity (one job per event and workflow, or per date trigger, item and date). */
export type TriggerOrigin = TriggeredBy & { key: string };

export type LogLine = z.output<typeof logLineSchema>;
export type LogLevel = LogLine["level"];
export type LogInput = { level: LogLevel; message: string; data?: unknown };

/** What the Worker hands the DO to create a job (validated already). */
export type CreateInput = {
  jobID: string;
  workflowID: string;
  snapshot: WorkflowSnapshot;
  parameters: Record<string, string>;
  /** ms since the epoch; absent: now. */
  startAt: number | null;
  /** ms since the epoch; the mirror row's createdAt, so both agree. */
  createdAt: number;
  /** The token subject that created the job (content.create stores it as the item's userID). */
  userID?: string;
  /** Set when a schedule starts the job. */
  schedule?: JobOrigin;
  /** Set when a record or date trigger starts the job. */
  trigger?: TriggerOrigin;
  /** Set for an import job: what it imports (its file is stored in the job's Durable Object first). */
  import?: ImportSpec;
};

/** A validated `POST /job/{jobID}`. */
export type UpdateInput = {
  log?: LogInput[];
  status?: JobStatus;
  workflowID?: string;
  snapshot?: WorkflowSnapshot;
  startAt?: number;
  parameters?: Record<string, string>;
};

/**
 * DO answers cross the RPC boundary as data, not thrown errors (custom error fields do not survive
 * RPC). A refusal's HTTP status is its code's (ERROR_CODES).
 */
export type Refusal = { code: ErrorCode; message: string; details?: ErrorDetail[] };
export type DoResult<T> = { ok: true; value: T } | { ok: false; refusal: Refusal };

/** The body of a TASKS queue message: one task attempt of one job. */
export type AttemptMessage = { jobID: string; attemptId: string };

/** `final`: the failure is not passing (an import with invalid rows): no retry, the job fails at once. */
export type AttemptReport =
  | { ok: true; durationMs: number; result?: unknown; logs?: TaskLogLine[] }
  | { ok: false; durationMs: number; message: string; data?: unknown; final?: boolean };

export const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

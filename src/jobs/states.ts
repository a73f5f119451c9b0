// The job status machine of the contract (docs/jobs.md, "States"), in one place. Everything that changes a job's status
// (the API, the engine, the cron sweep) goes through `canTransition` inside the job's Durable Object.

export const JOB_STATUSES = ["queued", "running", "ok", "error", "cancelled"] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/**
 *   queued ──► running ──► ok
 *     │           │ └────► error
 *     └───────────┴──────► cancelled
 */
export const TRANSITIONS: Readonly<Record<JobStatus, readonly JobStatus[]>> = {
  queued: ["running", "cancelled"],
  running: ["ok", "error", "cancelled"],
  ok: [],
  error: [],
  cancelled: [],
};

export const isFinal = (status: JobStatus) => TRANSITIONS[status].length === 0;

/** The statuses a job can still leave: queued and running. */
export const ACTIVE_JOB_STATUSES = JOB_STATUSES.filter((s) => !isFinal(s));

/** The levels of a log line, the job's or a schedule's. */
export const LOG_LEVELS = ["info", "warn", "error"] as const;

export const canTransition = (from: JobStatus, to: JobStatus) => TRANSITIONS[from].includes(to);

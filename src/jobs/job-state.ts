// The job as its Durable Object stores it, and the job's JSON as the API shows it. The engine
// (docs/jobs.md) is described there once; this file is the data it works on.
//
// Two parts, stored apart (job-store.ts): the hot `JobState`, rewritten on every step, and the
// `JobDefinition` (the workflow snapshot and the parameters), written when the job is created and
// when a queued job is edited, so frequent saves never rewrite the large part.
import { importView, type ImportSpec, type ImportState } from "./import-job";
import type { TaskDefinition, WorkflowSnapshot } from "./tasks";
import { iso, type CreateInput, type JobOrigin, type JobView, type Progress, type TriggerOrigin } from "./model";
import type { JobStatus } from "./states";

/** The layout of the DO's stored state and tables; job-migrate.ts brings older ones up to it. */
export const STATE_SCHEMA_VERSION = 2;

export type Phase = "main" | "onError";

export type Attempt = {
  id: string;
  phase: Phase;
  index: number;
  number: number;
  /** queue: `http`/`content.*`, dispatched through the TASKS queue and run in the DO's alarm; inline: `log`/`fail`; delay: an alarm time. */
  mode: "queue" | "inline" | "delay";
  dispatchedAt: number;
  /** When the queue delivered the attempt's message (claim); inline and delay attempts: their dispatch. */
  claimedAt: number | null;
  /**
   * Set (in the same transaction) when the run begins: when, and which instance of this DO runs it.
   * A DO has one live instance, so a marker naming another instance means that run is gone.
   */
  running: { since: number; instance: string } | null;
  /** unclaimed: the claim timeout; delay: its end; otherwise unused (the watchdog uses `running`). */
  deadline: number;
};

/** The job's log as counted so far (the caps are in limits.ts). */
type LogTally = { lines: number; bytes: number; truncated: boolean };

export type JobState = {
  schema: number;
  jobID: string;
  workflowID: string;
  /** The token subject that created the job. */
  userID: string | null;
  /** Random, made with the job: part of every `http` task's Idempotency-Key, so keys are unique across deployments. */
  key: string;
  status: JobStatus;
  startAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  /** Workflow timeout of a running job (startedAt + timeout). */
  deadline: number | null;
  progress: Progress;
  error: string | null;
  createdAt: number;
  updatedAt: number;
  /** Bumped on every change of the job's JSON; stamps D1 mirror writes. */
  version: number;
  /** Highest version known to be in the D1 mirror. */
  mirrored: number;
  mirrorRetryAt: number | null;
  mirrorFailures: number;
  log: LogTally;
  // engine
  phase: Phase | null;
  index: number;
  attempts: number;
  failures: number;
  lost: number;
  unclaimed: number;
  attempt: Attempt | null;
  waitUntil: number | null;
  onErrorDeadline: number | null;
  /** The time the alarm is set for (so the alarm handler knows which moment it stands for). */
  alarmAt: number | null;
  /** An import job's progress through its file (src/bulk/import-run.ts writes it; the engine only stores it). */
  import?: ImportState;
};

/**
 * The job's fixed part. `schedule` names the schedule and fire time that started it; it never
 * changes, and definitions stored before schedules existed lack it (read as null: no schedule).
 */
export type JobDefinition = {
  snapshot: WorkflowSnapshot;
  parameters: Record<string, string>;
  schedule?: JobOrigin | null;
  /** The trigger that started the job (absent on other jobs, and on jobs stored before triggers existed). */
  trigger?: TriggerOrigin;
  /** An import job's spec (its one task is the `import` task). */
  import?: ImportSpec;
};

/**
 * `progress` when the job starts: tasks of the workflow, or for an import job the file's rows
 * (`done` counts rows read; the import's task writes it after each batch).
 */
export const startProgress = (def: JobDefinition) =>
  def.import
    ? { task: def.snapshot.tasks[0]?.name ?? null, done: 0, total: def.import.rows }
    : { task: def.snapshot.tasks[0]?.name ?? null, done: 0, total: def.snapshot.tasks.length };

/** The job's trigger depth: 0 unless a trigger started it. */
export const triggerDepthOf = (def: JobDefinition) => def.trigger?.depth ?? 0;

/** `triggeredBy` of the job's JSON: the origin without its identity key. */
export const triggeredByOf = ({ key: _key, ...view }: TriggerOrigin) => view;

/** Everything the engine decides on. */
export type Job = { state: JobState; definition: JobDefinition };

/** 128 random bits as hex. */
export const newJobKey = () => [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, "0")).join("");

/** A new job: queued, nothing run yet. */
export function newJob(input: CreateInput, now: number): Job {
  return {
    definition: {
      snapshot: input.snapshot,
      parameters: input.parameters,
      schedule: input.schedule ?? null,
      ...(input.trigger ? { trigger: input.trigger } : {}),
      ...(input.import ? { import: input.import } : {}),
    },
    state: {
      schema: STATE_SCHEMA_VERSION,
      jobID: input.jobID,
      workflowID: input.workflowID,
      userID: input.userID ?? null,
      key: newJobKey(),
      status: "queued",
      startAt: input.startAt ?? now,
      startedAt: null,
      finishedAt: null,
      deadline: null,
      progress: { task: null, done: 0, total: input.import ? input.import.rows : input.snapshot.tasks.length },
      error: null,
      createdAt: input.createdAt,
      updatedAt: now,
      version: 1,
      mirrored: 0,
      mirrorRetryAt: null,
      mirrorFailures: 0,
      log: { lines: 0, bytes: 0, truncated: false },
      phase: null,
      index: 0,
      attempts: 0,
      failures: 0,
      lost: 0,
      unclaimed: 0,
      attempt: null,
      waitUntil: null,
      onErrorDeadline: null,
      alarmAt: null,
    },
  };
}

/** Every change of the job's JSON bumps its version (which stamps the D1 mirror write). */
export function bump(s: JobState, now: number) {
  s.version += 1;
  s.updatedAt = Math.max(now, s.updatedAt);
}

export function tasksOf(def: JobDefinition, phase: Phase): TaskDefinition[] {
  return phase === "main" ? def.snapshot.tasks : def.snapshot.onError;
}

export function jobView(job: Job): JobView {
  const s = job.state;
  const origin = job.definition.schedule ?? null;
  return {
    jobID: s.jobID,
    workflowID: s.workflowID,
    status: s.status,
    startAt: iso(s.startAt)!,
    startedAt: iso(s.startedAt),
    finishedAt: iso(s.finishedAt),
    parameters: job.definition.parameters,
    progress: s.progress,
    error: s.error,
    scheduleID: origin ? origin.scheduleID : null,
    scheduledFor: origin ? iso(origin.scheduledFor) : null,
    ...(job.definition.trigger ? { triggeredBy: triggeredByOf(job.definition.trigger) } : {}),
    ...(job.definition.import ? { import: importView(job.definition.import, s.import) } : {}),
    createdAt: iso(s.createdAt)!,
    updatedAt: iso(s.updatedAt)!,
  };
}

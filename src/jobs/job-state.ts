// The job's state as its Durable Object stores it (one JSON row; see job-store.ts), and the job's
// JSON as the API shows it.
import type { WorkflowSnapshot } from "../workflows/tasks";
import { iso, type CreateInput, type JobView, type Progress } from "./model";
import type { JobStatus } from "./states";

export type Phase = "main" | "onError";

export type Attempt = {
  id: string;
  phase: Phase;
  index: number;
  number: number;
  mode: "queue" | "inline" | "delay";
  dispatchedAt: number;
  claimedAt: number | null;
  /** Watchdog: unclaimed → claim timeout; claimed → task timeout + grace; delay → its end. */
  deadline: number;
  /** The last heartbeat (attemptAlive) of a claimed queue attempt; null/absent before the first. */
  beatAt?: number | null;
};

export type JobState = {
  jobID: string;
  workflowID: string;
  /** The token subject that created the job. */
  userID: string | null;
  status: JobStatus;
  startAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  /** Workflow timeout of a running job (startedAt + timeout). */
  deadline: number | null;
  parameters: Record<string, string>;
  snapshot: WorkflowSnapshot;
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
};

/** A new job: queued, nothing run yet. */
export function newJobState(input: CreateInput, now: number): JobState {
  return {
    jobID: input.jobID,
    workflowID: input.workflowID,
    userID: input.userID ?? null,
    status: "queued",
    startAt: input.startAt ?? now,
    startedAt: null,
    finishedAt: null,
    deadline: null,
    parameters: input.parameters,
    snapshot: input.snapshot,
    progress: { task: null, done: 0, total: input.snapshot.tasks.length },
    error: null,
    createdAt: input.createdAt,
    updatedAt: now,
    version: 1,
    mirrored: 0,
    mirrorRetryAt: null,
    mirrorFailures: 0,
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
  };
}

/** Every change of the job's JSON bumps its version (which stamps the D1 mirror write). */
export function bump(s: JobState, now: number) {
  s.version += 1;
  s.updatedAt = Math.max(now, s.updatedAt);
}

export function jobView(s: JobState): JobView {
  return {
    jobID: s.jobID,
    workflowID: s.workflowID,
    status: s.status,
    startAt: iso(s.startAt)!,
    startedAt: iso(s.startedAt),
    finishedAt: iso(s.finishedAt),
    parameters: s.parameters,
    progress: s.progress,
    error: s.error,
    createdAt: iso(s.createdAt)!,
    updatedAt: iso(s.updatedAt)!,
  };
}

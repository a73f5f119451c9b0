// The shape of tasks: what the job engine (src/jobs) runs, and what workflow definitions
// (src/workflows, above the engine) are made of. The engine runs `delay`, retries and timeouts
// itself; every other kind runs through the executor given for it where the Worker is put together
// (src/worker/job-object.ts: `executeTask` of src/workflows/execute.ts, the import of src/bulk).
import type { LOG_LEVELS } from "./states";

export const TASK_KINDS = ["log", "delay", "http", "content.create", "content.update", "content.delete", "fail"] as const;
export type TaskKind = (typeof TASK_KINDS)[number];

/**
 * Kinds only the engine makes: `import` is the one task of an import job (src/bulk), run in the
 * job's Durable Object. Workflows cannot name them (TASK_KINDS is what they may use).
 */
type EngineTaskKind = "import";

export type TaskDefinition = {
  name: string;
  kind: TaskKind | EngineTaskKind;
  options: Record<string, unknown>;
  /** Delays in seconds before each retry. */
  retries: number[];
  /** Seconds for one attempt. */
  timeout: number;
};

/** What a job runs: the workflow as it was when the job was created. */
export type WorkflowSnapshot = {
  workflowID: string;
  name: string;
  /** Seconds for the whole job. */
  timeout: number;
  tasks: TaskDefinition[];
  onError: TaskDefinition[];
};

/** What templates (`{{params.X}}`, `{{job.jobID}}`, `{{tasks.NAME.PATH}}`) can see. */
export type TemplateScope = {
  params: Record<string, string>;
  job: {
    jobID: string;
    /**
     * The `sub` of the token that created the job, when the engine knows it: content.create
     * stores it as the new item's `userID` (default "0"). Not readable by templates.
     */
    userID?: string;
    /**
     * How many triggered jobs led to this one (0: not started by a record or date trigger). Its
     * content.* tasks record their events one deeper (docs/api/triggers.md, "Loop depth"). Not readable by templates.
     */
    triggerDepth?: number;
  };
  /** Results of tasks that already finished, by task name. */
  tasks: Record<string, unknown>;
};

export type TaskLogLine = { level: (typeof LOG_LEVELS)[number]; message: string; data?: unknown };

export type TaskOutcome = {
  /** Stored as the task's result, visible to later templates. */
  result?: unknown;
  /** Lines the task itself writes to the job log (e.g. `log`'s message). */
  logs?: TaskLogLine[];
};

/** A task attempt that failed in a way the workflow should see (retry, then onError). */
export class TaskFailure extends Error {
  constructor(
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
  }
}

/**
 * Which job, task and attempt an execution is (the engine passes it; direct calls may omit it).
 * `http` requests carry it as headers: `Idempotency-Key` (the same for every attempt and redelivery
 * of this task in this job), `X-Job-ID`, `X-Job-Task`, `X-Job-Attempt`.
 */
export type TaskIdentity = {
  jobID: string;
  phase: "main" | "onError";
  /** The task's position in its list (`tasks` or `onError`). */
  index: number;
  /** 1, 2, 3... per task: every attempt, retries and re-runs of lost attempts included. */
  attempt: number;
  idempotencyKey: string;
};

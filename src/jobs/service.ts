// The Worker side of /job/: creation (mirror row first, then the DO; an Idempotency-Key is kept
// by idempotency.ts), listing from the D1 mirror, and turning DO refusals into API errors.
import { and, count, desc, eq, sql, type SQL } from "drizzle-orm";
import { getDb } from "../db/client";
import { jobs, workflows } from "../db/schema";
import { ApiError, badRequest, notFound } from "../http/errors";
import type { WorkflowSnapshot } from "./tasks";
import { bindJob, CLAIM_LOST, claimHeld, createOnce, forgetKey, readKey, requestHash, scopedKey, type Claim, type CreateRequest } from "./idempotency";
import { LOG_LINE_MAX_BYTES } from "./limits";
import { triggeredByOf } from "./job-state";
import { iso, type DoResult, type JobOrigin, type JobView, type LogInput, type TriggeredBy, type TriggerOrigin, type UpdateInput } from "./model";
import { jobStub } from "./queue";
import { findSnapshot } from "./snapshot";
import type { ImportView } from "./import-job";
import type { JobStatus } from "./states";

type Row = typeof jobs.$inferSelect;

function presentRow(r: Row): JobView {
  return {
    jobID: String(r.id),
    workflowID: String(r.workflowId),
    status: r.status as JobStatus,
    startAt: r.startAt,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
    parameters: r.parameters ?? {},
    progress: r.progress ?? { task: null, done: 0, total: 0 },
    error: r.error,
    scheduleID: r.scheduleId === null ? null : String(r.scheduleId),
    scheduledFor: r.scheduledFor,
    ...(r.triggeredBy ? { triggeredBy: r.triggeredBy as TriggeredBy } : {}),
    ...(r.import ? { import: r.import as unknown as ImportView } : {}),
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
}

/**
 * A DO answer as a value or an ApiError. The DO does not know its own jobID when it holds no job,
 * so its 404 is worded here, the same for every route: `Job 42 not found`.
 */
export function unwrap<T>(result: DoResult<T>, jobID?: number | string): T {
  if (result.ok) return result.value;
  if (result.refusal.code === "not_found" && jobID !== undefined) throw notFound(`Job ${jobID}`);
  const { code, message, details } = result.refusal;
  throw new ApiError(code, message, details);
}

export async function loadSnapshot(env: Env, workflowID: number): Promise<WorkflowSnapshot> {
  const snapshot = await findSnapshot(getDb(env), workflowID);
  if (!snapshot) {
    throw badRequest(`Workflow ${workflowID} does not exist`, [{ path: "workflowID", message: `workflow ${workflowID} does not exist` }], "unknown_workflow");
  }
  return snapshot;
}

const byteLength = (text: string) => new TextEncoder().encode(text).byteLength;

/** Each line's message plus data (as JSON) must fit in 16 KiB; bigger lines are refused (400). */
function checkLogLines(lines: LogInput[]) {
  const details = lines.flatMap((l, i) => {
    const size = byteLength(l.message) + (l.data === undefined ? 0 : byteLength(JSON.stringify(l.data) ?? ""));
    return size > LOG_LINE_MAX_BYTES ? [{ path: `log[${i}]`, message: `is ${size} bytes; a line (message + data) is at most ${LOG_LINE_MAX_BYTES}` }] : [];
  });
  if (details.length) throw badRequest(`Log line too large: ${details[0].path} ${details[0].message}`, details, "log_line_too_large");
}

// ---------------------------------------------------------------- creation

/** Creates the job (201) or, for a repeated Idempotency-Key, answers the first one (200). */
export async function createJob(env: Env, sub: string, body: CreateRequest, keyHeader: string | undefined): Promise<{ job: JobView; created: boolean }> {
  const key = keyHeader === undefined ? undefined : scopedKey(sub, keyHeader);
  const snapshot = await loadSnapshot(env, body.workflowID);
  if (key === undefined) return { job: (await insertJob(env, body, snapshot, sub)) as JobView, created: true };
  const { value, created } = await createOnce(getDb(env), key, await requestHash(body), {
    create: (claim) => insertJob(env, body, snapshot, sub, claim),
    existing: (jobID) => finishJob(env, jobID, body, snapshot, sub),
  });
  return { job: value, created };
}

/**
 * The job a key names. Its DO may not hold it yet when the first request died between the mirror
 * row and its DO (or is still between them): then the job is made from the mirror row, as the
 * first request would have (the DO's create is idempotent). Null when the job never came to
 * exist (no DO job, no mirror row).
 */
async function finishJob(env: Env, jobID: number, body: CreateRequest, snapshot: WorkflowSnapshot, sub: string): Promise<JobView | null> {
  const job = await jobStub(env, String(jobID)).get();
  if (job) return job;
  const mirror = await getDb(env).select({ createdAt: jobs.createdAt }).from(jobs).where(eq(jobs.id, jobID)).get();
  if (!mirror) return null;
  const made = await jobStub(env, String(jobID)).create({
    jobID: String(jobID),
    workflowID: String(body.workflowID),
    snapshot,
    parameters: body.parameters ?? {},
    startAt: body.startAt ?? null,
    createdAt: Date.parse(mirror.createdAt),
    userID: sub,
  });
  return made.job;
}

/**
 * The mirror row first (its autoincrement id is the jobID), then the job's DO. Under an
 * Idempotency-Key claim, the row is inserted only while the claim is held, and the key is pointed
 * at it in the same batch; CLAIM_LOST when the claim was taken over (no job made).
 */
export async function insertJob(env: Env, body: CreateRequest, snapshot: WorkflowSnapshot, sub: string, claim?: Claim): Promise<JobView | typeof CLAIM_LOST> {
  const made = await insertJobRow(env, body, snapshot, sub, claim, undefined);
  return made === CLAIM_LOST ? made : made.job;
}

/**
 * The job of a schedule's fire time, made at most once: its mirror row is keyed by (schedule,
 * fire time) (a unique index), so a second call for the same time — a duplicated alarm, the sweep
 * racing the alarm, a wake run again after a restart — inserts nothing and answers the job that
 * row names (`created: false`), finishing it in its DO should the first call have died between
 * the row and the DO. A 400 `unknown_workflow` when the workflow no longer exists.
 */
export async function startScheduledJob(
  env: Env,
  input: { workflowID: number; parameters: Record<string, string>; userID: string; origin: JobOrigin },
): Promise<{ job: JobView; created: boolean }> {
  const snapshot = await loadSnapshot(env, input.workflowID);
  const made = await insertJobRow(env, { workflowID: input.workflowID, parameters: input.parameters }, snapshot, input.userID, undefined, input.origin);
  if (made === CLAIM_LOST) throw new Error("bug: a scheduled job has no Idempotency-Key claim to lose");
  return made;
}

/**
 * The job of a trigger's event (or of a date trigger's item and date), made at most once: like
 * startScheduledJob, keyed by `trigger.key` (a unique index on the mirror), so a redelivered event
 * or a sweep racing the dispatch finds the job already there (`created: false`) and finishes it
 * should the first call have died half-way. A 400 `unknown_workflow` when the workflow is gone.
 */
export async function startTriggeredJob(
  env: Env,
  input: { workflowID: number; parameters: Record<string, string>; userID: string; trigger: TriggerOrigin },
): Promise<{ job: JobView; created: boolean }> {
  const snapshot = await loadSnapshot(env, input.workflowID);
  const made = await insertJobRow(
    env,
    { workflowID: input.workflowID, parameters: input.parameters },
    snapshot,
    input.userID,
    undefined,
    undefined,
    input.trigger,
  );
  if (made === CLAIM_LOST) throw new Error("bug: a triggered job has no Idempotency-Key claim to lose");
  return made;
}

/** The jobID holding a schedule's fire time, if any. */
async function jobOfFireTime(env: Env, origin: JobOrigin): Promise<number | null> {
  const row = await getDb(env)
    .select({ id: jobs.id })
    .from(jobs)
    .where(and(eq(jobs.scheduleId, Number(origin.scheduleID)), eq(jobs.scheduledFor, iso(origin.scheduledFor)!)))
    .get();
  return row?.id ?? null;
}

/** The jobID holding a trigger's identity, if any. */
async function jobOfTrigger(env: Env, trigger: TriggerOrigin): Promise<number | null> {
  const row = await getDb(env).select({ id: jobs.id }).from(jobs).where(eq(jobs.triggerKey, trigger.key)).get();
  return row?.id ?? null;
}

async function insertJobRow(
  env: Env,
  body: CreateRequest,
  snapshot: WorkflowSnapshot,
  sub: string,
  claim: Claim | undefined,
  origin: JobOrigin | undefined,
  trigger?: TriggerOrigin,
): Promise<{ job: JobView; created: boolean } | typeof CLAIM_LOST> {
  const db = getDb(env);
  const now = Date.now();
  const nowIso = new Date(now).toISOString();
  const parameters = body.parameters ?? {};
  // Selected from the workflow's row, so a concurrent workflow delete (which refuses while jobs
  // are queued) cannot leave a job of a deleted workflow. The fields are in the table's column
  // order (Drizzle checks it).
  const row = db
    .select({
      id: sql<number>`null`.as("id"),
      workflowId: workflows.id,
      status: sql<string>`'queued'`.as("status"),
      startAt: sql<string>`${iso(body.startAt ?? now)}`.as("start_at"),
      startedAt: sql<string | null>`null`.as("started_at"),
      finishedAt: sql<string | null>`null`.as("finished_at"),
      deadlineAt: sql<string | null>`null`.as("deadline_at"),
      parameters: sql<string>`${sql.param(parameters, jobs.parameters)}`.as("parameters"),
      progress: sql<string>`${sql.param({ task: null, done: 0, total: snapshot.tasks.length }, jobs.progress)}`.as("progress"),
      error: sql<string | null>`null`.as("error"),
      version: sql<number>`0`.as("version"),
      createdAt: sql<string>`${nowIso}`.as("created_at"),
      updatedAt: sql<string>`${nowIso}`.as("updated_at"),
      scheduleId: sql<number | null>`${origin ? Number(origin.scheduleID) : null}`.as("schedule_id"),
      scheduledFor: sql<string | null>`${origin ? iso(origin.scheduledFor) : null}`.as("scheduled_for"),
      triggerKey: sql<string | null>`${trigger ? trigger.key : null}`.as("trigger_key"),
      triggerContentId: sql<number | null>`${trigger ? Number(trigger.contentID) : null}`.as("trigger_content_id"),
      triggeredBy: sql<string | null>`${trigger ? sql.param(triggeredByOf(trigger), jobs.triggeredBy) : null}`.as("triggered_by"),
      import: sql<string | null>`null`.as("import"),
    })
    .from(workflows)
    .where(and(eq(workflows.id, body.workflowID), claim ? claimHeld(db, claim) : undefined));
  const insert = origin
    ? db
        .insert(jobs)
        .select(row)
        .onConflictDoNothing({ target: [jobs.scheduleId, jobs.scheduledFor] })
        .returning({ id: jobs.id })
    : trigger
      ? db.insert(jobs).select(row).onConflictDoNothing({ target: jobs.triggerKey }).returning({ id: jobs.id })
      : db.insert(jobs).select(row).returning({ id: jobs.id });
  const [inserted] = claim ? (await db.batch([insert, bindJob(db, claim)]))[0] : await insert.all();
  if (!inserted) {
    if (claim && (await readKey(db, claim.key))?.claimToken !== claim.token) return CLAIM_LOST;
    const holder = origin ? await jobOfFireTime(env, origin) : trigger ? await jobOfTrigger(env, trigger) : null;
    if (holder !== null) {
      // The fire time has its job already. Its DO's create is idempotent: it answers the job, or
      // makes it from the same input if the call that inserted the row died before reaching it.
      const mirror = await db
        .select({ workflowId: jobs.workflowId, createdAt: jobs.createdAt, parameters: jobs.parameters })
        .from(jobs)
        .where(eq(jobs.id, holder))
        .get();
      const workflowID = mirror?.workflowId ?? body.workflowID;
      const { job } = await jobStub(env, String(holder)).create({
        jobID: String(holder),
        workflowID: String(workflowID),
        snapshot: workflowID === body.workflowID ? snapshot : await loadSnapshot(env, workflowID),
        parameters: mirror?.parameters ?? parameters,
        startAt: body.startAt ?? null,
        createdAt: mirror ? Date.parse(mirror.createdAt) : now,
        userID: sub,
        schedule: origin,
        ...(trigger ? { trigger } : {}),
      });
      return { job, created: false };
    }
    throw badRequest(
      `Workflow ${body.workflowID} does not exist`,
      [{ path: "workflowID", message: `workflow ${body.workflowID} does not exist` }],
      "unknown_workflow",
    );
  }
  const jobID = String(inserted.id);
  try {
    const { job } = await jobStub(env, jobID).create({
      jobID,
      workflowID: String(body.workflowID),
      snapshot,
      parameters,
      startAt: body.startAt ?? null,
      createdAt: now,
      userID: sub,
      ...(origin ? { schedule: origin } : {}),
      ...(trigger ? { trigger } : {}),
    });
    return { job, created: true };
  } catch (err) {
    // The call can fail after the DO made the job (its answer was lost): then the job exists and
    // runs, so it is the answer, and its mirror row must stay (deleting it would hide the job from
    // listings and the sweep, and free the Idempotency-Key for a duplicate). Only a DO that surely
    // holds no job loses its row (and its key) here; if that cannot be told, the sweep decides
    // after a minute, and a repeat of the key finishes or forgets the job (see finishJob).
    const made = await jobStub(env, jobID)
      .get()
      .catch(() => undefined);
    if (made) return { job: made, created: true };
    if (made === null) {
      const dropRow = db.delete(jobs).where(and(eq(jobs.id, inserted.id), eq(jobs.version, 0)));
      await (claim ? db.batch([dropRow, forgetKey(db, claim, inserted.id)]) : dropRow).catch(() => {});
    }
    throw err;
  }
}

// ---------------------------------------------------------------- reads

export async function listJobs(
  env: Env,
  query: { status?: JobStatus; workflowID?: number; scheduleID?: number; triggerContentID?: number },
  page: { offset: number; perPage: number },
) {
  const where: SQL[] = [];
  if (query.status !== undefined) where.push(eq(jobs.status, query.status));
  if (query.workflowID !== undefined) where.push(eq(jobs.workflowId, query.workflowID));
  if (query.scheduleID !== undefined) where.push(eq(jobs.scheduleId, query.scheduleID));
  if (query.triggerContentID !== undefined) where.push(eq(jobs.triggerContentId, query.triggerContentID));
  const db = getDb(env);
  const cond = where.length ? and(...where) : undefined;
  const [rows, total] = await db.batch([
    db.select().from(jobs).where(cond).orderBy(desc(jobs.id)).limit(page.perPage).offset(page.offset),
    db.select({ n: count() }).from(jobs).where(cond),
  ]);
  return { count: total[0]?.n ?? 0, jobs: rows.map(presentRow) };
}

export async function getJob(env: Env, jobID: number): Promise<JobView> {
  const job = await jobStub(env, String(jobID)).get();
  if (!job) throw notFound(`Job ${jobID}`);
  return job;
}

export async function updateJob(env: Env, jobID: number, body: Omit<UpdateInput, "snapshot" | "workflowID"> & { workflowID?: number }) {
  if (body.log) checkLogLines(body.log);
  const input: UpdateInput = { log: body.log, status: body.status, startAt: body.startAt, parameters: body.parameters };
  if (body.workflowID !== undefined) {
    // Refuse an unknown job before an unknown workflow.
    await getJob(env, jobID);
    input.workflowID = String(body.workflowID);
    input.snapshot = await loadSnapshot(env, body.workflowID);
  }
  return unwrap(await jobStub(env, String(jobID)).update(input), jobID);
}

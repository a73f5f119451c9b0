// The Worker side of /job/: creation (mirror row first, then the DO), listing from the D1
// mirror, and turning DO refusals into API errors.
import { and, count, desc, eq, type SQL } from "drizzle-orm";
import { getDb } from "../db/client";
import { jobs } from "../db/schema";
import { ApiError, badRequest, conflict, notFound } from "../http/errors";
import { findWorkflow, snapshotOf } from "../workflows/service";
import type { WorkflowSnapshot } from "../workflows/tasks";
import { LOG_LINE_MAX_BYTES } from "./job-object";
import { iso, type DoResult, type JobView, type LogInput, type UpdateInput } from "./model";
import { jobStub } from "./queue";
import { isJobStatus, JOB_STATUSES, type JobStatus } from "./states";
import { IDEMPOTENCY_TTL_MS } from "./sweep";

type Row = typeof jobs.$inferSelect;

export function presentRow(r: Row): JobView {
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
  if (result.refusal.status === 404 && jobID !== undefined) throw notFound(`Job ${jobID}`);
  const { status, code, message, details } = result.refusal;
  throw new ApiError(status, code, message, details);
}

export async function loadSnapshot(env: Env, workflowID: number): Promise<WorkflowSnapshot> {
  const wf = await findWorkflow(getDb(env), workflowID);
  if (!wf) {
    throw badRequest(`Workflow ${workflowID} does not exist`, [{ path: "workflowID", message: `workflow ${workflowID} does not exist` }], "unknown_workflow");
  }
  return snapshotOf(wf);
}

const byteLength = (text: string) => new TextEncoder().encode(text).byteLength;

/** Each line's message plus data (as JSON) must fit in 16 KiB; bigger lines are refused (400). */
export function checkLogLines(lines: LogInput[]) {
  const details = lines.flatMap((l, i) => {
    const size = byteLength(l.message) + (l.data === undefined ? 0 : byteLength(JSON.stringify(l.data) ?? ""));
    return size > LOG_LINE_MAX_BYTES ? [{ path: `log[${i}]`, message: `is ${size} bytes; a line (message + data) is at most ${LOG_LINE_MAX_BYTES}` }] : [];
  });
  if (details.length) throw badRequest(`Log line too large: ${details[0].path} ${details[0].message}`, details, "log_line_too_large");
}

// ---------------------------------------------------------------- creation

type CreateBody = { workflowID: number; startAt?: number | null; parameters?: Record<string, string> };

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;
/** A key still without its job after this long belongs to a request that died. */
const ABANDONED_KEY_MS = 30_000;

async function sha256(text: string) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function requestHash(body: CreateBody) {
  const parameters = Object.fromEntries(Object.entries(body.parameters ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return sha256(JSON.stringify({ workflowID: body.workflowID, startAt: body.startAt ?? null, parameters }));
}

/** Creates the job (201) or, for a repeated Idempotency-Key, answers the first one (200). */
export async function createJob(env: Env, sub: string, body: CreateBody, keyHeader: string | undefined): Promise<{ job: JobView; created: boolean }> {
  if (keyHeader !== undefined && !IDEMPOTENCY_KEY.test(keyHeader)) {
    throw badRequest("Invalid Idempotency-Key header: 1 to 255 visible ASCII characters", [{ path: "Idempotency-Key", message: "1 to 255 visible ASCII characters" }]);
  }
  const snapshot = await loadSnapshot(env, body.workflowID);
  if (keyHeader === undefined) return { job: await insertJob(env, body, snapshot, sub), created: true };

  const key = `${sub}:${keyHeader}`;
  const hash = await requestHash(body);
  for (let round = 0; round < 60; round++) {
    const now = Date.now();
    const claimed = await env.DB.prepare(
      "INSERT INTO idempotency_keys (key, job_id, request_hash, created_at) VALUES (?, 0, ?, ?) ON CONFLICT (key) DO NOTHING",
    )
      .bind(key, hash, new Date(now).toISOString())
      .run();
    if (claimed.meta.changes === 1) {
      let job: JobView;
      try {
        job = await insertJob(env, body, snapshot, sub);
      } catch (err) {
        await env.DB.prepare("DELETE FROM idempotency_keys WHERE key = ? AND job_id = 0").bind(key).run();
        throw err;
      }
      // The job exists and runs from here on: the key must never be freed for a second job. If it
      // cannot be pointed at the job, the job is still the answer (a repeat waits, then finds the
      // key in progress; only after ABANDONED_KEY_MS could it be taken over).
      for (let i = 0; i < 3; i++) {
        try {
          await env.DB.prepare("UPDATE idempotency_keys SET job_id = ? WHERE key = ?").bind(Number(job.jobID), key).run();
          break;
        } catch (err) {
          console.error(JSON.stringify({ level: "error", msg: "idempotency key not recorded", jobID: job.jobID, error: String(err) }));
          await new Promise((r) => setTimeout(r, 50 * 2 ** i));
        }
      }
      return { job, created: true };
    }
    const row = await env.DB.prepare("SELECT job_id, request_hash, created_at FROM idempotency_keys WHERE key = ?")
      .bind(key)
      .first<{ job_id: number; request_hash: string; created_at: string }>();
    if (!row) continue; // expired and deleted meanwhile: claim it again
    if (Date.parse(row.created_at) <= now - IDEMPOTENCY_TTL_MS) {
      await env.DB.prepare("DELETE FROM idempotency_keys WHERE key = ? AND created_at = ?").bind(key, row.created_at).run();
      continue;
    }
    if (row.job_id === 0 && Date.parse(row.created_at) < now - ABANDONED_KEY_MS) {
      // The first request died before it made its job: take the key over.
      await env.DB.prepare("DELETE FROM idempotency_keys WHERE key = ? AND job_id = 0 AND created_at = ?").bind(key, row.created_at).run();
      continue;
    }
    if (row.request_hash !== hash) {
      throw conflict(
        "This Idempotency-Key was used with a different request in the last 24 hours",
        [{ path: "Idempotency-Key", message: "already used with a different body" }],
        "idempotency_key_reused",
      );
    }
    if (row.job_id === 0) {
      await new Promise((r) => setTimeout(r, 50)); // the first request is still creating the job
      continue;
    }
    const job = await jobStub(env, String(row.job_id)).get();
    if (job) return { job, created: false };
    // The first request died between the mirror row and its DO: finish its work.
    const mirror = await getDb(env).select().from(jobs).where(eq(jobs.id, row.job_id)).get();
    if (mirror) {
      const made = await jobStub(env, String(row.job_id)).create({
        jobID: String(row.job_id),
        workflowID: String(body.workflowID),
        snapshot,
        parameters: body.parameters ?? {},
        startAt: body.startAt ?? null,
        createdAt: Date.parse(mirror.createdAt),
        userID: sub,
      });
      return { job: made.job, created: false };
    }
    await env.DB.prepare("DELETE FROM idempotency_keys WHERE key = ? AND job_id = ?").bind(key, row.job_id).run();
  }
  throw conflict("A request with this Idempotency-Key is still in progress; retry shortly", undefined, "idempotency_key_in_progress");
}

/** The mirror row first (its autoincrement id is the jobID), then the job's DO. */
async function insertJob(env: Env, body: CreateBody, snapshot: WorkflowSnapshot, sub: string): Promise<JobView> {
  const now = Date.now();
  const nowIso = new Date(now).toISOString();
  const parameters = body.parameters ?? {};
  // Guarded by the workflow's existence in the same statement, so a concurrent workflow delete
  // (which refuses while jobs are queued) cannot leave a job of a deleted workflow.
  const inserted = await env.DB.prepare(
    `INSERT INTO jobs (workflow_id, status, start_at, parameters, progress, version, created_at, updated_at)
     SELECT ?, 'queued', ?, ?, ?, 0, ?, ? WHERE EXISTS (SELECT 1 FROM workflows WHERE id = ?) RETURNING id`,
  )
    .bind(
      body.workflowID,
      iso(body.startAt ?? now),
      JSON.stringify(parameters),
      JSON.stringify({ task: null, done: 0, total: snapshot.tasks.length }),
      nowIso,
      nowIso,
      body.workflowID,
    )
    .first<{ id: number }>();
  if (!inserted) {
    throw badRequest(`Workflow ${body.workflowID} does not exist`, [{ path: "workflowID", message: `workflow ${body.workflowID} does not exist` }], "unknown_workflow");
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
    });
    return job;
  } catch (err) {
    // The call can fail after the DO made the job (its answer was lost): then the job exists and
    // runs, so it is the answer, and its mirror row must stay (deleting it would hide the job from
    // listings and the sweep, and free the Idempotency-Key for a duplicate). Only a DO that surely
    // holds no job loses its row here; if that cannot be told, the sweep decides after a minute.
    const made = await jobStub(env, jobID).get().catch(() => undefined);
    if (made) return made;
    if (made === null) await env.DB.prepare("DELETE FROM jobs WHERE id = ? AND version = 0").bind(inserted.id).run().catch(() => {});
    throw err;
  }
}

// ---------------------------------------------------------------- reads

export async function listJobs(env: Env, query: { status?: string; workflowID?: string }, page: { offset: number; perPage: number }) {
  const where: SQL[] = [];
  if (query.status !== undefined && query.status !== "") {
    if (!isJobStatus(query.status)) {
      throw badRequest(`Unknown status '${query.status}'`, [{ path: "status", message: `must be one of ${JOB_STATUSES.join(", ")}` }]);
    }
    where.push(eq(jobs.status, query.status));
  }
  if (query.workflowID !== undefined && query.workflowID !== "") {
    if (!/^[1-9][0-9]{0,15}$/.test(query.workflowID) || Number(query.workflowID) > Number.MAX_SAFE_INTEGER) {
      throw badRequest(`Invalid workflowID '${query.workflowID}'`, [{ path: "workflowID", message: "must be a positive integer ID" }]);
    }
    where.push(eq(jobs.workflowId, Number(query.workflowID)));
  }
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

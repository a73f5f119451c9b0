// The job's row in the D1 `jobs` table, which listings and the cron sweep read instead of asking
// each job's DO. The DO is the source of truth; this keeps the row caught up with it.
import { iso } from "./model";
import type { JobStore } from "./job-store";

/** Retry delays of a failed mirror write (then every 5 min). */
export const MIRROR_RETRY_MS = [2_000, 10_000, 30_000, 60_000, 300_000];

/**
 * D1 mirror: one write of the whole row, stamped with the version and guarded by
 * `version < ?`, so an older write never overwrites a newer one. A failure leaves `mirrored`
 * behind `version`: the next change writes the whole row again, and an alarm retries sooner.
 */
export async function syncMirror(env: Env, store: JobStore) {
  const s = store.load();
  if (!s || s.mirrored >= s.version) return;
  const v = s.version;
  try {
    // An upsert, not a plain UPDATE: should the row be gone (deleted as an orphan while this DO was
    // making its job), an UPDATE would change nothing and still count as written, and the job
    // would never be listed again. The DO holds the job, so its row belongs in the mirror.
    await env.DB.prepare(
      `INSERT INTO jobs (id, workflow_id, status, start_at, started_at, finished_at, deadline_at,
         parameters, progress, error, version, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET workflow_id = excluded.workflow_id, status = excluded.status,
         start_at = excluded.start_at, started_at = excluded.started_at, finished_at = excluded.finished_at,
         deadline_at = excluded.deadline_at, parameters = excluded.parameters, progress = excluded.progress,
         error = excluded.error, version = excluded.version, created_at = excluded.created_at, updated_at = excluded.updated_at
       WHERE jobs.version < excluded.version`,
    )
      .bind(
        Number(s.jobID),
        Number(s.workflowID),
        s.status,
        iso(s.startAt),
        iso(s.startedAt),
        iso(s.finishedAt),
        iso(s.deadline),
        JSON.stringify(s.parameters),
        JSON.stringify(s.progress),
        s.error,
        v,
        iso(s.createdAt),
        iso(s.updatedAt),
      )
      .run();
    const after = store.load()!;
    if (after.mirrored < v) {
      after.mirrored = v;
      after.mirrorFailures = 0;
      after.mirrorRetryAt = null;
      store.save(after);
    }
  } catch (err) {
    const after = store.load()!;
    after.mirrorFailures += 1;
    after.mirrorRetryAt = Date.now() + MIRROR_RETRY_MS[Math.min(after.mirrorFailures, MIRROR_RETRY_MS.length) - 1];
    store.save(after);
    console.error(JSON.stringify({ level: "error", msg: "job mirror write failed", jobID: s.jobID, version: v, error: String(err) }));
  }
}

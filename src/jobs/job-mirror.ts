// The job's row in the D1 `jobs` table (docs/jobs.md, "The D1 mirror"), which listings and the cron sweep read instead of asking
// each job's DO. The DO is the source of truth; this keeps the row caught up with it.
import { getTableColumns, sql, type SQL } from "drizzle-orm";
import { getDb } from "../db/client";
import { jobs } from "../db/schema";
import type { JobStore } from "./job-store";
import { triggeredByOf } from "./job-state";
import { iso } from "./model";

/** Retry delays of a failed mirror write (then every 5 min). */
export const MIRROR_RETRY_MS = [2_000, 10_000, 30_000, 60_000, 300_000];

/** `SET column = excluded.column` for every column but the key: the upsert writes the whole row. */
function excludedColumns(): Record<string, SQL> {
  const { id: _key, ...rest } = getTableColumns(jobs);
  return Object.fromEntries(Object.entries(rest).map(([field, column]) => [field, sql`excluded.${sql.identifier(column.name)}`]));
}

/**
 * D1 mirror: one write of the whole row, stamped with the version and guarded by
 * `version < ?`, so an older write never overwrites a newer one. A failure leaves `mirrored`
 * behind `version`: the next change writes the whole row again, and an alarm retries sooner.
 */
export async function syncMirror(env: Env, store: JobStore) {
  const s = store.load();
  if (!s || s.mirrored >= s.version) return;
  const v = s.version;
  const origin = s.schedule ?? null;
  try {
    // An upsert, not a plain UPDATE: should the row be gone (deleted as an orphan while this DO was
    // making its job), an UPDATE would change nothing and still count as written, and the job
    // would never be listed again. The DO holds the job, so its row belongs in the mirror.
    const row: typeof jobs.$inferInsert = {
      id: Number(s.jobID),
      workflowId: Number(s.workflowID),
      status: s.status,
      startAt: iso(s.startAt)!,
      startedAt: iso(s.startedAt),
      finishedAt: iso(s.finishedAt),
      deadlineAt: iso(s.deadline),
      parameters: s.parameters,
      progress: s.progress,
      error: s.error,
      version: v,
      createdAt: iso(s.createdAt)!,
      updatedAt: iso(s.updatedAt)!,
      scheduleId: origin ? Number(origin.scheduleID) : null,
      scheduledFor: origin ? iso(origin.scheduledFor) : null,
      triggerKey: s.trigger ? s.trigger.key : null,
      triggerContentId: s.trigger ? Number(s.trigger.contentID) : null,
      triggeredBy: s.trigger ? triggeredByOf(s.trigger) : null,
      import: s.importView ?? null,
    };
    await getDb(env)
      .insert(jobs)
      .values(row)
      .onConflictDoUpdate({ target: jobs.id, set: excludedColumns(), setWhere: sql`${jobs.version} < excluded.${sql.identifier(jobs.version.name)}` });
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

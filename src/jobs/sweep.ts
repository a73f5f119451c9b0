// The every-minute safety net (docs/jobs.md, "Cron"). Timely starts, timeouts and retries come from each job's alarm;
// this only catches what an alarm missed, by asking the job's DO to catch up (idempotent, so two
// sweeps at once, or a sweep racing an alarm, do no harm):
//   - queued jobs whose startAt has passed (by more than a few seconds),
//   - running jobs past their workflow timeout (mirror column deadline_at),
//   - mirror rows the DO never wrote (version 0: creation died half-way) → written, or deleted
//     when the DO holds no job,
//   - expired Idempotency-Key rows (older than 24 h).
// (The cron calls this next to the other sweeps: src/worker/cron.ts.)
// A mirror row that is merely behind its DO is rewritten by the DO on its next change, by the
// DO's own retry alarm, and by any sweep visit (every DO call ends by syncing the mirror).
import { and, asc, eq, isNotNull, lte } from "drizzle-orm";
import { getDb } from "../db/client";
import { jobs } from "../db/schema";
import { expireKeys } from "./idempotency";
import { jobStub } from "./queue";

const GRACE_MS = 5_000;
/**
 * Rows per kind per sweep: at most ~4 × BATCH + 2 subrequests (DO calls and D1 queries), under
 * SUBREQUESTS_PER_INVOCATION (platform/limits.ts); what is left waits for the next minute.
 */
const BATCH = 200;
/** A mirror row still at version 0 after this long belongs to a creation that died half-way. */
const ORPHAN_AFTER_MS = 60_000;

export async function sweep(env: Env, now: Date) {
  const db = getDb(env);
  const nowMs = now.getTime();
  const due = new Date(nowMs - GRACE_MS).toISOString();
  const nowIso = now.toISOString();
  const orphanBefore = new Date(nowMs - ORPHAN_AFTER_MS).toISOString();
  const id = { id: jobs.id };
  const [missed, overdue, orphans] = await db.batch([
    db
      .select(id)
      .from(jobs)
      .where(and(eq(jobs.status, "queued"), lte(jobs.startAt, due)))
      .orderBy(asc(jobs.startAt))
      .limit(BATCH),
    db
      .select(id)
      .from(jobs)
      .where(and(eq(jobs.status, "running"), isNotNull(jobs.deadlineAt), lte(jobs.deadlineAt, nowIso)))
      .orderBy(asc(jobs.deadlineAt))
      .limit(BATCH),
    db
      .select(id)
      .from(jobs)
      .where(and(eq(jobs.version, 0), lte(jobs.createdAt, orphanBefore)))
      .limit(BATCH),
  ]);
  const ids = [...new Set([...missed, ...overdue].map((r) => r.id))];
  const results = await Promise.allSettled(ids.map((id) => jobStub(env, String(id)).sweep(nowMs)));
  // One orphan whose DO cannot be reached must not stop the others, nor the key expiry below.
  let orphanFailures = 0;
  for (const orphan of orphans) {
    try {
      const job = await jobStub(env, String(orphan.id)).sweep(nowMs);
      if (!job) await db.delete(jobs).where(and(eq(jobs.id, orphan.id), eq(jobs.version, 0)));
    } catch (err) {
      orphanFailures += 1;
      console.error(JSON.stringify({ level: "error", msg: "sweep of an orphan mirror row failed", jobID: orphan.id, error: String(err) }));
    }
  }
  await expireKeys(db, nowMs);
  const failed = results.filter((r) => r.status === "rejected").length + orphanFailures;
  console.log(JSON.stringify({ level: "info", msg: "sweep", visited: ids.length, orphans: orphans.length, failed }));
  return { visited: ids.length, orphans: orphans.length, failed };
}

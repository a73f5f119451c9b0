// The every-minute safety net. Timely starts, timeouts and retries come from each job's alarm;
// this only catches what an alarm missed, by asking the job's DO to catch up (idempotent, so two
// sweeps at once, or a sweep racing an alarm, do no harm):
//   - queued jobs whose startAt has passed (by more than a few seconds),
//   - running jobs past their workflow timeout (mirror column deadline_at),
//   - mirror rows the DO never wrote (version 0: creation died half-way) → written, or deleted
//     when the DO holds no job,
//   - expired Idempotency-Key rows (older than 24 h).
// A mirror row that is merely behind its DO is rewritten by the DO on its next change, by the
// DO's own retry alarm, and by any sweep visit (every DO call ends by syncing the mirror).
import { jobStub } from "./queue";

const GRACE_MS = 5_000;
const BATCH = 200;
export const IDEMPOTENCY_TTL_MS = 24 * 3600 * 1000;

export async function sweep(env: Env, now: Date) {
  const nowMs = now.getTime();
  const due = new Date(nowMs - GRACE_MS).toISOString();
  const nowIso = now.toISOString();
  const orphanBefore = new Date(nowMs - 60_000).toISOString();
  const [missed, overdue, orphans] = await env.DB.batch<{ id: number }>([
    env.DB.prepare("SELECT id FROM jobs WHERE status = 'queued' AND start_at <= ? ORDER BY start_at LIMIT ?").bind(due, BATCH),
    env.DB.prepare("SELECT id FROM jobs WHERE status = 'running' AND deadline_at IS NOT NULL AND deadline_at <= ? ORDER BY deadline_at LIMIT ?").bind(nowIso, BATCH),
    env.DB.prepare("SELECT id FROM jobs WHERE version = 0 AND created_at <= ? LIMIT ?").bind(orphanBefore, BATCH),
  ]);
  const ids = [...new Set([...missed.results, ...overdue.results].map((r) => r.id))];
  const results = await Promise.allSettled(ids.map((id) => jobStub(env, String(id)).sweep(nowMs)));
  // One orphan whose DO cannot be reached must not stop the others, nor the key expiry below.
  let orphanFailures = 0;
  for (const orphan of orphans.results) {
    try {
      const job = await jobStub(env, String(orphan.id)).sweep(nowMs);
      if (!job) await env.DB.prepare("DELETE FROM jobs WHERE id = ? AND version = 0").bind(orphan.id).run();
    } catch (err) {
      orphanFailures += 1;
      console.error(JSON.stringify({ level: "error", msg: "sweep of an orphan mirror row failed", jobID: orphan.id, error: String(err) }));
    }
  }
  await env.DB.prepare("DELETE FROM idempotency_keys WHERE created_at <= ?").bind(new Date(nowMs - IDEMPOTENCY_TTL_MS).toISOString()).run();
  const failed = results.filter((r) => r.status === "rejected").length + orphanFailures;
  console.log(JSON.stringify({ level: "info", msg: "sweep", visited: ids.length, orphans: orphans.results.length, failed }));
  return { visited: ids.length, orphans: orphans.results.length, failed };
}

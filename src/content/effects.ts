// Exactly-once content writes for workflow tasks. A `content.*` attempt whose write committed but
// whose Durable Object instance died before it stored the outcome runs again; without a record it
// would create a second item, or fail a delete with "not found". Each such write therefore records
// the task's Idempotency-Key in `task_effects` in the write's own batch (same transaction), and a
// run that finds its key answers the recorded effect instead of writing again.
import { eq, lt, sql, type SQL } from "drizzle-orm";
import type { Db } from "../db/client";
import { taskEffects } from "../db/schema";
import { nowIso } from "../http/time";

/** How long a recorded effect is kept: far longer than any re-run of an attempt takes to come. */
const EFFECT_RETENTION_MS = 30 * 24 * 3600 * 1000;

/** The content item an earlier run of the task with this key wrote, if one did. */
export async function recordedEffect(db: Db, key: string): Promise<number | undefined> {
  const row = await db.select({ contentId: taskEffects.contentId }).from(taskEffects).where(eq(taskEffects.key, key)).get();
  return row?.contentId;
}

/**
 * The statement, placed right after the write in its batch, that records the key when that write
 * changed a row (`changes()` is the previous statement's count). `contentId` may be SQL such as
 * `last_insert_rowid()` for an insert.
 */
export function recordEffect(db: Db, key: string, contentId: number | SQL) {
  const row = {
    key: sql<string>`${key}`.as("key"),
    contentId: sql<number>`${contentId}`.as("content_id"),
    createdAt: sql<string>`${nowIso()}`.as("created_at"),
  };
  return db.insert(taskEffects).select(db.select(row).from(sql`(select 1)`).where(sql`changes() = 1`)).onConflictDoNothing();
}

/** Forgets effects older than the retention (the cron sweep). */
export const expireEffects = (db: Db, now = Date.now()) =>
  db.delete(taskEffects).where(lt(taskEffects.createdAt, new Date(now - EFFECT_RETENTION_MS).toISOString()));

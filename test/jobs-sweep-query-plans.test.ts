// The cron sweep runs every minute over tables that grow with every job: its queries must seek
// an index, not read the table.
import { env } from "cloudflare:workers";
import { and, eq, lte } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { getDb } from "../src/db/client";
import { idempotencyKeys, jobs } from "../src/db/schema";

const plan = async (q: { sql: string; params: unknown[] }) =>
  (
    (
      await env.DB.prepare(`explain query plan ${q.sql}`)
        .bind(...q.params)
        .all()
    ).results as any[]
  )
    .map((r) => r.detail)
    .join(" | ");

describe("the sweep's queries", () => {
  it("find orphan mirror rows (version 0) through their partial index", async () => {
    const db = getDb(env);
    const q = db
      .select({ id: jobs.id })
      .from(jobs)
      .where(and(eq(jobs.version, 0), lte(jobs.createdAt, "2026-01-01T00:00:00.000Z")))
      .limit(200)
      .toSQL();
    expect(await plan(q)).toMatch(/USING (COVERING )?INDEX jobs_unmirrored_idx/);
  });

  it("expire Idempotency-Keys through the created_at index", async () => {
    const db = getDb(env);
    const q = db.delete(idempotencyKeys).where(lte(idempotencyKeys.createdAt, "2026-01-01T00:00:00.000Z")).toSQL();
    expect(await plan(q)).toMatch(/USING (COVERING )?INDEX idempotency_keys_created_idx/);
  });
});

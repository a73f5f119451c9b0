// Exact caching of results computed from a module's content (listing counts, chart aggregates).
//
// Every write to a module's content or fields bumps `modules.content_version` in the same D1
// batch, and every request reads the module row (and so its version) before it computes
// anything. A result is stored under the module's ID and version, so a request can only reuse a
// result computed from the content as it is now: no TTL, no staleness, in any isolate. The
// cache is per isolate, in memory, bounded.
import { sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { modules } from "../db/schema";

const MAX_ENTRIES = 500;
const entries = new Map<string, unknown>();

type Versioned = { id: number; contentVersion: number };

/** Answers the cached result for `key` at the module's current version, or computes and keeps it. */
export async function cachedResult<T>(module: Versioned, key: string, compute: () => Promise<T>): Promise<T> {
  const fullKey = `${module.id}:${module.contentVersion}:${key}`;
  if (entries.has(fullKey)) {
    const value = entries.get(fullKey) as T;
    entries.delete(fullKey); // re-insert: Map order is the eviction order (least recently used first)
    entries.set(fullKey, value);
    return value;
  }
  const value = await compute();
  entries.set(fullKey, value);
  if (entries.size > MAX_ENTRIES) entries.delete(entries.keys().next().value!);
  return value;
}

/** The statement to put in the same batch as any write to a module's content. */
export const bumpContentVersion = (db: Db, moduleId: number) =>
  db.update(modules).set({ contentVersion: sql`${modules.contentVersion} + 1` }).where(sql`${modules.id} = ${moduleId}`);

/** Forgets everything (tests that write to D1 directly, behind the service's back). */
export const clearResultCache = () => entries.clear();

// Exact caching of results computed from a module's content (listing counts, chart aggregates).
//
// Every write to a module's content or fields bumps `modules.content_version` in the same D1
// batch, and every request reads the module row (and so its version) before it computes
// anything. A result is stored under the module's ID and version, so a request can only reuse a
// result computed from the content as it is now: no TTL, no staleness, in any isolate.
//
// The cache is per isolate, in memory, and bounded in bytes, not entries: an isolate has 128 MB
// in all (WORKER_MEMORY_BYTES in platform/limits.ts), and one chart aggregate may hold 10,000
// categories. Callers key entries by what was
// computed (the SQL and its parameters, or the resolved chart plan), never by labels or unknown
// parameters, so requests that differ only in a title share one entry.
import { sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { modules } from "../db/schema";

/** The most the cache holds per isolate, keys and values together (UTF-16 code units × 2). */
export const CACHE_BUDGET_BYTES = 4 * 1024 * 1024;
/** A result larger than this is answered but not kept: it would crowd out many small ones. */
export const MAX_CACHED_RESULT_BYTES = 256 * 1024;

type Entry = { value: unknown; bytes: number };
const entries = new Map<string, Entry>();
let totalBytes = 0;

type Versioned = { id: number; contentVersion: number };

/** What an entry costs: its key and the JSON text of its value, two bytes per UTF-16 unit. */
const sizeOf = (key: string, value: unknown) => 2 * (key.length + (JSON.stringify(value)?.length ?? 0));

function evict(key: string) {
  const entry = entries.get(key);
  if (!entry) return;
  entries.delete(key);
  totalBytes -= entry.bytes;
}

/** Answers the cached result for `key` at the module's current version, or computes and keeps it. */
export async function cachedResult<T>(module: Versioned, key: string, compute: () => Promise<T>): Promise<T> {
  const fullKey = `${module.id}:${module.contentVersion}:${key}`;
  const hit = entries.get(fullKey);
  if (hit) {
    entries.delete(fullKey); // re-insert: Map order is the eviction order (least recently used first)
    entries.set(fullKey, hit);
    return hit.value as T;
  }
  const value = await compute();
  const bytes = sizeOf(fullKey, value);
  if (bytes > MAX_CACHED_RESULT_BYTES) return value;
  evict(fullKey); // a concurrent request may have stored it meanwhile
  entries.set(fullKey, { value, bytes });
  totalBytes += bytes;
  // Bounded: each pass removes one entry, and the newest (≤ MAX_CACHED_RESULT_BYTES) always fits.
  while (totalBytes > CACHE_BUDGET_BYTES) evict(entries.keys().next().value!);
  return value;
}

/** The statement to put in the same batch as any write to a module's content. */
export const bumpContentVersion = (db: Db, moduleId: number) =>
  db
    .update(modules)
    .set({ contentVersion: sql`${modules.contentVersion} + 1` })
    .where(sql`${modules.id} = ${moduleId}`);

/** What the cache holds now, in all or for one module (diagnostics). */
export function resultCacheStats(moduleId?: number) {
  if (moduleId === undefined) return { entries: entries.size, bytes: totalBytes };
  const prefix = `${moduleId}:`;
  let count = 0;
  let bytes = 0;
  for (const [key, entry] of entries) {
    if (!key.startsWith(prefix)) continue;
    count++;
    bytes += entry.bytes;
  }
  return { entries: count, bytes };
}

// The `Idempotency-Key` of `POST /job/`: one job per key (per token subject) for 24 hours.
//
// A request that finds the key free claims it: it writes the key's row with job_id 0 and a random
// claim token of its own. Every later step is conditional on what the request last saw, so that
// two requests can never both act on the key:
//   - the job's mirror row is inserted only while the claim is still held, and the key is pointed
//     at the new job in the same batch (`claimHeld` + `bindJob`): a key never names a job made by a
//     request that had lost it, and a job made under a held claim is always named by the key;
//   - a claim left at job_id 0 for ABANDONED_CLAIM_MS (its request died), or a key older than
//     IDEMPOTENCY_TTL_MS, is taken over by an UPDATE that matches only the row as it was read, and
//     gives it a new token: of two requests taking over at once, one wins;
//   - a request giving up releases only its own claim (`releaseClaim`), and a key whose job never
//     came to exist is forgotten only while it still names that job (`forgetKey`).
// A request whose claim was taken over while it was still working (it was slow, not dead) made no
// job, since its insert found the claim gone: it then answers like a repeat arriving now, i.e. the
// job of the request that took the key over (200), or its refusal (409 when that request's body
// differs). Exactly one job per key, and every answer names it.
import { sha256Hex } from "../http/hash";
import { and, eq, lt, lte, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { idempotencyKeys } from "../db/schema";
import { badRequest, conflict } from "../http/errors";

/** A key is remembered this long after it was claimed. */
export const IDEMPOTENCY_TTL_MS = 24 * 3600 * 1000;
/** A claim still without its job after this long belongs to a request that died. */
export const ABANDONED_CLAIM_MS = 30_000;
/** A repeat waits this long, at most, for the first request to make its job. */
const WAIT_ROUNDS = 60;
const WAIT_STEP_MS = 50;

const KEY_SPELLING = /^[\x21-\x7e]{1,255}$/;

/** The key a request claims: the header, checked, scoped to the token's subject. */
export function scopedKey(sub: string, header: string): string {
  if (!KEY_SPELLING.test(header)) {
    throw badRequest("Invalid Idempotency-Key header: 1 to 255 visible ASCII characters", [
      { path: "Idempotency-Key", message: "1 to 255 visible ASCII characters" },
    ]);
  }
  return `${sub}:${header}`;
}

export type CreateRequest = { workflowID: number; startAt?: number | null; parameters?: Record<string, string> };

/** What makes two requests "the same": workflowID, the startAt instant and the parameters in any key order. */
export async function requestHash(body: CreateRequest): Promise<string> {
  const parameters = Object.fromEntries(Object.entries(body.parameters ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const text = JSON.stringify({ workflowID: body.workflowID, startAt: body.startAt ?? null, parameters });
  return sha256Hex(text);
}

type KeyRow = typeof idempotencyKeys.$inferSelect;
/** A held claim: the key and the token that proves this request holds it. */
export type Claim = { key: string; token: string };

const iso = (ms: number) => new Date(ms).toISOString();

/** The key's row now, or undefined when it is free. */
export async function readKey(db: Db, key: string): Promise<KeyRow | undefined> {
  return db.select().from(idempotencyKeys).where(eq(idempotencyKeys.key, key)).get();
}

/** A key this old is free again, whatever it held. */
const isExpired = (row: KeyRow, now: number) => Date.parse(row.createdAt) <= now - IDEMPOTENCY_TTL_MS;
/** A claim this old without a job belongs to a request that died. */
const isAbandoned = (row: KeyRow, now: number) => row.jobId === 0 && Date.parse(row.createdAt) < now - ABANDONED_CLAIM_MS;

/** Claims a free key; null when someone holds it. */
async function insertClaim(db: Db, key: string, hash: string, now: number): Promise<Claim | null> {
  const token = crypto.randomUUID();
  const made = await db
    .insert(idempotencyKeys)
    .values({ key, jobId: 0, requestHash: hash, createdAt: iso(now), claimToken: token })
    .onConflictDoNothing({ target: idempotencyKeys.key })
    .returning({ key: idempotencyKeys.key })
    .all();
  return made.length === 1 ? { key, token } : null;
}

/**
 * Takes over a key that is expired, or whose claim was abandoned, as it was read in `row`: the
 * UPDATE matches only if nothing changed since (same token, job and time) and the row is still
 * stale, and it sets a new token, so of two requests taking the same row over, one wins. Null
 * when the row is not stale or changed meanwhile.
 */
export async function takeOver(db: Db, row: KeyRow, hash: string, now: number): Promise<Claim | null> {
  if (!isExpired(row, now) && !isAbandoned(row, now)) return null;
  const k = idempotencyKeys;
  const stale = isExpired(row, now) ? lte(k.createdAt, iso(now - IDEMPOTENCY_TTL_MS)) : and(eq(k.jobId, 0), lt(k.createdAt, iso(now - ABANDONED_CLAIM_MS)));
  const token = crypto.randomUUID();
  const taken = await db
    .update(k)
    .set({ jobId: 0, requestHash: hash, createdAt: iso(now), claimToken: token })
    .where(and(eq(k.key, row.key), eq(k.claimToken, row.claimToken), eq(k.jobId, row.jobId), eq(k.createdAt, row.createdAt), stale))
    .returning({ key: k.key })
    .all();
  return taken.length === 1 ? { key: row.key, token } : null;
}

/** Claims the key (free, expired or abandoned), or answers the row of the request that holds it. */
export async function claimKey(db: Db, key: string, hash: string, now: number): Promise<{ claim: Claim } | { holder: KeyRow } | null> {
  const claim = await insertClaim(db, key, hash, now);
  if (claim) return { claim };
  const row = await readKey(db, key);
  if (!row) return null; // freed meanwhile: look again
  if (isExpired(row, now) || isAbandoned(row, now)) {
    const taken = await takeOver(db, row, hash, now);
    return taken ? { claim: taken } : null;
  }
  return { holder: row };
}

const held = (claim: Claim) => and(eq(idempotencyKeys.key, claim.key), eq(idempotencyKeys.claimToken, claim.token), eq(idempotencyKeys.jobId, 0));

/**
 * The condition for inserting the claim's job: the claim is still held and has no job. The
 * insert and `bindJob` run in one batch (one transaction), so both see the same answer.
 */
export const claimHeld = (db: Db, claim: Claim) => sql`exists ${db.select({ one: sql`1` }).from(idempotencyKeys).where(held(claim))}`;

/**
 * Points the claim's key at the job inserted just before it in the same batch. It matches only
 * where that insert's condition (`claimHeld`) held, so `last_insert_rowid()` is that job's ID.
 */
export const bindJob = (db: Db, claim: Claim) => db.update(idempotencyKeys).set({ jobId: sql`last_insert_rowid()` }).where(held(claim));

/** Gives up a claim that has no job yet; a claim taken over meanwhile is left alone. */
export async function releaseClaim(db: Db, claim: Claim) {
  await db.delete(idempotencyKeys).where(held(claim));
}

/** Forgets the key of a job that never came to exist, only while the key still names it under this claim. */
export const forgetKey = (db: Db, claim: Claim, jobID: number) =>
  db.delete(idempotencyKeys).where(and(eq(idempotencyKeys.key, claim.key), eq(idempotencyKeys.claimToken, claim.token), eq(idempotencyKeys.jobId, jobID)));

/** Drops keys older than the TTL (the cron sweep). */
export async function expireKeys(db: Db, now: number) {
  await db.delete(idempotencyKeys).where(lte(idempotencyKeys.createdAt, iso(now - IDEMPOTENCY_TTL_MS)));
}

/** What `createOnce` needs from job creation. */
type KeyedCreation<T> = {
  /** Makes the job under the claim; CLAIM_LOST when its insert found the claim gone (no job made). */
  create(claim: Claim): Promise<T | typeof CLAIM_LOST>;
  /** The job a key names, or null when it never came to exist (then the key is forgotten). */
  existing(jobID: number): Promise<T | null>;
};

export const CLAIM_LOST = Symbol("claim lost");

/**
 * Runs a creation at most once per key: the first request creates (created: true); a repeat with
 * the same request hash answers the job the key names (created: false), waiting up to ~3 s for
 * the first request to make it; a different request is a 409.
 */
export async function createOnce<T>(db: Db, key: string, hash: string, steps: KeyedCreation<T>): Promise<{ value: T; created: boolean }> {
  for (let round = 0; round < WAIT_ROUNDS; round++) {
    const found = await claimKey(db, key, hash, Date.now());
    if (!found) continue;
    if ("claim" in found) {
      let made: T | typeof CLAIM_LOST;
      try {
        made = await steps.create(found.claim);
      } catch (err) {
        await releaseClaim(db, found.claim).catch(() => {}); // a claim that got its job keeps it
        throw err;
      }
      if (made === CLAIM_LOST) continue; // taken over while we worked: answer as a repeat would
      return { value: made, created: true };
    }
    const row = found.holder;
    if (row.requestHash !== hash) {
      throw conflict(
        "This Idempotency-Key was used with a different request in the last 24 hours",
        [{ path: "Idempotency-Key", message: "already used with a different body" }],
        "idempotency_key_reused",
      );
    }
    if (row.jobId === 0) {
      await new Promise((r) => setTimeout(r, WAIT_STEP_MS)); // the first request is still making its job
      continue;
    }
    const job = await steps.existing(row.jobId);
    if (job) return { value: job, created: false };
    await forgetKey(db, { key, token: row.claimToken }, row.jobId);
  }
  throw conflict("A request with this Idempotency-Key is still in progress; retry shortly", undefined, "idempotency_key_in_progress");
}

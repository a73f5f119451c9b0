// The Idempotency-Key of POST /job/ under races: every step of a claim is conditional, so a key
// never ends up naming two jobs, nor a job other than the one its requests were answered with.
// The interleavings are played step by step through the module's functions (no timing).
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { getDb } from "../src/db/client";
import {
  ABANDONED_CLAIM_MS,
  CLAIM_LOST,
  claimKey,
  createOnce,
  IDEMPOTENCY_TTL_MS,
  readKey,
  releaseClaim,
  requestHash,
  takeOver,
  type Claim,
} from "../src/jobs/idempotency";
import type { JobView } from "../src/jobs/model";
import { jobStub } from "../src/jobs/queue";
import { createJob, insertJob, loadSnapshot } from "../src/jobs/service";
import { call } from "./helpers";
import { makeWorkflow } from "./jobs-helpers";

const FUTURE = Date.parse("2099-01-01T00:00:00Z");
const SUB = "7";
const db = getDb(env);
const jobCount = async () => (await env.DB.prepare("SELECT COUNT(*) AS n FROM jobs").first<{ n: number }>())!.n;

async function setup(header: string) {
  const wf = Number(await makeWorkflow([{ name: "wait", kind: "delay", options: { seconds: 86_400 } }]));
  const body = { workflowID: wf, startAt: FUTURE, parameters: { a: "1" } };
  return { body, snapshot: await loadSnapshot(env, wf), hash: await requestHash(body), key: `${SUB}:${header}`, header };
}

const claimOf = (found: Awaited<ReturnType<typeof claimKey>>): Claim => {
  if (!found || !("claim" in found)) throw new Error(`expected a claim, got ${JSON.stringify(found)}`);
  return found.claim;
};

describe("a claim taken over while its first request still works", () => {
  it("step by step: the first request's insert makes no job, and the key keeps naming the second's", async () => {
    const t = await setup("slow-1");
    const before = await jobCount();
    // A claims; more than ABANDONED_CLAIM_MS later (A is slow, not dead) B takes the key over.
    const a = claimOf(await claimKey(db, t.key, t.hash, Date.now() - ABANDONED_CLAIM_MS - 1000));
    const b = claimOf(await claimKey(db, t.key, t.hash, Date.now()));
    expect(b.token).not.toBe(a.token);
    const jobB = (await insertJob(env, t.body, t.snapshot, SUB, b)) as JobView;
    // A now gets to its insert: its claim is gone, so it makes no job and does not touch the key.
    expect(await insertJob(env, t.body, t.snapshot, SUB, a)).toBe(CLAIM_LOST);
    expect(await jobCount()).toBe(before + 1);
    expect((await readKey(db, t.key))!.jobId).toBe(Number(jobB.jobID));
    // A then answers as a repeat does: B's job, not created by it.
    expect(await createJob(env, SUB, t.body, t.header)).toEqual({ job: jobB, created: false });
    const repeat = await call("/job/", { body: { ...t.body, startAt: new Date(FUTURE).toISOString() }, headers: { "Idempotency-Key": t.header } });
    expect(repeat.status).toBe(200);
    expect(repeat.json.response.jobID).toBe(jobB.jobID);
  });

  it("the same when the first request reaches its insert before the second made its job", async () => {
    const t = await setup("slow-2");
    const before = await jobCount();
    const a = claimOf(await claimKey(db, t.key, t.hash, Date.now() - ABANDONED_CLAIM_MS - 1000));
    const b = claimOf(await claimKey(db, t.key, t.hash, Date.now()));
    expect(await insertJob(env, t.body, t.snapshot, SUB, a)).toBe(CLAIM_LOST);
    // A giving up its claim does not free B's.
    await releaseClaim(db, a);
    expect((await readKey(db, t.key))!.claimToken).toBe(b.token);
    const jobB = (await insertJob(env, t.body, t.snapshot, SUB, b)) as JobView;
    expect(await jobCount()).toBe(before + 1);
    expect((await readKey(db, t.key))!.jobId).toBe(Number(jobB.jobID));
  });

  it("through createOnce: the slow first request answers the job of the request that took its key over", async () => {
    const t = await setup("slow-3");
    const before = await jobCount();
    let resume!: () => void;
    const gate = new Promise<void>((r) => (resume = r));
    const steps = (hold: boolean) => ({
      create: async (claim: Claim) => {
        if (hold) await gate; // A stalls between its claim and its insert
        return insertJob(env, t.body, t.snapshot, SUB, claim);
      },
      existing: (jobID: number) => jobStub(env, String(jobID)).get(),
    });
    const first = createOnce(db, t.key, t.hash, steps(true));
    for (let i = 0; i < 100 && !(await readKey(db, t.key)); i++) await new Promise((r) => setTimeout(r, 5));
    // A's claim ages past the abandonment window while A is stalled.
    await env.DB.prepare("UPDATE idempotency_keys SET created_at = ? WHERE key = ?")
      .bind(new Date(Date.now() - ABANDONED_CLAIM_MS - 1000).toISOString(), t.key)
      .run();
    const second = await createJob(env, SUB, t.body, t.header);
    expect(second.created).toBe(true);
    resume();
    const answer = await first;
    expect(answer.created).toBe(false);
    expect(answer.value.jobID).toBe(second.job.jobID);
    expect(await jobCount()).toBe(before + 1);
    expect((await readKey(db, t.key))!.jobId).toBe(Number(second.job.jobID));
  });
});

describe("taking a key over", () => {
  it("of two requests that read the same abandoned claim, one wins", async () => {
    const t = await setup("two-takers");
    claimOf(await claimKey(db, t.key, t.hash, Date.now() - ABANDONED_CLAIM_MS - 1000));
    const seen = (await readKey(db, t.key))!;
    const b = await takeOver(db, seen, t.hash, Date.now());
    const c = await takeOver(db, seen, t.hash, Date.now());
    expect(b).not.toBeNull();
    expect(c).toBeNull();
    expect((await readKey(db, t.key))!.claimToken).toBe(b!.token);
  });

  it("of an expired key: only as it was read, and never of a fresh claim or a key naming a job", async () => {
    const t = await setup("expired");
    const job = (await insertJob(env, t.body, t.snapshot, SUB, claimOf(await claimKey(db, t.key, t.hash, Date.now() - IDEMPOTENCY_TTL_MS - 1000)))) as JobView;
    const seen = (await readKey(db, t.key))!;
    expect(seen.jobId).toBe(Number(job.jobID));
    const b = await takeOver(db, seen, t.hash, Date.now());
    expect(b).not.toBeNull();
    expect(await takeOver(db, seen, t.hash, Date.now())).toBeNull();
    // B's claim is fresh: not abandoned, not expired.
    expect(await takeOver(db, (await readKey(db, t.key))!, t.hash, Date.now())).toBeNull();
    // A key naming a job is never abandoned, however old (within the TTL).
    const u = await setup("bound-old");
    const bound = (await insertJob(env, u.body, u.snapshot, SUB, claimOf(await claimKey(db, u.key, u.hash, Date.now() - 10 * ABANDONED_CLAIM_MS)))) as JobView;
    expect(await claimKey(db, u.key, u.hash, Date.now())).toEqual({ holder: expect.objectContaining({ jobId: Number(bound.jobID) }) });
  });
});

describe("a creation whose insert fails", () => {
  it("leaves neither a job nor the key held, so a repeat creates exactly one job", async () => {
    const t = await setup("insert-fails");
    const before = await jobCount();
    // Every query runs in a D1 session (src/db/client.ts): the sessions' batches fail.
    const failingBatch = <T extends object>(target: T) =>
      new Proxy(target, {
        get(t, prop) {
          if (prop === "batch") return async () => Promise.reject(new Error("D1_ERROR: Network connection lost."));
          const value = Reflect.get(t, prop);
          return typeof value === "function" ? value.bind(t) : value;
        },
      });
    const failing = new Proxy(env.DB, {
      get(target, prop) {
        if (prop === "withSession") return (c?: any) => failingBatch(target.withSession(c));
        const value = Reflect.get(target, prop);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    await expect(createJob({ ...env, DB: failing }, SUB, t.body, t.header)).rejects.toThrow(/Network connection lost/);
    expect(await readKey(db, t.key)).toBeUndefined();
    expect(await jobCount()).toBe(before);
    const made = await createJob(env, SUB, t.body, t.header);
    expect(made.created).toBe(true);
    expect(await createJob(env, SUB, t.body, t.header)).toEqual({ job: made.job, created: false });
    expect(await jobCount()).toBe(before + 1);
  });
});

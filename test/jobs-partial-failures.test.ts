// Regression tests for defects found in a white-box review of the job engine.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { JobObject } from "../src/worker/job-object";
import { sweep } from "../src/jobs/sweep";
import { call } from "./helpers";
import { createJob, expectMirrorMatches, getJob, inDO, inspect, makeWorkflow, mirrorRow, sleep, stubOf } from "./jobs-helpers";

const FUTURE = "2099-01-01T10:00:00+02:00";

describe("creation whose DO call fails after the DO made the job", () => {
  it("keeps the mirror row and answers the job (no invisible job, no duplicate on a retry)", async () => {
    const wf = await makeWorkflow([{ name: "wait", kind: "delay", options: { seconds: 3600 } }]);
    const proto = JobObject.prototype as any;
    const original = proto.create;
    // The DO commits the job, then its answer is lost (e.g. the connection drops).
    proto.create = async function (this: unknown, ...args: unknown[]) {
      await original.apply(this, args);
      throw new Error("Network connection lost.");
    };
    let res: Awaited<ReturnType<typeof createJob>>;
    try {
      res = await createJob({ workflowID: wf, startAt: FUTURE }, { "Idempotency-Key": "lost-answer-1" });
    } finally {
      proto.create = original;
    }
    expect(res.status).toBe(201);
    const jobID = res.json.response.jobID as string;
    expect((await getJob(jobID)).status).toBe("queued");
    expect(await mirrorRow(jobID)).not.toBeNull();
    // A retry with the same key answers the same job instead of making a second one.
    const again = await createJob({ workflowID: wf, startAt: FUTURE }, { "Idempotency-Key": "lost-answer-1" });
    expect(again.status).toBe(200);
    expect(again.json.response.jobID).toBe(jobID);
    expect((await inspect(jobID)).state.status).toBe("queued");
  });
});

describe("a state change whose mirror write is still in flight", () => {
  it("has its alarm already (a DO that dies mid-write still wakes, goes on and writes the mirror)", async () => {
    const wf = await makeWorkflow([{ name: "wait", kind: "delay", options: { seconds: 3600 } }]);
    const job = (await createJob({ workflowID: wf, startAt: FUTURE })).json.response;
    expect((await inspect(job.jobID)).alarm).toBe(Date.parse(FUTURE));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    await inDO(job.jobID, (instance) => {
      const original = (instance as any).env;
      (instance as any).__env = original;
      const run = async () => {
        await gate;
        throw new Error("D1 unavailable");
      };
      // Whatever the mirror write calls on its statement (run, all, raw), it waits, then fails.
      const statement: any = new Proxy({}, { get: (_, name) => (name === "bind" ? () => statement : name === "then" ? undefined : run) });
      (instance as any).env = { ...original, DB: { prepare: () => statement, batch: run } };
    });
    const pending = stubOf(job.jobID).update({ status: "running" });
    let seen: Awaited<ReturnType<typeof inspect>> | undefined;
    // Polled until the job runs and its alarm is set. The mirror write cannot end before
    // `release()`, so an engine that set the alarm only after the write would never get there.
    // (Between the update and that point the job's own alarm may be firing, and a firing alarm
    // reads as none: the platform retries an alarm handler that dies.)
    for (const until = Date.now() + 10_000; Date.now() < until; await sleep(5)) {
      seen = await inspect(job.jobID);
      if (seen.state.status === "running" && seen.alarm !== null) break;
    }
    // The job is running with a task to dispatch, but its mirror still says queued in 2099: were
    // the DO to die now, only its alarm could wake it.
    expect(seen!.state.status).toBe("running");
    expect((await mirrorRow(job.jobID))!.status).toBe("queued");
    expect(seen!.alarm).not.toBeNull();
    expect(seen!.alarm!).toBeLessThanOrEqual(Date.now() + 2_000);
    release();
    expect((await pending).ok).toBe(true);
    await inDO(job.jobID, (instance) => {
      (instance as any).env = (instance as any).__env;
    });
    // Any visit now repairs the mirror (firing the alarm early instead would stand for its due
    // time, which may already be the delay's end and the workflow deadline).
    await stubOf(job.jobID).sweep(Date.now());
    const repaired = await expectMirrorMatches(job.jobID);
    expect(repaired.status).toBe("running");
  });
});

describe("a mirror row gone while its DO holds the job", () => {
  it("is written again by the DO's next mirror write, not counted as written", async () => {
    const wf = await makeWorkflow([{ name: "wait", kind: "delay", options: { seconds: 3600 } }]);
    const job = (await createJob({ workflowID: wf, startAt: FUTURE })).json.response;
    // E.g. the sweep found the row at version 0 and its DO still empty, and deleted it just as the
    // DO made the job.
    await env.DB.prepare("DELETE FROM jobs WHERE id = ?").bind(Number(job.jobID)).run();
    expect((await call(`/job/${job.jobID}`, { body: { parameters: { a: "1" } } })).status).toBe(200);
    const listed = await expectMirrorMatches(job.jobID);
    expect(listed).toMatchObject({ status: "queued", parameters: { a: "1" } });
  });
});

describe("the sweep when one orphan's DO call fails", () => {
  it("still handles the other orphans and drops expired Idempotency-Keys", async () => {
    const old = new Date(Date.now() - 10 * 60_000).toISOString();
    const insertOrphan = async () =>
      (await env.DB.prepare("INSERT INTO jobs (workflow_id, status, start_at, version, created_at, updated_at) VALUES (1, 'running', ?, 0, ?, ?) RETURNING id")
        .bind(old, old, old)
        .first<{ id: number }>())!.id;
    const first = await insertOrphan();
    const second = await insertOrphan();
    await env.DB.prepare("INSERT INTO idempotency_keys (key, job_id, request_hash, created_at) VALUES ('7:expired', 1, 'h', ?)")
      .bind(new Date(Date.now() - 25 * 3600_000).toISOString())
      .run();
    const proto = JobObject.prototype as any;
    const original = proto.sweep;
    let calls = 0;
    proto.sweep = async function (this: unknown, ...args: unknown[]) {
      if (calls++ === 0) throw new Error("Durable Object is overloaded.");
      return original.apply(this, args);
    };
    let outcome: Awaited<ReturnType<typeof sweep>>;
    try {
      outcome = await sweep(env, new Date());
    } finally {
      proto.sweep = original;
    }
    expect(outcome.failed).toBe(1);
    const left = await env.DB.prepare("SELECT id FROM jobs WHERE id IN (?, ?)").bind(first, second).all<{ id: number }>();
    expect(left.results).toHaveLength(1); // the one whose DO call failed waits for the next sweep
    expect(await env.DB.prepare("SELECT * FROM idempotency_keys WHERE key = '7:expired'").first()).toBeNull();
  });
});

describe("a create whose transaction fails", () => {
  it("leaves the DO answering 'no job' (404), not failing every later call", async () => {
    const stub = stubOf("987654321");
    // A snapshot without tasks makes the creating transaction throw after it made the tables.
    const failed = await inDO("987654321", (instance) =>
      instance.create({ jobID: "987654321", workflowID: "1", snapshot: { name: "x" } as any, parameters: {}, startAt: null, createdAt: Date.now() }).then(
        () => null,
        (err: unknown) => String(err),
      ),
    );
    expect(failed).toMatch(/TypeError/);
    expect(await stub.get()).toBeNull();
    expect(await stub.logs({ offset: 0, limit: 10, after: 0 })).toBeNull();
    expect((await call("/job/987654321")).status).toBe(404);
  });
});

// The cron sweep and the D1 mirror's repair paths.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { syncMirror } from "../src/jobs/job-mirror";
import { sweep } from "../src/jobs/sweep";
import { call, runCron } from "./helpers";
import {
  countLines,
  expectMirrorMatches,
  forceAlarm,
  getJob,
  inDO,
  inspect,
  logsOf,
  longWorkflow,
  makeJob,
  mirrorRow,
  patchState,
  waitForJob,
} from "./jobs-helpers";

const FUTURE = Date.parse("2099-01-01T00:00:00Z");

/** Simulates a lost alarm. */
const dropAlarm = (jobID: string) =>
  inDO(jobID, async (_instance, state) => {
    await state.storage.deleteAlarm();
  });

describe("cron sweep", () => {
  it("starts a queued job whose start was missed, once, even when two sweeps run at once", async () => {
    const wf = await longWorkflow(2 * 86_400);
    const job = await makeJob(wf, { startAt: new Date(FUTURE).toISOString() });
    await dropAlarm(job.jobID);
    await runCron(FUTURE - 60_000); // not due yet
    expect((await getJob(job.jobID)).status).toBe("queued");
    await Promise.all([runCron(FUTURE + 60_000), runCron(FUTURE + 60_000), sweep(env, new Date(FUTURE + 61_000))]);
    const started = await expectMirrorMatches(job.jobID);
    expect(started.status).toBe("running");
    expect(countLines(await logsOf(job.jobID), /^job started$/)).toBe(1);
    expect((await inspect(job.jobID)).alarm).not.toBeNull(); // the delay keeps its own alarm again
  });

  it("fails a running job past its workflow timeout, once", async () => {
    const wf = await longWorkflow(60);
    const job = await makeJob(wf);
    await waitForJob(job.jobID, (j) => j.progress.task === "wait");
    await dropAlarm(job.jobID);
    const row = await mirrorRow(job.jobID);
    const deadline = Date.parse(row!.deadline_at);
    expect(deadline).toBe(Date.parse(row!.started_at) + 60_000);
    await runCron(deadline - 1000);
    expect((await getJob(job.jobID)).status).toBe("running");
    await Promise.all([runCron(deadline + 1000), runCron(deadline + 1000)]);
    const failed = await expectMirrorMatches(job.jobID);
    expect(failed).toMatchObject({ status: "error", error: "workflow timed out after 60 s" });
    expect(countLines(await logsOf(job.jobID), /^job failed: workflow timed out after 60 s$/)).toBe(1);
  });

  it("deletes mirror rows whose DO never got the job, repairs ones whose DO has it, and drops expired keys", async () => {
    const old = new Date(Date.now() - 10 * 60_000).toISOString();
    const orphan = await env.DB.prepare(
      "INSERT INTO jobs (workflow_id, status, start_at, version, created_at, updated_at) VALUES (1, 'queued', ?, 0, ?, ?) RETURNING id",
    )
      .bind(old, old, old)
      .first<{ id: number }>();
    const wf = await longWorkflow();
    const job = await makeJob(wf, { startAt: new Date(FUTURE).toISOString() });
    await env.DB.prepare("UPDATE jobs SET version = 0, status = 'running', created_at = ? WHERE id = ?").bind(old, Number(job.jobID)).run();
    await env.DB.prepare("INSERT INTO idempotency_keys (key, job_id, request_hash, created_at) VALUES ('7:stale', 1, 'h', ?)")
      .bind(new Date(Date.now() - 25 * 3600_000).toISOString())
      .run();
    // The DO thinks its mirror is current; the sweep asks it, and it rewrites the row when behind.
    await patchState(job.jobID, (s) => {
      s.mirrored = 0;
    });
    await runCron(Date.now());
    expect(await mirrorRow(String(orphan!.id))).toBeNull();
    expect((await call(`/job/${orphan!.id}`)).status).toBe(404);
    await expectMirrorMatches(job.jobID);
    expect((await mirrorRow(job.jobID))!.status).toBe("queued");
    expect(await env.DB.prepare("SELECT * FROM idempotency_keys WHERE key = '7:stale'").first()).toBeNull();
  });
});

describe("mirror repair", () => {
  /** Makes the job DO's D1 binding fail until `restore` is called. */
  async function breakMirror(jobID: string) {
    await inDO(jobID, (instance) => {
      const original = (instance as any).env;
      (instance as any).__env = original;
      const down = () => {
        throw new Error("D1 unavailable");
      };
      (instance as any).env = { ...original, DB: { prepare: down, batch: down, exec: down } };
    });
    return () =>
      inDO(jobID, (instance) => {
        (instance as any).env = (instance as any).__env;
      });
  }

  it("a failed mirror write is retried by the DO's alarm", async () => {
    const wf = await longWorkflow();
    const job = await makeJob(wf, { startAt: new Date(FUTURE).toISOString() });
    const restore = await breakMirror(job.jobID);
    expect((await call(`/job/${job.jobID}`, { method: "DELETE" })).status).toBe(200);
    expect((await mirrorRow(job.jobID))!.status).toBe("queued"); // behind
    const { state, alarm } = await inspect(job.jobID);
    expect(state.mirrored).toBeLessThan(state.version);
    expect(alarm).toBe(state.mirrorRetryAt);
    await restore();
    await forceAlarm(job.jobID);
    const repaired = await expectMirrorMatches(job.jobID);
    expect(repaired.status).toBe("cancelled");
    expect((await inspect(job.jobID)).alarm).toBeNull();
  });

  it("the next transition rewrites a row left behind, and an older write never wins", async () => {
    const wf = await longWorkflow();
    const job = await makeJob(wf, { startAt: new Date(FUTURE).toISOString() });
    const restore = await breakMirror(job.jobID);
    expect((await call(`/job/${job.jobID}`, { body: { parameters: { a: "1" } } })).status).toBe(200);
    expect((await mirrorRow(job.jobID))!.parameters).toBe("{}");
    await restore();
    expect((await call(`/job/${job.jobID}`, { body: { status: "running" } })).status).toBe(200);
    const job2 = await expectMirrorMatches(job.jobID);
    expect(job2).toMatchObject({ status: "running", parameters: { a: "1" } });
    // A stale write (lower version) is refused by the version guard.
    const { state } = await inspect(job.jobID);
    const stale = await env.DB.prepare("UPDATE jobs SET status = 'queued', version = ? WHERE id = ? AND version < ?")
      .bind(state.version - 1, Number(job.jobID), state.version - 1)
      .run();
    expect(stale.meta.changes).toBe(0);
    await expectMirrorMatches(job.jobID);
  });

  it("the mirror write itself is guarded by the version: an older one changes nothing, a newer one the whole row", async () => {
    const wf = await longWorkflow();
    const job = await makeJob(wf, { startAt: new Date(FUTURE).toISOString(), parameters: { a: "1" } });
    const { state } = await inspect(job.jobID);
    const write = (changes: Record<string, unknown>) => {
      const saved: unknown[] = [];
      const row = { ...state, mirrored: 0, ...changes };
      return syncMirror(env, { load: () => structuredClone(row), save: (r: unknown) => void saved.push(r) } as any).then(() => saved);
    };
    const before = await mirrorRow(job.jobID);
    await write({ version: state.version - 1, status: "cancelled", parameters: { a: "old" } });
    expect(await mirrorRow(job.jobID)).toEqual(before);
    const saved = await write({ version: state.version + 1, status: "running", parameters: { a: "new" }, error: "e" });
    expect(saved).toMatchObject([{ mirrored: state.version + 1 }]);
    expect(await mirrorRow(job.jobID)).toMatchObject({ status: "running", parameters: '{"a":"new"}', error: "e", version: state.version + 1 });
  });
});

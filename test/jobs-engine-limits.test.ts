// Size limits the job engine keeps: a job's whole log, and a task's rendered options.
import { afterEach, describe, expect, it, vi } from "vitest";
import { LOG_MAX_BYTES, LOG_MAX_LINES } from "../src/jobs/limits";
import { RENDERED_OPTIONS_MAX_BYTES } from "../src/workflows/execute";
import { call } from "./helpers";
import { getJob, inspect, isFinal, logsOf, makeJob, makeWorkflow, patchState, waitForJob } from "./jobs-helpers";

afterEach(() => {
  vi.restoreAllMocks();
});

const FUTURE = "2099-01-01T00:00:00Z";
const append = (jobID: string, body: Record<string, unknown>) => call(`/job/${jobID}`, { body });
const lastLogs = async (jobID: string) => {
  const count = (await call(`/job/${jobID}/logs?perPage=1`)).json.response.meta.count as number;
  // `page` is 0-based: the last page.
  return { count, logs: (await call(`/job/${jobID}/logs?perPage=100&page=${Math.max(0, Math.ceil(count / 100) - 1)}`)).json.response.logs as any[] };
};

describe("a job's log is capped", () => {
  it(`by bytes (${LOG_MAX_BYTES}): an append past it is a 409 log_full that changes nothing; the engine's later lines end in one 'log truncated' line`, async () => {
    const wf = await makeWorkflow([{ name: "say", kind: "log", options: { message: "hello" } }]);
    const job = await makeJob(wf, { startAt: FUTURE });
    const line = { message: "x".repeat(16_000) };
    const batch = Array(60).fill(line); // just under the 1 MiB request body limit
    let accepted = 0;
    for (;;) {
      const res = await append(job.jobID, { log: batch });
      if (res.status !== 200) {
        expect(res.status).toBe(409);
        expect(res.json.error).toMatchObject({ code: "log_full" });
        expect(res.json.error.message).toMatch(/^The job's log is full/);
        break;
      }
      accepted += 1;
      if (accepted > 10) throw new Error("the log was never full");
    }
    expect(accepted).toBe(Math.floor((LOG_MAX_BYTES - 1024) / (60 * 16_000)));
    const before = await getJob(job.jobID);
    const logsBefore = await lastLogs(job.jobID);
    // Refused whole: the status change in the same request does not happen either.
    const refused = await append(job.jobID, { status: "running", log: batch });
    expect(refused.status).toBe(409);
    expect(await getJob(job.jobID)).toEqual(before);
    expect(await lastLogs(job.jobID)).toEqual(logsBefore);
    // A few short lines still fit.
    expect((await append(job.jobID, { log: { message: "short" } })).status).toBe(200);

    // The engine's own lines past the cap: one 'log truncated' line, then nothing; the job runs on.
    const filler = { message: "y".repeat(16_000) };
    for (let i = 0; i < 20 && (await append(job.jobID, { log: filler })).status === 200; i++);
    const room = LOG_MAX_BYTES - 1024 - (await inspect(job.jobID)).state.log.bytes;
    const n = Math.ceil((room - 10) / 16_000);
    const rest = Array.from({ length: n }, (_, i) => ({ message: "w".repeat(i < n - 1 ? 16_000 : room - 10 - 16_000 * (n - 1)) }));
    expect((await append(job.jobID, { log: rest })).status).toBe(200); // 10 bytes left
    expect((await append(job.jobID, { status: "running" })).status).toBe(200);
    const done = await waitForJob(job.jobID, isFinal);
    expect(done.status).toBe("ok");
    const { logs } = await lastLogs(job.jobID);
    const last = logs.at(-1);
    expect(last).toMatchObject({ level: "warn", task: null, message: expect.stringMatching(/^log truncated: the job's log is full/) });
    expect(logs.filter((l) => /^log truncated/.test(l.message)).length).toBe(1);
    expect(logs.map((l) => l.seq)).toEqual(logs.map((_, i) => logs[0].seq + i));
    const { state } = await inspect(job.jobID);
    expect(state.log.truncated).toBe(true);
    expect(state.log.bytes).toBeLessThanOrEqual(LOG_MAX_BYTES);
    expect((await append(job.jobID, { log: { message: "more" } })).status).toBe(409);
  });

  it(`by lines (${LOG_MAX_LINES}), the last kept for the engine's note`, async () => {
    const wf = await makeWorkflow([{ name: "say", kind: "log", options: { message: "hello" } }]);
    const job = await makeJob(wf, { startAt: FUTURE });
    // Pretend the log already holds all but 3 of its lines (writing 10,000 would only be slow).
    await patchState(job.jobID, (s) => {
      s.log.lines = LOG_MAX_LINES - 3;
    });
    expect((await append(job.jobID, { log: [{ message: "a" }, { message: "b" }] })).status).toBe(200);
    const full = await append(job.jobID, { log: { message: "c" } });
    expect(full.status).toBe(409);
    expect(full.json.error.code).toBe("log_full");
    expect((await call(`/job/${job.jobID}`, { method: "DELETE" })).status).toBe(200);
    const logs = await logsOf(job.jobID);
    expect(logs.map((l) => [l.seq, l.message])).toEqual([
      [1, expect.stringMatching(/^job created/)],
      [LOG_MAX_LINES - 2, "a"],
      [LOG_MAX_LINES - 1, "b"],
      [LOG_MAX_LINES, expect.stringMatching(/^log truncated/)],
    ]);
    expect((await getJob(job.jobID)).status).toBe("cancelled");
  });
});

describe("a task's rendered options are capped", () => {
  it(`at ${RENDERED_OPTIONS_MAX_BYTES} bytes: above it the attempt fails with a clear line and sends nothing`, async () => {
    const fetchSpy = vi.spyOn(globalThis, "fetch");
    const big = "z".repeat(60_000);
    const body = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`copy${i}`, "{{params.big}}"]));
    const wf = await makeWorkflow([{ name: "post", kind: "http", options: { method: "POST", url: "http://test.local/x", body } }]);
    const job = await makeJob(wf, { parameters: { big } });
    const done = await waitForJob(job.jobID, isFinal);
    expect(done.status).toBe("error");
    expect(done.error).toMatch(/^task 'post' failed: the task's options are \d+ bytes once its templates are rendered; at most 1048576 bytes$/);
    const logs = await logsOf(job.jobID);
    expect(logs.some((l) => /^attempt 1 of task 'post' failed in \d+ ms: the task's options are \d+ bytes/.test(l.message))).toBe(true);
    expect(fetchSpy.mock.calls.filter(([u]) => String(u).startsWith("http://test.local"))).toEqual([]);
  });
});

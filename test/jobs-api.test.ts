import { runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { TRANSITIONS, JOB_STATUSES } from "../src/jobs/states";
import { call, token } from "./helpers";
import { createJob, expectMirrorMatches, getJob, inDO, inspect, logsOf, makeJob, makeWorkflow, mirrorRow, stubOf, waitForJob } from "./jobs-helpers";

const FUTURE = "2099-01-01T10:00:00+02:00";
const FUTURE_MS = Date.parse("2099-01-01T08:00:00Z");

const jobCount = async () => (await env.DB.prepare("SELECT COUNT(*) AS n FROM jobs").first<{ n: number }>())!.n;

/** A workflow whose jobs stay running until told otherwise (a long delay). */
const longWorkflow = () => makeWorkflow([{ name: "wait", kind: "delay", options: { seconds: 3600 } }]);

async function jobIn(status: string, wf: string) {
  const job = await makeJob(wf, { startAt: FUTURE });
  if (status === "queued") return job;
  const running = await call(`/job/${job.jobID}`, { body: { status: "running" } });
  expect(running.status).toBe(200);
  if (status === "running") return running.json.response;
  const final = status === "cancelled" ? await call(`/job/${job.jobID}`, { method: "DELETE" }) : await call(`/job/${job.jobID}`, { body: { status } });
  expect(final.status).toBe(200);
  return getJob(job.jobID);
}

describe("POST /job/", () => {
  it("creates a queued job with the contract's JSON, mirrored in D1", async () => {
    const wf = await makeWorkflow([{ name: "a", kind: "log", options: { message: "hi" } }]);
    const res = await createJob({ workflowID: wf, startAt: FUTURE, parameters: { leadID: "42" } });
    expect(res.status).toBe(201);
    const job = res.json.response;
    expect(job).toEqual({
      jobID: expect.stringMatching(/^[1-9][0-9]*$/),
      workflowID: wf,
      status: "queued",
      startAt: "2099-01-01T08:00:00.000Z",
      startedAt: null,
      finishedAt: null,
      parameters: { leadID: "42" },
      progress: { task: null, done: 0, total: 1 },
      error: null,
      scheduleID: null,
      scheduledFor: null,
      createdAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/),
      updatedAt: expect.any(String),
    });
    expect(Object.keys(job)).toEqual([
      "jobID",
      "workflowID",
      "status",
      "startAt",
      "startedAt",
      "finishedAt",
      "parameters",
      "progress",
      "error",
      "scheduleID",
      "scheduledFor",
      "createdAt",
      "updatedAt",
    ]);
    await expectMirrorMatches(job.jobID);
    expect((await mirrorRow(job.jobID))!.version).toBeGreaterThan(0);
    expect((await inspect(job.jobID)).alarm).toBe(FUTURE_MS);
    const logs = await logsOf(job.jobID);
    expect(logs[0]).toMatchObject({ seq: 1, level: "info", task: null });
  });

  it("accepts forms, numeric workflowID, and no startAt (start now)", async () => {
    const wf = await longWorkflow();
    const res = await call("/job/", { form: { workflowID: wf, parameters: JSON.stringify({ a: "1" }) } });
    expect(res.status).toBe(201);
    expect(res.json.response.parameters).toEqual({ a: "1" });
    expect(Date.parse(res.json.response.startAt)).toBeLessThanOrEqual(Date.now());
    const numeric = await createJob({ workflowID: Number(wf), startAt: "2020-01-01T00:00:00Z" });
    expect(numeric.status).toBe(201);
    expect(numeric.json.response.startAt).toBe("2020-01-01T00:00:00.000Z");
    // A past startAt starts at once.
    await waitForJob(numeric.json.response.jobID, (j) => j.status === "running");
  });

  it("snapshots the workflow: later edits do not change the job", async () => {
    const wf = await makeWorkflow([{ name: "a", kind: "log", options: { message: "one" } }]);
    const job = await makeJob(wf, { startAt: FUTURE });
    const edit = await call(`/workflow/${wf}`, {
      body: {
        name: "wf",
        tasks: [
          { name: "a", kind: "log", options: { message: "x" } },
          { name: "b", kind: "log", options: { message: "y" } },
        ],
      },
    });
    expect(edit.status).toBe(200);
    const { state } = await inspect(job.jobID);
    expect(state.snapshot.tasks.map((t: any) => t.name)).toEqual(["a"]);
    expect((await getJob(job.jobID)).progress.total).toBe(1);
  });

  it("refuses bad input with 400 and creates nothing", async () => {
    const wf = await longWorkflow();
    const before = await jobCount();
    const cases: Array<[unknown, string]> = [
      [{}, "workflowID"],
      [{ workflowID: "abc" }, "workflowID"],
      [{ workflowID: 0 }, "workflowID"],
      [{ workflowID: wf, startAt: "tomorrow" }, "startAt"],
      [{ workflowID: wf, startAt: "2026-02-30T00:00:00Z" }, "startAt"],
      [{ workflowID: wf, startAt: "2026-11-27T20:18:49" }, "startAt"],
      [{ workflowID: wf, startAt: "2026-11-27" }, "startAt"],
      [{ workflowID: wf, startAt: 1234567890 }, "startAt"],
      [{ workflowID: wf, parameters: { a: 1 } }, "parameters.a"],
      [{ workflowID: wf, parameters: { a: null } }, "parameters.a"],
      [{ workflowID: wf, parameters: { a: { b: "c" } } }, "parameters.a"],
      [{ workflowID: wf, parameters: ["a"] }, "parameters"],
      [{ workflowID: wf, parameters: "nope" }, "parameters"],
    ];
    for (const [body, path] of cases) {
      const res = await createJob(body as Record<string, unknown>);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(
        res.json.error.details.map((d: any) => d.path),
        JSON.stringify(body),
      ).toContain(path);
    }
    const unknown = await createJob({ workflowID: "999999" });
    expect(unknown.status).toBe(400);
    expect(unknown.json.error.code).toBe("unknown_workflow");
    expect(unknown.json.error.details).toEqual([{ path: "workflowID", message: expect.stringContaining("does not exist") }]);
    expect(await jobCount()).toBe(before);
  });

  it("says what is wrong with workflowID: 'is required' or 'must be a positive integer ID'", async () => {
    const wf = await longWorkflow();
    const before = await jobCount();
    const cases: Array<[Record<string, unknown>, string]> = [
      [{}, "is required"],
      [{ workflowID: null }, "is required"],
      [{ workflowID: "" }, "is required"],
      [{ workflowID: 0 }, "must be a positive integer ID"],
      [{ workflowID: "0" }, "must be a positive integer ID"],
      [{ workflowID: -3 }, "must be a positive integer ID"],
      [{ workflowID: 1.5 }, "must be a positive integer ID"],
      [{ workflowID: "abc" }, "must be a positive integer ID"],
      [{ workflowID: true }, "must be a positive integer ID"],
      [{ workflowID: [wf] }, "must be a positive integer ID"],
      [{ workflowID: 2 ** 53 }, "must be a positive integer ID below 2^53"],
    ];
    for (const [body, message] of cases) {
      const res = await createJob({ startAt: FUTURE, ...body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.json.error.details, JSON.stringify(body)).toEqual([{ path: "workflowID", message }]);
    }
    const form = await call("/job/", { form: { startAt: FUTURE } });
    expect(form.json.error.details).toEqual([{ path: "workflowID", message: "is required" }]);
    expect(await jobCount()).toBe(before);
    const job = await makeJob(wf, { startAt: FUTURE });
    for (const workflowID of [0, null, "x"]) {
      const res = await call(`/job/${job.jobID}`, { body: { workflowID } });
      expect(res.status, String(workflowID)).toBe(400);
      expect(res.json.error.details).toEqual([{ path: "workflowID", message: "must be a positive integer ID" }]);
    }
  });

  it("normalises startAt with any offset to UTC milliseconds", async () => {
    const wf = await longWorkflow();
    for (const [given, expected] of [
      ["2099-06-01T12:00:00+05:30", "2099-06-01T06:30:00.000Z"],
      ["2099-06-01T12:00:00.5-03:00", "2099-06-01T15:00:00.500Z"],
      ["2099-06-01t12:00:00z", "2099-06-01T12:00:00.000Z"],
    ]) {
      const job = await makeJob(wf, { startAt: given });
      expect(job.startAt, given).toBe(expected);
      expect((await inspect(job.jobID)).alarm).toBe(Date.parse(expected));
    }
  });

  it("starts a job with a startAt however far in the past at once, and refuses one from 2100 on (nothing created)", async () => {
    const wf = await makeWorkflow([{ name: "a", kind: "log", options: { message: "hi" } }]);
    for (const given of ["1969-12-31T23:59:59Z", "1970-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "0000-01-01T00:00:00Z"]) {
      const res = await createJob({ workflowID: wf, startAt: given });
      expect(res.status, given).toBe(201);
      expect(res.json.response.startAt, given).toBe(new Date(Date.parse(given)).toISOString());
      const done = await waitForJob(res.json.response.jobID, (j) => j.status === "ok");
      expect(Date.parse(done.startedAt)).toBeGreaterThan(Date.now() - 60_000);
      await expectMirrorMatches(res.json.response.jobID);
    }
    const before = await jobCount();
    for (const given of ["2100-01-01T00:00:00Z", "2099-12-31T23:00:00-01:00", "2262-06-01T00:00:00Z", "9999-12-31T23:59:59Z"]) {
      const res = await createJob({ workflowID: wf, startAt: given });
      expect(res.status, given).toBe(400);
      expect(res.json.error.details, given).toEqual([{ path: "startAt", message: "must be before 2100-01-01T00:00:00.000Z" }]);
    }
    expect(await jobCount()).toBe(before);
    expect((await createJob({ workflowID: wf, startAt: "2099-12-31T23:59:59.999Z" })).status).toBe(201);
  });
});

describe("Idempotency-Key", () => {
  it("answers the first job (200) for a repeat and 409 for a different body", async () => {
    const wf = await longWorkflow();
    const headers = { "idempotency-key": "order-1" };
    const first = await createJob({ workflowID: wf, startAt: FUTURE, parameters: { a: "1", b: "2" } }, headers);
    expect(first.status).toBe(201);
    const before = await jobCount();
    const again = await createJob({ workflowID: wf, startAt: "2099-01-01T08:00:00Z", parameters: { b: "2", a: "1" } }, headers);
    expect(again.status).toBe(200);
    expect(again.json.response).toEqual(first.json.response);
    const different = await createJob({ workflowID: wf, startAt: FUTURE, parameters: { a: "other" } }, headers);
    expect(different.status).toBe(409);
    expect(different.json.error.code).toBe("idempotency_key_reused");
    expect(await jobCount()).toBe(before);
    // Keys are per token subject.
    const otherUser = await call("/job/", {
      body: { workflowID: wf, startAt: FUTURE, parameters: { a: "1", b: "2" } },
      headers,
      token: await token("write", { sub: "99" }),
    });
    expect(otherUser.status).toBe(201);
    expect(otherUser.json.response.jobID).not.toBe(first.json.response.jobID);
  });

  it("creates one job for concurrent repeats", async () => {
    const wf = await longWorkflow();
    const before = await jobCount();
    const results = await Promise.all(Array.from({ length: 6 }, () => createJob({ workflowID: wf, startAt: FUTURE }, { "idempotency-key": "burst" })));
    expect(results.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 200, 201]);
    expect(new Set(results.map((r) => r.json.response.jobID)).size).toBe(1);
    expect(await jobCount()).toBe(before + 1);
  });

  it("expires after 24 hours and refuses malformed keys", async () => {
    const wf = await longWorkflow();
    const first = await createJob({ workflowID: wf, startAt: FUTURE }, { "idempotency-key": "old" });
    await env.DB.prepare("UPDATE idempotency_keys SET created_at = ? WHERE key = ?")
      .bind(new Date(Date.now() - 25 * 3600_000).toISOString(), "7:old")
      .run();
    const later = await createJob({ workflowID: wf, startAt: FUTURE }, { "idempotency-key": "old" });
    expect(later.status).toBe(201);
    expect(later.json.response.jobID).not.toBe(first.json.response.jobID);
    const bad = await createJob({ workflowID: wf }, { "idempotency-key": "x".repeat(300) });
    expect(bad.status).toBe(400);
    // A key left without a job by a request that died is taken over after 30 s.
    await env.DB.prepare("INSERT INTO idempotency_keys (key, job_id, request_hash, created_at) VALUES ('7:dead', 0, 'h', ?)")
      .bind(new Date(Date.now() - 60_000).toISOString())
      .run();
    const takeover = await createJob({ workflowID: wf, startAt: FUTURE }, { "idempotency-key": "dead" });
    expect(takeover.status).toBe(201);
    const repeat = await createJob({ workflowID: wf, startAt: FUTURE }, { "idempotency-key": "dead" });
    expect(repeat.status).toBe(200);
    expect(repeat.json.response.jobID).toBe(takeover.json.response.jobID);
  });
});

describe("GET /job/", () => {
  it("lists newest first from the mirror, with filters and paging", async () => {
    const wfA = await longWorkflow();
    const wfB = await longWorkflow();
    const a1 = await makeJob(wfA, { startAt: FUTURE });
    const b1 = await makeJob(wfB, { startAt: FUTURE });
    const a2 = await makeJob(wfA, { startAt: FUTURE });
    await call(`/job/${a2.jobID}`, { method: "DELETE" });

    const byWf = await call(`/job/?workflowID=${wfA}`);
    expect(byWf.status).toBe(200);
    expect(byWf.json.response.jobs.map((j: any) => j.jobID)).toEqual([a2.jobID, a1.jobID]);
    expect(byWf.json.response.meta).toEqual({ page: 0, perPage: 50, count: 2 });

    const cancelled = await call(`/job/?workflowID=${wfA}&status=cancelled`);
    expect(cancelled.json.response.jobs.map((j: any) => j.jobID)).toEqual([a2.jobID]);
    expect(cancelled.json.response.jobs[0]).toEqual(await getJob(a2.jobID));

    const all = await call("/job/?perPage=1&page=1");
    expect(all.json.response.meta.perPage).toBe(1);
    expect(all.json.response.jobs.length).toBe(1);
    const ids = (await call("/job/?perPage=100")).json.response.jobs.map((j: any) => Number(j.jobID));
    expect(ids).toEqual([...ids].sort((x, y) => y - x));
    expect(ids).toContain(Number(b1.jobID));
    expect((await call("/job/?perPage=1000")).json.response.meta.perPage).toBe(100);
  });

  it("refuses an unknown status or a malformed workflowID", async () => {
    const res = await call("/job/?status=done");
    expect(res.status).toBe(400);
    expect(res.json.error.details[0].path).toBe("status");
    expect((await call("/job/?workflowID=abc")).status).toBe(400);
    expect((await call("/job/?page=x")).status).toBe(400);
  });
});

describe("GET /job/{jobID}", () => {
  it("answers 404 for an unknown job and 400 for a malformed ID", async () => {
    expect((await call("/job/987654")).status).toBe(404);
    expect((await call("/job/987654/logs")).status).toBe(404);
    expect((await call("/job/987654", { body: { log: { message: "x" } } })).status).toBe(404);
    expect((await call("/job/987654", { method: "DELETE" })).status).toBe(404);
    expect((await call("/job/abc")).status).toBe(400);
    expect((await call("/job/0/logs")).status).toBe(400);
    // Probing an unknown ID leaves no storage behind in its Durable Object.
    const tables = await inDO("987654", (_i, state) =>
      state.storage.sql.exec("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_%' ESCAPE '\\'").toArray(),
    );
    expect(tables).toEqual([]);
  });
});

describe("unknown jobs and odd parameter names", () => {
  it("words the 404 the same for every route: 'Job N not found'", async () => {
    const wf = await longWorkflow();
    const requests: Array<[string, Parameters<typeof call>[1]]> = [
      ["/job/99999999", {}],
      ["/job/99999999/logs", {}],
      ["/job/99999999", { body: { log: { message: "x" } } }],
      ["/job/99999999", { body: { status: "cancelled" } }],
      ["/job/99999999", { body: { workflowID: wf } }],
      ["/job/99999999", { method: "DELETE" }],
    ];
    for (const [path, init] of requests) {
      const res = await call(path, init);
      expect(res.status, `${init?.method ?? "GET/POST"} ${JSON.stringify(init?.body)}`).toBe(404);
      expect(res.json.error, `${init?.method} ${JSON.stringify(init?.body)}`).toMatchObject({ code: "not_found", message: "Job 99999999 not found" });
    }
  });

  it("keeps a parameter named __proto__ as an ordinary key", async () => {
    const wf = await longWorkflow();
    const raw = `{"workflowID":"${wf}","startAt":"${FUTURE}","parameters":{"__proto__":"x","a":"1"}}`;
    const res = await call("/job/", { body: raw });
    expect(res.status, res.text).toBe(201);
    expect(res.text).toContain('"parameters":{"__proto__":"x","a":"1"}');
    const jobID = res.json.response.jobID;
    expect((await call(`/job/${jobID}`)).text).toContain('"parameters":{"__proto__":"x","a":"1"}');
    await expectMirrorMatches(jobID);
    const edited = await call(`/job/${jobID}`, { body: `{"parameters":{"__proto__":"y"}}` });
    expect(edited.status).toBe(200);
    expect(edited.text).toContain('"parameters":{"__proto__":"y"}');
    const bad = await call(`/job/${jobID}`, { body: `{"parameters":{"__proto__":{"polluted":"1"}}}` });
    expect(bad.status).toBe(400);
    expect(bad.json.error.details).toEqual([{ path: "parameters.__proto__", message: "must be a string" }]);
    const form = await call("/job/", { form: { workflowID: wf, startAt: FUTURE, parameters: `{"__proto__":"f"}` } });
    expect(form.text).toContain('"parameters":{"__proto__":"f"}');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe("logs", () => {
  it("appends lines (object or array), oldest first, with paging and after", async () => {
    const wf = await longWorkflow();
    const job = await makeJob(wf, { startAt: FUTURE });
    const one = await call(`/job/${job.jobID}`, { body: { log: { message: "first", data: { x: 1 } } } });
    expect(one.status).toBe(200);
    const many = await call(`/job/${job.jobID}`, {
      body: {
        log: [
          { message: "second", level: "warn" },
          { message: "third", level: "error", data: [1, 2] },
        ],
      },
    });
    expect(many.status).toBe(200);
    const form = await call(`/job/${job.jobID}`, { form: { log: JSON.stringify({ message: "fourth" }) } });
    expect(form.status).toBe(200);
    const logs = await logsOf(job.jobID);
    expect(logs.map((l) => l.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(logs.slice(1)).toEqual([
      { seq: 2, time: expect.any(String), level: "info", task: null, message: "first", data: { x: 1 } },
      { seq: 3, time: expect.any(String), level: "warn", task: null, message: "second", data: null },
      { seq: 4, time: expect.any(String), level: "error", task: null, message: "third", data: [1, 2] },
      { seq: 5, time: expect.any(String), level: "info", task: null, message: "fourth", data: null },
    ]);
    const tail = await call(`/job/${job.jobID}/logs?after=3`);
    expect(tail.json.response.meta).toEqual({ page: 0, perPage: 50, count: 2 });
    expect(tail.json.response.logs.map((l: any) => l.seq)).toEqual([4, 5]);
    const page = await call(`/job/${job.jobID}/logs?perPage=2&page=1`);
    expect(page.json.response.meta).toEqual({ page: 1, perPage: 2, count: 5 });
    expect(page.json.response.logs.map((l: any) => l.seq)).toEqual([3, 4]);
    expect((await call(`/job/${job.jobID}/logs?after=-1`)).status).toBe(400);
    expect((await call(`/job/${job.jobID}/logs?after=x`)).status).toBe(400);
  });

  it("refuses bad lines with 400 and appends nothing", async () => {
    const wf = await longWorkflow();
    const job = await makeJob(wf, { startAt: FUTURE });
    const before = await logsOf(job.jobID);
    const bad: unknown[] = [
      { message: "" },
      { level: "info" },
      { message: 5 },
      { message: "x", level: "debug" },
      [{ message: "ok" }, { nope: 1 }],
      "not json",
      42,
      { message: "x".repeat(16 * 1024 + 1) },
      [{ message: "fine" }, { message: "big", data: { blob: "y".repeat(16 * 1024) } }],
      Array.from({ length: 101 }, () => ({ message: "many" })),
    ];
    for (const log of bad) {
      const res = await call(`/job/${job.jobID}`, { body: { log } });
      expect(res.status, JSON.stringify(log).slice(0, 80)).toBe(400);
    }
    const big = await call(`/job/${job.jobID}`, { body: { log: { message: "x".repeat(16 * 1024 + 1) } } });
    expect(big.json.error.code).toBe("log_line_too_large");
    expect(await logsOf(job.jobID)).toEqual(before);
    // Exactly 16 KiB fits.
    expect((await call(`/job/${job.jobID}`, { body: { log: { message: "z".repeat(16 * 1024) } } })).status).toBe(200);
  });

  it("points a refused line at its problem", async () => {
    const wf = await longWorkflow();
    const job = await makeJob(wf, { startAt: FUTURE });
    const before = await logsOf(job.jobID);
    const cases: Array<[unknown, Array<{ path: string; message: string }>]> = [
      [{ level: "info" }, [{ path: "log.message", message: "is required" }]],
      [{ message: "x", level: "debug" }, [{ path: "log.level", message: "must be info, warn or error" }]],
      [{ message: "" }, [{ path: "log.message", message: "must not be empty" }]],
      [[{ message: "x", level: "debug" }], [{ path: "log[0].level", message: "must be info, warn or error" }]],
      [
        [{ message: "ok" }, { nope: 1 }, "text"],
        [
          { path: "log[1].message", message: "is required" },
          { path: "log[2]", message: "must be a log line object {message, level?, data?}" },
        ],
      ],
      [Array.from({ length: 101 }, () => ({ message: "many" })), [{ path: "log", message: "at most 100 lines per request (got 101)" }]],
      ["not json", [{ path: "log", message: "must be a log line object or an array of them" }]],
      [42, [{ path: "log", message: "must be a log line object or an array of them" }]],
    ];
    for (const [log, details] of cases) {
      const res = await call(`/job/${job.jobID}`, { body: { log } });
      expect(res.status, JSON.stringify(log).slice(0, 80)).toBe(400);
      expect(res.json.error.details, JSON.stringify(log).slice(0, 80)).toEqual(details);
    }
    const form = await call(`/job/${job.jobID}`, { form: { log: JSON.stringify([{ message: "a" }, { message: 5 }]) } });
    expect(form.status).toBe(400);
    expect(form.json.error.details).toEqual([{ path: "log[1].message", message: "must be a string" }]);
    expect(await logsOf(job.jobID)).toEqual(before);
    expect((await call(`/job/${job.jobID}`, { body: { log: Array.from({ length: 100 }, () => ({ message: "fits" })) } })).status).toBe(200);
  });

  it("gives concurrent appends unique, gap-free seq numbers", async () => {
    const wf = await longWorkflow();
    const job = await makeJob(wf, { startAt: FUTURE });
    const writers = 25;
    const results = await Promise.all(
      Array.from({ length: writers }, (_, w) => call(`/job/${job.jobID}`, { body: { log: Array.from({ length: 4 }, (_, i) => ({ message: `w${w}-${i}` })) } })),
    );
    expect(results.every((r) => r.status === 200)).toBe(true);
    const res = await call(`/job/${job.jobID}/logs?perPage=100&after=1`);
    expect(res.json.response.meta.count).toBe(writers * 4);
    const all = [...res.json.response.logs, ...(await call(`/job/${job.jobID}/logs?perPage=100&after=101`)).json.response.logs];
    expect(all.map((l: any) => l.seq)).toEqual(Array.from({ length: writers * 4 }, (_, i) => i + 2));
    expect(new Set(all.map((l: any) => l.message)).size).toBe(writers * 4);
    // Each request's lines stay together and in order.
    for (let w = 0; w < writers; w++) {
      const seqs = all.filter((l: any) => l.message.startsWith(`w${w}-`)).map((l: any) => l.seq);
      expect(seqs).toEqual([seqs[0], seqs[0] + 1, seqs[0] + 2, seqs[0] + 3]);
    }
  });
});

describe("POST /job/{jobID}: editing", () => {
  it("changes startAt (moving the alarm), parameters and workflowID while queued", async () => {
    const wf = await longWorkflow();
    const wf2 = await makeWorkflow([
      { name: "a", kind: "log", options: { message: "1" } },
      { name: "b", kind: "log", options: { message: "2" } },
    ]);
    const job = await makeJob(wf, { startAt: FUTURE });
    const res = await call(`/job/${job.jobID}`, { body: { startAt: "2098-05-05T05:05:05-01:00", parameters: { k: "v" }, workflowID: wf2 } });
    expect(res.status).toBe(200);
    expect(res.json.response).toMatchObject({
      startAt: "2098-05-05T06:05:05.000Z",
      parameters: { k: "v" },
      workflowID: wf2,
      status: "queued",
      progress: { task: null, done: 0, total: 2 },
    });
    expect((await inspect(job.jobID)).alarm).toBe(Date.parse("2098-05-05T06:05:05Z"));
    expect((await inspect(job.jobID)).state.snapshot.workflowID).toBe(wf2);
    await expectMirrorMatches(job.jobID);
  });

  it("refuses edits with nothing changed: unknown workflow, bad values, not queued", async () => {
    const wf = await longWorkflow();
    const job = await makeJob(wf, { startAt: FUTURE });
    const before = await getJob(job.jobID);
    const logsBefore = await logsOf(job.jobID);
    for (const body of [
      { workflowID: "999999", log: { message: "no" } },
      { startAt: "soon", log: { message: "no" } },
      { parameters: { a: 1 }, log: { message: "no" } },
      { status: "finished", log: { message: "no" } },
      { status: "ok", log: { message: "no" } },
    ]) {
      const res = await call(`/job/${job.jobID}`, { body });
      expect(res.status, JSON.stringify(body)).toBe(body.status === "ok" ? 409 : 400);
    }
    expect(await getJob(job.jobID)).toEqual(before);
    expect(await logsOf(job.jobID)).toEqual(logsBefore);

    await call(`/job/${job.jobID}`, { body: { status: "running" } });
    const running = await getJob(job.jobID);
    const runningLogs = await logsOf(job.jobID);
    for (const body of [{ startAt: FUTURE }, { parameters: { a: "b" } }, { workflowID: wf }, { parameters: { a: "b" }, log: { message: "no" } }]) {
      const res = await call(`/job/${job.jobID}`, { body });
      expect(res.status, JSON.stringify(body)).toBe(409);
      expect(res.json.error.code).toBe("job_not_queued");
    }
    expect(await getJob(job.jobID)).toEqual(running);
    expect(await logsOf(job.jobID)).toEqual(runningLogs);
  });

  it("moves startAt of a queued job into the far past (starts at once) but not to 2100 or later", async () => {
    const wf = await makeWorkflow([{ name: "a", kind: "log", options: { message: "hi" } }]);
    const job = await makeJob(wf, { startAt: FUTURE });
    const far = await call(`/job/${job.jobID}`, { body: { startAt: "9999-12-31T23:59:59Z" } });
    expect(far.status).toBe(400);
    expect(far.json.error.details).toEqual([{ path: "startAt", message: "must be before 2100-01-01T00:00:00.000Z" }]);
    expect((await getJob(job.jobID)).startAt).toBe("2099-01-01T08:00:00.000Z");
    const past = await call(`/job/${job.jobID}`, { body: { startAt: "1960-01-01T00:00:00Z" } });
    expect(past.status).toBe(200);
    expect(past.json.response.startAt).toBe("1960-01-01T00:00:00.000Z");
    expect((await waitForJob(job.jobID, (j) => j.status === "ok")).progress).toEqual({ task: null, done: 1, total: 1 });
  });

  it("never lets a stored startAt make the alarm throw: it is clamped to what alarms accept", async () => {
    const wf = await longWorkflow();
    const job = await makeJob(wf, { startAt: FUTURE });
    const stub = stubOf(job.jobID);
    const far = Date.UTC(3000, 0, 1);
    const moved = await stub.update({ startAt: far });
    expect(moved.ok).toBe(true);
    const { state, alarm } = await inspect(job.jobID);
    expect(state.startAt).toBe(far);
    expect(alarm).toBe(Date.UTC(2189, 0, 1));
    expect(await runDurableObjectAlarm(stub)).toBe(true); // woken early: still queued, the alarm set again
    expect((await getJob(job.jobID)).status).toBe("queued");
    expect((await inspect(job.jobID)).alarm).toBe(Date.UTC(2189, 0, 1));
    expect((await stub.update({ startAt: -62_167_219_200_000 })).ok).toBe(true); // 0000-01-01: at once
    expect((await waitForJob(job.jobID, (j) => j.status === "running")).startAt).toBe("0000-01-01T00:00:00.000Z");
  });
});

describe("transitions", () => {
  it("allows exactly the contract's table through POST status, with the mirror following", async () => {
    const wf = await longWorkflow();
    for (const from of JOB_STATUSES) {
      for (const to of JOB_STATUSES) {
        const job = await jobIn(from, wf);
        expect(job.status).toBe(from);
        const before = await getJob(job.jobID);
        const res = await call(`/job/${job.jobID}`, { body: { status: to } });
        const allowed = TRANSITIONS[from].includes(to);
        expect(res.status, `${from} → ${to}`).toBe(allowed ? 200 : 409);
        if (allowed) {
          expect(res.json.response.status).toBe(to);
          const after = await expectMirrorMatches(job.jobID);
          if (to === "running") expect(after.startedAt).not.toBeNull();
          if (["ok", "error", "cancelled"].includes(to)) expect(after.finishedAt).not.toBeNull();
          if (to === "error") expect(after.error).toEqual(expect.any(String));
        } else {
          expect(res.json.error.code).toBe("invalid_transition");
          expect(await getJob(job.jobID)).toEqual(before);
          await expectMirrorMatches(job.jobID);
        }
      }
    }
  });

  it("a client setting ok during a task clears progress.task (null once ok)", async () => {
    const wf = await makeWorkflow([
      { name: "d", kind: "delay", options: { seconds: 3600 } },
      { name: "after", kind: "log", options: { message: "x" } },
    ]);
    const job = await makeJob(wf);
    await waitForJob(job.jobID, (j) => j.progress.task === "d");
    const res = await call(`/job/${job.jobID}`, { body: { status: "ok" } });
    expect(res.status).toBe(200);
    expect(res.json.response).toMatchObject({ status: "ok", progress: { task: null, done: 0, total: 2 } });
    expect((await expectMirrorMatches(job.jobID)).progress).toEqual({ task: null, done: 0, total: 2 });
  });

  it("DELETE cancels queued and running jobs and refuses final ones", async () => {
    const wf = await longWorkflow();
    const queued = await jobIn("queued", wf);
    const del = await call(`/job/${queued.jobID}`, { method: "DELETE" });
    expect(del.status).toBe(200);
    expect(del.json).toEqual({ success: { message: "OK" } });
    const cancelled = await expectMirrorMatches(queued.jobID);
    expect(cancelled.status).toBe("cancelled");
    expect((await inspect(queued.jobID)).alarm).toBeNull();

    const running = await jobIn("running", wf);
    expect((await call(`/job/${running.jobID}`, { method: "DELETE" })).status).toBe(200);
    expect((await expectMirrorMatches(running.jobID)).status).toBe("cancelled");

    for (const status of ["ok", "error", "cancelled"]) {
      const job = await jobIn(status, wf);
      const before = await getJob(job.jobID);
      const res = await call(`/job/${job.jobID}`, { method: "DELETE" });
      expect(res.status, status).toBe(409);
      expect(await getJob(job.jobID)).toEqual(before);
    }
  });
});

describe("documentation", () => {
  it("lists every job route in /openapi.json", async () => {
    const res = await call("/openapi.json", { token: null });
    expect(res.status).toBe(200);
    const paths = res.json.paths;
    expect(Object.keys(paths["/job/"])).toEqual(expect.arrayContaining(["get", "post"]));
    expect(Object.keys(paths["/job/{jobID}"])).toEqual(expect.arrayContaining(["get", "post", "delete"]));
    expect(Object.keys(paths["/job/{jobID}/logs"])).toEqual(["get"]);
    expect(res.json.components.schemas.Job.required).toEqual(expect.arrayContaining(["jobID", "progress", "error"]));
  });

  it("documents log as a line or an array of at most 100 lines, and workflowID as required", async () => {
    const paths = (await call("/openapi.json", { token: null })).json.paths;
    const update = paths["/job/{jobID}"].post.requestBody.content["application/json"].schema;
    expect(update.properties.log.oneOf).toEqual([
      expect.objectContaining({ type: "object", required: ["message"] }),
      expect.objectContaining({ type: "array", maxItems: 100 }),
    ]);
    const create = paths["/job/"].post.requestBody.content["application/json"].schema;
    expect(create.required).toEqual(["workflowID"]);
    expect(create.properties.workflowID.anyOf).toEqual([
      expect.objectContaining({ type: "string", pattern: "^[1-9][0-9]{0,15}$" }),
      expect.objectContaining({ type: "integer", minimum: 1 }),
    ]);
  });
});

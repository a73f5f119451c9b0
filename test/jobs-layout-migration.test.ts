// A job stored by the engine before issue 12 (state layout version 1: one `state` row with the
// snapshot and parameters in it, no log tally) wakes under today's code: every load migrates it,
// and the job carries on where it stopped.
import { afterEach, describe, expect, it, vi } from "vitest";
import { call } from "./helpers";
import { countLines, fireAlarm, getJob, inDO, inspect, isFinal, logsOf, makeJob, makeWorkflow, sleep, stubOf, stubTarget, waitForJob } from "./jobs-helpers";

/**
 * Copied from a job DO's storage under the code before issue 12 (its `state` row, `log` and
 * `results`; V1_STATE is the row's text as stored): job 1 ran task 'first' (http, ok), attempt 1 of 'second' failed with a 503, and the
 * job waits an hour for its retry.
 */
const V1_STATE =
  '{"jobID":"1","workflowID":"1","userID":"7","status":"running","startAt":1796115355147,"startedAt":1796115355163,"finishedAt":null,"deadline":1796122555163,"parameters":{"leadID":"42"},"snapshot":{"workflowID":"1","name":"fixture","timeout":7200,"tasks":[{"name":"first","kind":"http","options":{"method":"POST","url":"http://test.local/a","body":{"lead":"{{params.leadID}}"}},"retries":[],"timeout":30},{"name":"second","kind":"http","options":{"method":"GET","url":"http://test.local/b/{{tasks.first.body.ref}}"},"retries":[3600],"timeout":30},{"name":"third","kind":"log","options":{"message":"done {{tasks.second.status}}"},"retries":[],"timeout":30}],"onError":[{"name":"cleanup","kind":"log","options":{"message":"cleanup"},"retries":[],"timeout":30}]},"progress":{"task":"second","done":1,"total":3},"error":null,"createdAt":1796115355138,"updatedAt":1796115355199,"version":4,"mirrored":4,"mirrorRetryAt":null,"mirrorFailures":0,"phase":"main","index":1,"attempts":1,"failures":1,"lost":0,"unclaimed":0,"attempt":null,"waitUntil":1796118955219,"onErrorDeadline":null,"alarmAt":1796118955219}';
const V1_LOG = [
  {
    "seq": 1,
    "time": 1796115355147,
    "level": "info",
    "task": null,
    "message": "job created from workflow 1 'fixture' (3 tasks)",
    "data": '{"parameters":{"leadID":"42"}}',
  },
  {
    "seq": 2,
    "time": 1796115355163,
    "level": "info",
    "task": null,
    "message": "job started",
    "data": '{"startAt":"2026-12-01T08:55:55.147Z","timeout":7200}',
  },
  {
    "seq": 3,
    "time": 1796115355190,
    "level": "info",
    "task": "first",
    "message": "attempt 1 of task 'first' (http) started",
    "data": '{"attempt":1,"attemptId":"dd61bd67-87db-4d90-8a57-ac5804204c2d","kind":"http"}',
  },
  {
    "seq": 4,
    "time": 1796115355199,
    "level": "info",
    "task": "first",
    "message": "attempt 1 of task 'first' succeeded in 0 ms",
    "data": '{"attempt":1,"kind":"http","outcome":"ok","durationMs":0}',
  },
  {
    "seq": 5,
    "time": 1796115355211,
    "level": "info",
    "task": "second",
    "message": "attempt 1 of task 'second' (http) started",
    "data": '{"attempt":1,"attemptId":"18ca9853-9fbf-4223-8478-e9f4777111c5","kind":"http"}',
  },
  {
    "seq": 6,
    "time": 1796115355219,
    "level": "warn",
    "task": "second",
    "message": "attempt 1 of task 'second' failed in 1 ms: HTTP 503; retry 1 of 1 in 3600 s",
    "data": '{"attempt":1,"kind":"http","outcome":"failed","durationMs":1,"error":"HTTP 503"}',
  },
];
const V1_RESULTS = [{ "phase": "main", "name": "first", "value": '{"status":200,"body":{"ref":"R-7"}}' }];

afterEach(() => {
  vi.restoreAllMocks();
});

const TIME_FIELDS = ["startAt", "startedAt", "deadline", "createdAt", "updatedAt", "waitUntil", "alarmAt"];

/**
 * Puts the v1 fixture into job `jobID`'s DO in place of what today's code stored there. Its times
 * are moved so that it started a minute ago (the workflow timeout is 2 hours), its IDs are the job's.
 */
async function plantV1(jobID: string, workflowID: string, patch: (raw: any, now: number) => void = () => {}) {
  const raw = JSON.parse(V1_STATE);
  const shift = Date.now() - 60_000 - raw.startedAt;
  for (const field of TIME_FIELDS) if (raw[field] !== null) raw[field] += shift;
  Object.assign(raw, { jobID, workflowID, snapshot: { ...raw.snapshot, workflowID } });
  patch(raw, Date.now());
  await inDO(jobID, async (_instance, ctx) => {
    const sql = ctx.storage.sql;
    sql.exec("DROP TABLE IF EXISTS definition");
    sql.exec("DELETE FROM log");
    sql.exec("DELETE FROM results");
    sql.exec("UPDATE state SET data = ? WHERE id = 1", JSON.stringify(raw));
    for (const l of V1_LOG)
      sql.exec("INSERT INTO log (seq, time, level, task, message, data) VALUES (?, ?, ?, ?, ?, ?)", l.seq, l.time + shift, l.level, l.task, l.message, l.data);
    for (const r of V1_RESULTS) sql.exec("INSERT INTO results (phase, name, value) VALUES (?, ?, ?)", r.phase, r.name, r.value);
    await ctx.storage.setAlarm(raw.alarmAt);
  });
}

async function storedRows(jobID: string) {
  return inDO(jobID, (_instance, ctx) => ({
    state: JSON.parse(ctx.storage.sql.exec<{ data: string }>("SELECT data FROM state").one().data),
    definition: JSON.parse(ctx.storage.sql.exec<{ data: string }>("SELECT data FROM definition").one().data),
  }));
}

describe("a job stored in layout version 1", () => {
  it("is migrated on its first load and carries on: the retry runs, later tasks see earlier results, the log goes on without a gap", async () => {
    const seen = stubTarget(() => new Response("{}", { status: 200, headers: { "content-type": "application/json" } }));
    const wf = await makeWorkflow([{ name: "x", kind: "delay", options: { seconds: 60 } }]);
    const job = await makeJob(wf, { startAt: "2099-01-01T00:00:00Z" });
    await plantV1(job.jobID, wf);

    const woken = await getJob(job.jobID);
    expect(woken).toMatchObject({ jobID: job.jobID, status: "running", parameters: { leadID: "42" }, progress: { task: "second", done: 1, total: 3 } });
    const rows = await storedRows(job.jobID);
    expect(rows.state).toMatchObject({ schema: 2, log: { lines: 6, truncated: false }, waitUntil: expect.any(Number) });
    expect(rows.state).not.toHaveProperty("snapshot");
    expect(rows.state).not.toHaveProperty("parameters");
    expect(rows.definition).toMatchObject({ parameters: { leadID: "42" }, snapshot: { name: "fixture" } });
    expect(rows.definition.snapshot.tasks.map((t: any) => t.name)).toEqual(["first", "second", "third"]);

    await fireAlarm(job.jobID); // the hour of the retry has come
    const done = await waitForJob(job.jobID, isFinal);
    expect(done).toMatchObject({ status: "ok", progress: { task: null, done: 3, total: 3 } });
    expect(seen.map((s) => s.url)).toEqual(["http://test.local/b/R-7"]); // the result of 'first', from the v1 results table
    expect(seen[0].headers.get("idempotency-key")).toMatch(/^[0-9a-f]{64}$/);
    const logs = await logsOf(job.jobID);
    expect(logs.slice(0, 6).map((l) => l.message)).toEqual(V1_LOG.map((l) => l.message));
    expect(logs.map((l) => l.seq)).toEqual(logs.map((_, i) => i + 1));
    expect(countLines(logs, /^attempt 2 of task 'second' \(http\) started$/)).toBe(1);
    expect(countLines(logs, /^attempt 2 of task 'second' succeeded/)).toBe(1);
    expect(countLines(logs, /^done 200$/)).toBe(1);
    const listed = (await call(`/job/?perPage=100`)).json.response.jobs.find((j: any) => j.jobID === job.jobID);
    expect(listed).toEqual(done);
  });

  it("an attempt a v1 queue consumer had claimed counts as lost and runs again, once", async () => {
    const seen = stubTarget(() => new Response("{}", { status: 200 }));
    const wf = await makeWorkflow([{ name: "x", kind: "delay", options: { seconds: 60 } }]);
    const job = await makeJob(wf, { startAt: "2099-01-01T00:00:00Z" });
    await plantV1(job.jobID, wf, (raw, now) => {
      // As the v1 engine left it while a consumer ran attempt 2 of 'second' (with heartbeats).
      Object.assign(raw, { waitUntil: null, alarmAt: now, attempts: 2 });
      raw.attempt = {
        id: "v1-attempt",
        phase: "main",
        index: 1,
        number: 2,
        mode: "queue",
        dispatchedAt: now - 2000,
        claimedAt: now - 1900,
        deadline: now + 33_100,
        beatAt: now - 900,
      };
    });
    const stub = stubOf(job.jobID);
    expect(await stub.claimAttempt("v1-attempt")).toBe(false);
    const done = await waitForJob(job.jobID, isFinal);
    expect(done.status).toBe("ok");
    expect(seen.length).toBe(1);
    expect(seen[0].headers.get("x-job-attempt")).toBe("3");
    const logs = await logsOf(job.jobID);
    expect(countLines(logs, /^attempt 2 of task 'second' was lost: the Durable Object instance running it is gone; running it again$/)).toBe(1);
    expect(countLines(logs, /^attempt 3 of task 'second' succeeded/)).toBe(1);
    expect((await inspect(job.jobID)).state.attempt).toBeNull();
    await sleep(10);
  });
});

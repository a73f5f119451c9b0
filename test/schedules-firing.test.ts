// The schedule's clock inside workerd: each overlap policy, catch-up after downtime, exactly one job
// per fire time however alarms, sweeps and restarts race, the cron sweep's repair, trigger and
// backfill. Fire times are in 2099 and the tests move the clock by waking the DO at the instant its
// alarm is set for (`advance`) or at a chosen one (a sweep visit): no test waits for a real fire
// time. The real alarm handler is run too, at the real time, as a duplicated or stray invocation.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { startScheduledJob } from "../src/jobs/service";
import { localIso } from "../src/schedules/cron";
import type { ScheduleObject } from "../src/schedules/schedule-object";
import { call, runCron } from "./helpers";
import { getJob, inDO, longWorkflow, makeWorkflow, waitFor } from "./jobs-helpers";
import { runInDurableObject } from "cloudflare:test";
import { advance, at, clockOf, dropAlarm, FUTURE, jobsOf, makeSchedule, runAlarmNow, scheduleLogOf, scheduleRow, scheduleStubOf } from "./schedules-helpers";

const T0 = at(FUTURE);
const HOUR = 3_600_000;
const isoAt = (ms: number) => new Date(ms).toISOString();
const hourly = async (extra: Record<string, unknown> = {}) => makeSchedule({ workflowID: await longWorkflow(), cron: "0 * * * *", startAt: FUTURE, ...extra });
const sweepAt = (scheduleID: string, ms: number) => scheduleStubOf(scheduleID).sweep(scheduleID, ms);
const statuses = async (scheduleID: string) => (await jobsOf(scheduleID)).map((j) => [j.scheduled_for, j.status]);

describe("the alarm", () => {
  it("is set for the first fire time, fires it, and moves to the next", async () => {
    const s = await hourly();
    expect((await clockOf(s.scheduleID)).alarm).toBe(T0);
    expect(await advance(s.scheduleID)).toBe(T0);
    const [job] = await jobsOf(s.scheduleID);
    expect(job.scheduled_for).toBe(FUTURE);
    expect(await getJob(String(job.id))).toMatchObject({ scheduleID: s.scheduleID, scheduledFor: FUTURE });
    expect((await clockOf(s.scheduleID)).alarm).toBe(T0 + HOUR);
    expect((await scheduleRow(s.scheduleID))!.next_fire_at).toBe(isoAt(T0 + HOUR));
    const logs = await scheduleLogOf(s.scheduleID);
    expect(logs.map((l) => l.message)).toEqual([`fire time ${FUTURE} (clock) started job ${job.id}`]);
    expect(logs[0].data).toMatchObject({ scheduledFor: FUTURE, action: "started", jobID: String(job.id) });
  });

  it("fires a wall-clock time skipped by daylight saving once, at the next valid instant", async () => {
    // The last Sunday of March 2099 in Ljubljana: 02:30 does not exist that night.
    const march31 = new Date(Date.UTC(2099, 2, 31));
    const dstDay = Date.UTC(2099, 2, 31 - march31.getUTCDay());
    const s = await makeSchedule({
      workflowID: await longWorkflow(),
      cron: "30 2 * * *",
      timezone: "Europe/Ljubljana",
      overlap: "allow_all",
      startAt: isoAt(dstDay - 86_400_000),
    });
    for (let i = 0; i < 3; i++) await advance(s.scheduleID);
    const fired = (await jobsOf(s.scheduleID)).map((j) => localIso(Date.parse(j.scheduled_for), "Europe/Ljubljana"));
    const day = (offset: number) => new Date(dstDay + offset * 86_400_000).toISOString().slice(0, 10);
    expect(fired).toEqual([`${day(-1)}T02:30:00.000+01:00`, `${day(0)}T03:00:00.000+02:00`, `${day(1)}T02:30:00.000+02:00`]);
  });
});

describe("overlap", () => {
  it("skip (the default): no start while the previous job is queued or running; the skipped time is logged", async () => {
    const s = await hourly();
    await advance(s.scheduleID);
    await advance(s.scheduleID);
    const [first] = await jobsOf(s.scheduleID);
    expect(await jobsOf(s.scheduleID)).toHaveLength(1);
    const logs = await scheduleLogOf(s.scheduleID);
    expect(logs[1]).toMatchObject({
      level: "warn",
      message: `fire time ${isoAt(T0 + HOUR)} (clock) skipped: job ${first.id} still queued or running (overlap skip)`,
      data: { action: "skipped", scheduledFor: isoAt(T0 + HOUR), jobID: null },
    });
    // Once it has ended, the next fire time starts.
    expect((await call(`/job/${first.id}`, { method: "DELETE" })).status).toBe(200);
    await advance(s.scheduleID);
    expect(await statuses(s.scheduleID)).toEqual([
      [FUTURE, "cancelled"],
      [isoAt(T0 + 2 * HOUR), expect.stringMatching(/^(queued|running)$/)],
    ]);
  });

  it("buffer_one: one fire time waits for the running job and starts when it ends; a second is skipped", async () => {
    const s = await hourly({ overlap: "buffer_one" });
    await advance(s.scheduleID); // 00:00 starts
    await advance(s.scheduleID); // 01:00 waits
    await sweepAt(s.scheduleID, T0 + 2 * HOUR + 5_000); // 02:00: the buffer is taken
    const [first] = await jobsOf(s.scheduleID);
    expect(await jobsOf(s.scheduleID)).toHaveLength(1);
    expect((await clockOf(s.scheduleID)).clock.buffered).toBe(T0 + HOUR);
    const messages = (await scheduleLogOf(s.scheduleID)).map((l) => l.message);
    expect(messages[1]).toBe(`fire time ${isoAt(T0 + HOUR)} (clock) buffered: waits for job ${first.id} to end (overlap buffer_one)`);
    expect(messages[2]).toMatch(
      new RegExp(
        `^fire time ${isoAt(T0 + 2 * HOUR)} \\(clock\\) skipped: job ${first.id} still queued or running and the run for ${isoAt(T0 + HOUR)} already waits`,
      ),
    );
    // The job ends: its DO tells the schedule, which starts the buffered run at once.
    expect((await call(`/job/${first.id}`, { method: "DELETE" })).status).toBe(200);
    await waitFor("the buffered run", async () => (await jobsOf(s.scheduleID)).length === 2);
    expect(await statuses(s.scheduleID)).toEqual([
      [FUTURE, "cancelled"],
      [isoAt(T0 + HOUR), expect.stringMatching(/^(queued|running)$/)],
    ]);
    expect((await clockOf(s.scheduleID)).clock.buffered).toBeNull();
    expect((await scheduleLogOf(s.scheduleID)).at(-1)!.message).toMatch(new RegExp(`^fire time ${isoAt(T0 + HOUR)} \\(buffer\\) started job `));
  });

  it("buffer_one without a message from the job: the schedule's own alarm finds the job ended", async () => {
    const s = await hourly({ overlap: "buffer_one" });
    await advance(s.scheduleID);
    await advance(s.scheduleID);
    const [first] = await jobsOf(s.scheduleID);
    // While a run waits, the alarm looks again within BUFFER_POLL_MS.
    expect((await clockOf(s.scheduleID)).alarm).toBe(T0 + HOUR + 10_000);
    // The job's message is lost (its DO cannot reach the schedule); the schedule's poll alarm finds the job ended.
    await inDO(String(first.id), (instance: any) => {
      const unreachable = () => {
        throw new Error("schedule unreachable");
      };
      instance.env = { ...instance.env, SCHEDULES: { idFromName: unreachable, get: unreachable } };
    });
    expect((await call(`/job/${first.id}`, { method: "DELETE" })).status).toBe(200);
    expect(await jobsOf(s.scheduleID)).toHaveLength(1);
    expect(await advance(s.scheduleID)).toBe(T0 + HOUR + 10_000);
    expect((await jobsOf(s.scheduleID)).map((j) => j.scheduled_for)).toEqual([FUTURE, isoAt(T0 + HOUR)]);
  });

  it("allow_all: starts every fire time", async () => {
    const s = await hourly({ overlap: "allow_all" });
    await advance(s.scheduleID);
    await advance(s.scheduleID);
    expect(await statuses(s.scheduleID)).toEqual([
      [FUTURE, expect.stringMatching(/^(queued|running)$/)],
      [isoAt(T0 + HOUR), expect.stringMatching(/^(queued|running)$/)],
    ]);
  });

  it("cancel_other: cancels the running job, then starts", async () => {
    const s = await hourly({ overlap: "cancel_other" });
    await advance(s.scheduleID);
    await advance(s.scheduleID);
    const jobs = await jobsOf(s.scheduleID);
    expect(jobs.map((j) => [j.scheduled_for, j.status])).toEqual([
      [FUTURE, "cancelled"],
      [isoAt(T0 + HOUR), expect.stringMatching(/^(queued|running)$/)],
    ]);
    expect((await scheduleLogOf(s.scheduleID)).map((l) => l.message)).toContain(
      `job ${jobs[0].id} cancelled for the fire time ${isoAt(T0 + HOUR)} (overlap cancel_other)`,
    );
  });
});

describe("catch-up after downtime", () => {
  it("fire times within the window start once; older ones are recorded as missed", async () => {
    const s = await hourly({ overlap: "allow_all", catchupWindow: 3 * 3600 });
    const wokeAt = T0 + 5 * HOUR + 30_000; // down from before 00:00 until 05:00:30
    await sweepAt(s.scheduleID, wokeAt);
    expect((await jobsOf(s.scheduleID)).map((j) => j.scheduled_for)).toEqual([isoAt(T0 + 3 * HOUR), isoAt(T0 + 4 * HOUR), isoAt(T0 + 5 * HOUR)]);
    const [missed] = await scheduleLogOf(s.scheduleID);
    expect(missed).toMatchObject({
      level: "warn",
      message: `missed 3 fire times from ${FUTURE} to ${isoAt(T0 + 2 * HOUR)}: older than the catch-up window (10800 s) when the schedule woke`,
      data: { action: "missed", count: 3, first: FUTURE, last: isoAt(T0 + 2 * HOUR) },
    });
    // The same moment seen again by every path starts nothing more; the real alarm handler, run
    // now (long before its 2099 time), starts nothing early.
    await Promise.all([sweepAt(s.scheduleID, wokeAt), runAlarmNow(s.scheduleID), runCron(wokeAt), sweepAt(s.scheduleID, wokeAt + 1000)]);
    expect(await jobsOf(s.scheduleID)).toHaveLength(3);
    expect((await clockOf(s.scheduleID)).alarm).toBe(T0 + 6 * HOUR);
  });

  it("with the default 60 s window only the time missed by less than a minute starts", async () => {
    const s = await hourly();
    await sweepAt(s.scheduleID, T0 + 5 * HOUR + 30_000);
    expect((await jobsOf(s.scheduleID)).map((j) => j.scheduled_for)).toEqual([isoAt(T0 + 5 * HOUR)]);
    expect((await scheduleLogOf(s.scheduleID))[0].data).toMatchObject({ action: "missed", count: 5 });
    const late = await hourly();
    await sweepAt(late.scheduleID, T0 + 61_000);
    expect(await jobsOf(late.scheduleID)).toHaveLength(0);
    expect((await scheduleLogOf(late.scheduleID))[0].data).toMatchObject({ action: "missed", count: 1, first: FUTURE });
  });

  it("a long outage of a minutely schedule is counted in one line, bounded", async () => {
    const s = await makeSchedule({ workflowID: await longWorkflow(), cron: "* * * * *", startAt: FUTURE });
    await sweepAt(s.scheduleID, T0 + 30 * 86_400_000);
    const [line] = await scheduleLogOf(s.scheduleID);
    expect(line.message).toMatch(/^missed 1000 or more fire times from 2099-01-01T00:00:00.000Z/);
    expect(line.data).toMatchObject({ count: 1000, countCapped: true });
    expect(await jobsOf(s.scheduleID)).toHaveLength(1); // the minute just before waking, within the window
  });

  it("nothing fires while paused, and resuming does not catch up the paused time", async () => {
    const s = await hourly({ paused: true });
    expect((await clockOf(s.scheduleID)).alarm).toBeNull();
    await sweepAt(s.scheduleID, T0 + 3 * HOUR);
    expect(await jobsOf(s.scheduleID)).toHaveLength(0);
    const resumed = await call(`/schedule/${s.scheduleID}`, { body: { paused: false } });
    expect(resumed.status).toBe(200);
    expect(resumed.json.response.nextRuns[0].utc).toBe(FUTURE); // startAt is still ahead of the real clock
  });
});

describe("exactly one job per fire time", () => {
  it("the alarm's wake, sweeps and the cron racing it for one fire time make one job", async () => {
    const s = await hourly({ overlap: "allow_all" }); // no overlap check that could hide a duplicate
    await Promise.all([advance(s.scheduleID), sweepAt(s.scheduleID, T0 + 500), runCron(T0 + 3_000), sweepAt(s.scheduleID, T0 + 500), advance(s.scheduleID)]);
    const jobs = await jobsOf(s.scheduleID);
    expect(jobs.filter((j) => j.scheduled_for === FUTURE)).toHaveLength(1);
    expect(new Set(jobs.map((j) => j.scheduled_for)).size).toBe(jobs.length);
  });

  it("the real alarm handler invoked twice at once, with a sweep and the cron, at the real time: one job per fire time", async () => {
    const s = await makeSchedule({ workflowID: await longWorkflow(), cron: "* * * * *", overlap: "allow_all" });
    // Count fire times from ten minutes ago: the minute just past is within the 60 s window.
    await env.DB.prepare("UPDATE schedules SET fires_after = ? WHERE id = ?")
      .bind(new Date(Date.now() - 600_000).toISOString(), Number(s.scheduleID))
      .run();
    const stub = scheduleStubOf(s.scheduleID);
    const now = Date.now();
    await Promise.all([
      runInDurableObject(stub, (instance: ScheduleObject) => instance.alarm()),
      runInDurableObject(stub, (instance: ScheduleObject) => instance.alarm()),
      runAlarmNow(s.scheduleID),
      sweepAt(s.scheduleID, now),
      runCron(now),
    ]);
    const jobs = await jobsOf(s.scheduleID);
    const lastMinute = new Date(Math.floor(now / 60_000) * 60_000).toISOString();
    expect(jobs.filter((j) => j.scheduled_for === lastMinute)).toHaveLength(1);
    expect(new Set(jobs.map((j) => j.scheduled_for)).size).toBe(jobs.length); // a minute rolling over meanwhile adds its own, once
    expect((await scheduleLogOf(s.scheduleID)).filter((l) => l.data?.action === "missed")).toHaveLength(1);
    expect((await call(`/schedule/${s.scheduleID}`, { method: "DELETE" })).status).toBe(200); // no real alarm left behind
  });

  it("concurrent starts of the same fire time, past the schedule's own queue, share one job", async () => {
    const s = await hourly({ overlap: "allow_all" });
    const input = { workflowID: Number(s.workflowID), parameters: {}, userID: "7", origin: { scheduleID: s.scheduleID, scheduledFor: T0 } };
    const made = await Promise.all(Array.from({ length: 5 }, () => startScheduledJob(env, input)));
    expect(new Set(made.map((m) => m.job.jobID)).size).toBe(1);
    expect(made.filter((m) => m.created)).toHaveLength(1);
    await advance(s.scheduleID); // the alarm for that time comes too
    expect(await jobsOf(s.scheduleID)).toHaveLength(1);
    expect((await scheduleLogOf(s.scheduleID))[0].message).toBe(`fire time ${FUTURE} (clock) already has job ${made[0].job.jobID}`);
  });

  it("a wake that died between the job's row and its Durable Object: the next wake finishes that job, no second", async () => {
    const s = await hourly();
    const old = new Date().toISOString();
    const row = await env.DB.prepare(
      "INSERT INTO jobs (workflow_id, status, start_at, version, created_at, updated_at, schedule_id, scheduled_for) VALUES (?, 'queued', ?, 0, ?, ?, ?, ?) RETURNING id",
    )
      .bind(Number(s.workflowID), old, old, old, Number(s.scheduleID), FUTURE)
      .first<{ id: number }>();
    expect((await call(`/job/${row!.id}`)).status).toBe(404); // its DO never got the job
    await advance(s.scheduleID);
    expect(await jobsOf(s.scheduleID)).toEqual([{ id: row!.id, status: expect.stringMatching(/^(queued|running)$/), scheduled_for: FUTURE }]);
    expect(await getJob(String(row!.id))).toMatchObject({ scheduleID: s.scheduleID, scheduledFor: FUTURE });
  });
});

describe("the cron sweep", () => {
  it("re-arms a schedule whose alarm was lost, once its fire time is due", async () => {
    const s = await hourly();
    await dropAlarm(s.scheduleID);
    await runCron(T0 - 60_000);
    expect(await jobsOf(s.scheduleID)).toHaveLength(0);
    expect((await clockOf(s.scheduleID)).alarm).toBeNull();
    await runCron(T0 + 3_000);
    expect((await jobsOf(s.scheduleID)).map((j) => j.scheduled_for)).toEqual([FUTURE]);
    expect((await clockOf(s.scheduleID)).alarm).toBe(T0 + HOUR);
    expect((await scheduleRow(s.scheduleID))!.next_fire_at).toBe(isoAt(T0 + HOUR));
  });

  it("arms a schedule whose DO was never told about it (its create's re-arm failed)", async () => {
    const wf = await longWorkflow();
    const now = new Date().toISOString();
    const row = await env.DB.prepare(
      "INSERT INTO schedules (workflow_id, cron, timezone, parameters, start_at, overlap, catchup_window, user_id, fires_after, next_fire_at, created_at, updated_at) VALUES (?, '0 * * * *', 'UTC', '{}', ?, 'skip', 60, '7', ?, ?, ?, ?) RETURNING id",
    )
      .bind(Number(wf), FUTURE, now, FUTURE, now, now)
      .first<{ id: number }>();
    const id = String(row!.id);
    expect((await clockOf(id)).clock).toBeNull();
    await runCron(T0 + 3_000);
    expect((await jobsOf(id)).map((j) => j.scheduled_for)).toEqual([FUTURE]);
    expect((await clockOf(id)).alarm).toBe(T0 + HOUR);
  });
});

describe("POST /schedule/{scheduleID}/trigger", () => {
  it("starts one job now, also while paused; obeys overlap unless overridden", async () => {
    const s = await hourly({ paused: true });
    const before = Date.now();
    const first = await call(`/schedule/${s.scheduleID}/trigger`, { body: {} });
    expect(first.status).toBe(201);
    const run = first.json.response;
    expect(run).toMatchObject({
      action: "started",
      reason: null,
      jobID: expect.any(String),
      job: { scheduleID: s.scheduleID, scheduledFor: run.scheduledFor },
    });
    expect(Date.parse(run.scheduledFor)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(run.scheduledFor)).toBeLessThanOrEqual(Date.now());
    const skipped = await call(`/schedule/${s.scheduleID}/trigger`, { body: {} });
    expect(skipped.status).toBe(200);
    expect(skipped.json.response).toMatchObject({
      action: "skipped",
      jobID: null,
      job: null,
      reason: `job ${run.jobID} still queued or running (overlap skip)`,
    });
    const forced = await call(`/schedule/${s.scheduleID}/trigger`, { form: { overlap: "allow_all" } });
    expect(forced.status).toBe(201);
    expect(await jobsOf(s.scheduleID)).toHaveLength(2);
    const bad = await call(`/schedule/${s.scheduleID}/trigger`, { body: { overlap: "everything" } });
    expect(bad.status).toBe(400);
    expect(bad.json.error.details[0].path).toBe("overlap");
    expect(await jobsOf(s.scheduleID)).toHaveLength(2);
  });

  it("a schedule whose workflow was deleted: 409, logged, no job", async () => {
    const wf = await makeWorkflow([{ name: "a", kind: "log", options: { message: "x" } }]);
    const s = await makeSchedule({ workflowID: wf, cron: "@daily", paused: true });
    expect((await call(`/workflow/${wf}`, { method: "DELETE" })).status).toBe(200);
    const res = await call(`/schedule/${s.scheduleID}/trigger`, { body: {} });
    expect(res.status).toBe(409);
    expect(res.json.error).toMatchObject({ code: "workflow_missing", message: `Schedule ${s.scheduleID} cannot start a job: workflow ${wf} no longer exists` });
    expect(await jobsOf(s.scheduleID)).toHaveLength(0);
    expect((await scheduleLogOf(s.scheduleID))[0]).toMatchObject({ level: "error", data: { action: "failed" } });
  });
});

describe("POST /schedule/{scheduleID}/backfill", () => {
  const from = "2026-01-01T00:00:00Z";
  const to = "2026-01-01T04:00:00Z";

  it("starts every fire time in the range once; a repeat starts nothing", async () => {
    const s = await makeSchedule({ workflowID: await longWorkflow(), cron: "0 * * * *", paused: true });
    const res = await call(`/schedule/${s.scheduleID}/backfill`, { body: { from, to, overlap: "allow_all" } });
    expect(res.status).toBe(200);
    const hours = [0, 1, 2, 3, 4].map((h) => `2026-01-01T0${h}:00:00.000Z`);
    expect(res.json.response.runs.map((r: any) => [r.scheduledFor, r.action])).toEqual(hours.map((h) => [h, "started"]));
    const again = await call(`/schedule/${s.scheduleID}/backfill`, { body: { from, to, overlap: "allow_all" } });
    expect(again.json.response.runs.map((r: any) => r.action)).toEqual(["existing", "existing", "existing", "existing", "existing"]);
    expect(again.json.response.runs.map((r: any) => r.jobID)).toEqual(res.json.response.runs.map((r: any) => r.jobID));
    expect((await jobsOf(s.scheduleID)).map((j) => j.scheduled_for)).toEqual(hours);
  });

  it("obeys the schedule's overlap policy: under skip the first starts and the rest are skipped", async () => {
    const s = await makeSchedule({ workflowID: await longWorkflow(), cron: "0 * * * *", paused: true });
    const res = await call(`/schedule/${s.scheduleID}/backfill`, { body: { from, to: "2026-01-01T02:00:00Z" } });
    expect(res.json.response.runs.map((r: any) => r.action)).toEqual(["started", "skipped", "skipped"]);
  });

  it(`is bounded: more than 100 fire times is a 400 and starts nothing; 100 are accepted`, async () => {
    const s = await makeSchedule({ workflowID: await longWorkflow(), cron: "0 * * * *", paused: true });
    const tooMany = await call(`/schedule/${s.scheduleID}/backfill`, { body: { from, to: "2026-01-05T04:00:00Z" } }); // 101
    expect(tooMany.status).toBe(400);
    expect(tooMany.json.error).toMatchObject({
      code: "backfill_too_large",
      details: [{ path: "to", message: expect.stringMatching(/more than 100 fire times \(the 101st is 2026-01-05T04:00:00.000Z\)/) }],
    });
    expect(await jobsOf(s.scheduleID)).toHaveLength(0);
    const cases: Array<[Record<string, unknown>, string, RegExp]> = [
      [{ to }, "from", /is required/],
      [{ from }, "to", /is required/],
      [{ from: to, to: from }, "to", /must not be before from/],
      [{ from, to: "2099-01-01T00:00:00Z" }, "to", /must not be after now/],
      [{ from: "yesterday", to }, "from", /RFC 3339/],
      [{ from, to, overlap: "all" }, "overlap", /must be one of/],
    ];
    for (const [body, path, message] of cases) {
      const res = await call(`/schedule/${s.scheduleID}/backfill`, { body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.json.error.details[0], JSON.stringify(body)).toMatchObject({ path, message: expect.stringMatching(message) });
    }
    expect(await jobsOf(s.scheduleID)).toHaveLength(0);
    const hundred = await call(`/schedule/${s.scheduleID}/backfill`, { body: { from, to: "2026-01-05T03:00:00Z" } });
    expect(hundred.status).toBe(200);
    expect(hundred.json.response.runs).toHaveLength(100);
    expect(await jobsOf(s.scheduleID)).toHaveLength(1); // skip: the first runs, 99 are skipped
    const empty = await call(`/schedule/${s.scheduleID}/backfill`, { body: { from: "2026-01-01T00:10:00Z", to: "2026-01-01T00:20:00Z" } });
    expect(empty.json.response).toEqual({ runs: [] });
  });
});

// /schedule/ through the Worker's fetch: the contract's JSON, validation (400 naming the field,
// nothing stored), partial updates and the recomputed next fire time, listing, scopes, 404s, and
// the jobs side (scheduleID/scheduledFor in the job's JSON, GET /job/?scheduleID=).
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call } from "./helpers";
import { longWorkflow } from "./jobs-helpers";
import { at, clockOf, FUTURE, getSchedule, makeSchedule, scheduleRow } from "./schedules-helpers";

const scheduleCount = async () => (await env.DB.prepare("SELECT COUNT(*) AS n FROM schedules").first<{ n: number }>())!.n;

describe("POST /schedule/", () => {
  it("creates a schedule with the contract's JSON: next five fire times in UTC and in its zone, no runs yet", async () => {
    const wf = await longWorkflow();
    const res = await call("/schedule/", {
      body: { workflowID: wf, cron: "0 8 * * MON-FRI", timezone: "Europe/Ljubljana", parameters: { report: "pipeline" }, startAt: "2099-01-01T00:00:00+01:00" },
    });
    expect(res.status).toBe(201);
    const s = res.json.response;
    expect(s).toEqual({
      scheduleID: expect.stringMatching(/^[1-9][0-9]*$/),
      workflowID: wf,
      cron: "0 8 * * MON-FRI",
      timezone: "Europe/Ljubljana",
      parameters: { report: "pipeline" },
      startAt: "2098-12-31T23:00:00.000Z",
      endAt: null,
      overlap: "skip",
      catchupWindow: 60,
      paused: false,
      nextRuns: [
        { utc: "2099-01-01T07:00:00.000Z", local: "2099-01-01T08:00:00.000+01:00" }, // a Thursday
        { utc: "2099-01-02T07:00:00.000Z", local: "2099-01-02T08:00:00.000+01:00" },
        { utc: "2099-01-05T07:00:00.000Z", local: "2099-01-05T08:00:00.000+01:00" },
        { utc: "2099-01-06T07:00:00.000Z", local: "2099-01-06T08:00:00.000+01:00" },
        { utc: "2099-01-07T07:00:00.000Z", local: "2099-01-07T08:00:00.000+01:00" },
      ],
      lastRuns: [],
      createdAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/),
      updatedAt: expect.any(String),
    });
    // The row holds the truth; the DO's alarm waits for the first fire time, and the row says when (for the sweep).
    expect((await scheduleRow(s.scheduleID))!.next_fire_at).toBe("2099-01-01T07:00:00.000Z");
    expect((await clockOf(s.scheduleID)).alarm).toBe(at("2099-01-01T07:00:00Z"));
    expect(await getSchedule(s.scheduleID)).toEqual(s);
  });

  it("accepts forms, numeric IDs, shorthands, a lower-case zone, and defaults", async () => {
    const wf = await longWorkflow();
    const res = await call("/schedule/", {
      form: { workflowID: wf, cron: "@daily", timezone: "america/new_york", catchupWindow: "120", paused: "true", parameters: JSON.stringify({ a: "1" }) },
    });
    expect(res.status).toBe(201);
    expect(res.json.response).toMatchObject({
      cron: "@daily",
      timezone: "America/New_York",
      catchupWindow: 120,
      paused: true,
      parameters: { a: "1" },
      nextRuns: [],
    });
    const numeric = await call("/schedule/", { body: { workflowID: Number(wf), cron: "@hourly", paused: true } });
    expect(numeric.status).toBe(201);
    expect(numeric.json.response).toMatchObject({ timezone: "UTC", overlap: "skip", catchupWindow: 60, parameters: {} });
    // Paused: no fire time is waited for, no alarm.
    expect((await scheduleRow(numeric.json.response.scheduleID))!.next_fire_at).toBeNull();
    expect((await clockOf(numeric.json.response.scheduleID)).alarm).toBeNull();
  });

  it("refuses bad input with a 400 pointing at the field, and stores nothing", async () => {
    const wf = await longWorkflow();
    const before = await scheduleCount();
    const cases: Array<[Record<string, unknown>, string, RegExp]> = [
      [{ cron: "* * * * *" }, "workflowID", /is required/],
      [{ workflowID: "abc", cron: "* * * * *" }, "workflowID", /positive integer ID/],
      [{ workflowID: wf }, "cron", /is required/],
      [{ workflowID: wf, cron: 5 }, "cron", /must be a string/],
      [{ workflowID: wf, cron: "0 25 * * *" }, "cron", /field 2 \(hour\) '25' is invalid/],
      [{ workflowID: wf, cron: "0 8 * * MON-FRY" }, "cron", /field 5 \(day of week\)/],
      [{ workflowID: wf, cron: "0 8 * *" }, "cron", /must have 5 fields/],
      [{ workflowID: wf, cron: "0 0 31 2 *" }, "cron", /never matches/],
      [{ workflowID: wf, cron: "@reboot" }, "cron", /unknown shorthand/],
      [{ workflowID: wf, cron: "* * * * *", timezone: "Mars/Olympus" }, "timezone", /unknown time zone 'Mars\/Olympus'/],
      [{ workflowID: wf, cron: "* * * * *", timezone: "+01:00" }, "timezone", /unknown time zone/],
      [{ workflowID: wf, cron: "* * * * *", overlap: "queue" }, "overlap", /must be one of skip, buffer_one, allow_all, cancel_other/],
      [{ workflowID: wf, cron: "* * * * *", catchupWindow: 5 }, "catchupWindow", /at least 10/],
      [{ workflowID: wf, cron: "* * * * *", catchupWindow: 86_400 * 8 }, "catchupWindow", /at most 604800/],
      [{ workflowID: wf, cron: "* * * * *", catchupWindow: "60" }, "catchupWindow", /number/],
      [{ workflowID: wf, cron: "* * * * *", paused: "yes" }, "paused", /boolean/],
      [{ workflowID: wf, cron: "* * * * *", startAt: "tomorrow" }, "startAt", /RFC 3339/],
      [{ workflowID: wf, cron: "* * * * *", endAt: "2100-01-01T00:00:00Z" }, "endAt", /before 2100/],
      [{ workflowID: wf, cron: "* * * * *", startAt: "2099-02-01T00:00:00Z", endAt: "2099-01-01T00:00:00Z" }, "endAt", /must not be before startAt/],
      [{ workflowID: wf, cron: "* * * * *", parameters: { a: 1 } }, "parameters.a", /must be a string/],
      [{ workflowID: "999999", cron: "* * * * *" }, "workflowID", /workflow 999999 does not exist/],
    ];
    for (const [body, path, message] of cases) {
      const res = await call("/schedule/", { body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.json.error.details[0].path, JSON.stringify(body)).toBe(path);
      expect(res.json.error.details[0].message, JSON.stringify(body)).toMatch(message);
    }
    expect(await scheduleCount()).toBe(before);
  });
});

describe("GET /schedule/", () => {
  it("lists oldest first, paged, filtered by workflowID, each entry as GET answers it", async () => {
    const wfA = await longWorkflow();
    const wfB = await longWorkflow();
    const a1 = await makeSchedule({ workflowID: wfA, cron: "@daily", startAt: FUTURE });
    const a2 = await makeSchedule({ workflowID: wfA, cron: "@hourly", startAt: FUTURE });
    await makeSchedule({ workflowID: wfB, cron: "@weekly", startAt: FUTURE });
    const res = await call(`/schedule/?workflowID=${wfA}&perPage=1&page=1`);
    expect(res.status).toBe(200);
    expect(res.json.response.meta).toEqual({ page: 1, perPage: 1, count: 2 });
    expect(res.json.response.schedules).toEqual([await getSchedule(a2.scheduleID)]);
    const all = (await call(`/schedule/?workflowID=${wfA}`)).json.response.schedules;
    expect(all.map((s: any) => s.scheduleID)).toEqual([a1.scheduleID, a2.scheduleID]);
    const bad = await call("/schedule/?workflowID=x");
    expect(bad.status).toBe(400);
    expect(bad.json.error.details[0].path).toBe("workflowID");
  });
});

describe("POST /schedule/{scheduleID}", () => {
  it("changes only the fields sent and recomputes the next fire time and the alarm", async () => {
    const wf = await longWorkflow();
    const s = await makeSchedule({ workflowID: wf, cron: "0 8 * * *", timezone: "UTC", startAt: FUTURE, parameters: { a: "1" } });
    expect((await clockOf(s.scheduleID)).alarm).toBe(at("2099-01-01T08:00:00Z"));
    const res = await call(`/schedule/${s.scheduleID}`, { body: { cron: "30 6 * * *", timezone: "Europe/Ljubljana" } });
    expect(res.status).toBe(200);
    const changed = res.json.response;
    expect(changed).toMatchObject({ cron: "30 6 * * *", timezone: "Europe/Ljubljana", parameters: { a: "1" }, startAt: FUTURE, overlap: "skip" });
    expect(changed.nextRuns[0]).toEqual({ utc: "2099-01-01T05:30:00.000Z", local: "2099-01-01T06:30:00.000+01:00" });
    expect(Date.parse(changed.updatedAt)).toBeGreaterThanOrEqual(Date.parse(s.updatedAt));
    expect((await scheduleRow(s.scheduleID))!.next_fire_at).toBe("2099-01-01T05:30:00.000Z");
    expect((await clockOf(s.scheduleID)).alarm).toBe(at("2099-01-01T05:30:00Z"));

    // Pausing drops the alarm; resuming sets it again. startAt null clears it.
    const paused = await call(`/schedule/${s.scheduleID}`, { body: { paused: true } });
    expect(paused.json.response).toMatchObject({ paused: true, nextRuns: [] });
    expect((await clockOf(s.scheduleID)).alarm).toBeNull();
    expect((await scheduleRow(s.scheduleID))!.next_fire_at).toBeNull();
    const resumed = await call(`/schedule/${s.scheduleID}`, { body: { paused: false, startAt: null, endAt: "2099-06-01T00:00:00Z" } });
    expect(resumed.json.response).toMatchObject({ paused: false, startAt: null, endAt: "2099-06-01T00:00:00.000Z" });
    const first = Date.parse(resumed.json.response.nextRuns[0].utc);
    expect(first).toBeGreaterThan(Date.now());
    expect(first - Date.now()).toBeLessThanOrEqual(86_400_000);
    expect((await clockOf(s.scheduleID)).alarm).toBe(first);
  });

  it("refuses bad input with a 400 and changes nothing; 404 for an unknown schedule", async () => {
    const wf = await longWorkflow();
    const s = await makeSchedule({ workflowID: wf, cron: "@daily", startAt: FUTURE });
    const before = await scheduleRow(s.scheduleID);
    for (const [body, path] of [
      [{ timezone: "Nowhere/City" }, "timezone"],
      [{ cron: "* * *" }, "cron"],
      [{ cron: "@daily", overlap: "nope" }, "overlap"],
      [{ endAt: "2098-01-01T00:00:00Z" }, "endAt"], // before the startAt kept
      [{ workflowID: "999999" }, "workflowID"],
    ] as Array<[Record<string, unknown>, string]>) {
      const res = await call(`/schedule/${s.scheduleID}`, { body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.json.error.details[0].path).toBe(path);
    }
    expect(await scheduleRow(s.scheduleID)).toEqual(before);
    expect((await call("/schedule/999999", { body: { paused: true } })).status).toBe(404);
    // A request that changes nothing writes nothing.
    const same = await call(`/schedule/${s.scheduleID}`, { body: { cron: "@daily", overlap: "skip" } });
    expect(same.status).toBe(200);
    expect(await scheduleRow(s.scheduleID)).toEqual(before);
  });
});

describe("DELETE /schedule/{scheduleID}", () => {
  it("deletes the row and the DO's alarm and storage; then 404 everywhere", async () => {
    const wf = await longWorkflow();
    const s = await makeSchedule({ workflowID: wf, cron: "@daily", startAt: FUTURE });
    expect((await clockOf(s.scheduleID)).clock).not.toBeNull();
    const res = await call(`/schedule/${s.scheduleID}`, { method: "DELETE" });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ success: { message: "OK" } });
    expect(await scheduleRow(s.scheduleID)).toBeNull();
    expect(await clockOf(s.scheduleID)).toEqual({ clock: null, alarm: null });
    for (const [path, init] of [
      [`/schedule/${s.scheduleID}`, {}],
      [`/schedule/${s.scheduleID}`, { method: "DELETE" }],
      [`/schedule/${s.scheduleID}`, { body: { paused: true } }],
      [`/schedule/${s.scheduleID}/trigger`, { body: {} }],
      [`/schedule/${s.scheduleID}/backfill`, { body: { from: "2026-01-01T00:00:00Z", to: "2026-01-02T00:00:00Z" } }],
      [`/schedule/${s.scheduleID}/log`, {}],
    ] as Array<[string, any]>) {
      const r = await call(path, init);
      expect(r.status, path).toBe(404);
      expect(r.json.error).toMatchObject({ code: "not_found", message: `Schedule ${s.scheduleID} not found` });
    }
    expect((await call("/schedule/abc")).status).toBe(400);
    expect((await call("/schedule/0/trigger", { body: {} })).json.error.code).toBe("invalid_id");
  });

  it("a DO whose cleanup call was lost cleans up at its next alarm: the row is the truth", async () => {
    const wf = await longWorkflow();
    const s = await makeSchedule({ workflowID: wf, cron: "@daily", startAt: FUTURE });
    await env.DB.prepare("DELETE FROM schedules WHERE id = ?").bind(Number(s.scheduleID)).run(); // as if the DO call had failed
    const { runDurableObjectAlarm } = await import("cloudflare:test");
    const { scheduleStubOf } = await import("./schedules-helpers");
    await runDurableObjectAlarm(scheduleStubOf(s.scheduleID));
    expect(await clockOf(s.scheduleID)).toEqual({ clock: null, alarm: null });
    expect((await env.DB.prepare("SELECT COUNT(*) AS n FROM jobs WHERE schedule_id = ?").bind(Number(s.scheduleID)).first<{ n: number }>())!.n).toBe(0);
  });
});

describe("jobs of a schedule", () => {
  it("carry scheduleID and scheduledFor, and GET /job/?scheduleID= lists only them", async () => {
    const wf = await longWorkflow();
    const s = await makeSchedule({ workflowID: wf, cron: "@daily", paused: true, parameters: { report: "weekly" } });
    const other = await makeSchedule({ workflowID: wf, cron: "@daily", paused: true });
    const run = await call(`/schedule/${s.scheduleID}/trigger`, { body: {} });
    expect(run.status).toBe(201);
    await call(`/schedule/${other.scheduleID}/trigger`, { body: {} });
    const plain = await call("/job/", { body: { workflowID: wf, startAt: FUTURE } });
    expect(plain.json.response).toMatchObject({ scheduleID: null, scheduledFor: null });
    const job = run.json.response.job;
    expect(job).toMatchObject({ workflowID: wf, scheduleID: s.scheduleID, scheduledFor: run.json.response.scheduledFor, parameters: { report: "weekly" } });
    expect((await call(`/job/${job.jobID}`)).json.response).toMatchObject({ scheduleID: s.scheduleID, scheduledFor: job.scheduledFor });
    const listed = await call(`/job/?scheduleID=${s.scheduleID}`);
    expect(listed.status).toBe(200);
    expect(listed.json.response.meta.count).toBe(1);
    expect(listed.json.response.jobs[0]).toEqual((await call(`/job/${job.jobID}`)).json.response);
    expect((await call("/job/?scheduleID=0")).status).toBe(400);
    // The schedule shows it among its last runs.
    expect((await getSchedule(s.scheduleID)).lastRuns).toEqual([
      { jobID: job.jobID, scheduledFor: job.scheduledFor, status: expect.stringMatching(/^(queued|running)$/), startedAt: expect.anything(), finishedAt: null },
    ]);
    const logs = (await call(`/job/${job.jobID}/logs`)).json.response.logs;
    expect(logs[0].message).toBe(`job created from workflow ${wf} 'wf' (1 tasks) by schedule ${s.scheduleID} for ${job.scheduledFor}`);
  });
});

describe("documentation", () => {
  it("lists every schedule route and the schedule's fields in /openapi.json", async () => {
    const doc = (await call("/openapi.json", { token: null })).json;
    expect(Object.keys(doc.paths["/schedule/"])).toEqual(expect.arrayContaining(["get", "post"]));
    expect(Object.keys(doc.paths["/schedule/{scheduleID}"])).toEqual(expect.arrayContaining(["get", "post", "delete"]));
    expect(Object.keys(doc.paths["/schedule/{scheduleID}/trigger"])).toEqual(["post"]);
    expect(Object.keys(doc.paths["/schedule/{scheduleID}/backfill"])).toEqual(["post"]);
    expect(Object.keys(doc.paths["/schedule/{scheduleID}/log"])).toEqual(["get"]);
    expect(doc.components.schemas.Schedule.required).toEqual(
      expect.arrayContaining(["scheduleID", "cron", "timezone", "nextRuns", "lastRuns", "overlap", "catchupWindow"]),
    );
    const create = doc.paths["/schedule/"].post.requestBody.content["application/json"].schema;
    expect(create.required).toEqual(expect.arrayContaining(["workflowID", "cron"]));
    expect(create.properties.overlap.enum).toEqual(["skip", "buffer_one", "allow_all", "cancel_other"]);
    expect(doc.components.schemas.Job.properties).toHaveProperty("scheduleID");
    expect(doc.paths["/job/"].get.parameters.map((p: any) => p.name)).toContain("scheduleID");
  });
});

// Effectively-once at the target: every request of an `http` task carries an Idempotency-Key that
// is the same for every attempt and delivery of that task in that job, whatever happens in between
// (a retry, a duplicated queue message, a Durable Object instance lost mid-request), and different
// for other tasks and jobs; plus X-Job-ID, X-Job-Task and X-Job-Attempt.
import { afterEach, describe, expect, it, vi } from "vitest";
import { call, makeModule } from "./helpers";
import {
  captureQueue,
  countLines,
  deliver,
  fireAlarm,
  forceAlarm,
  getJob,
  isFinal,
  leaveRunToGoneInstance,
  logsOf,
  makeJob,
  makeWorkflow,
  patchState,
  stubTarget,
  waitFor,
  waitForJob,
} from "./jobs-helpers";

afterEach(() => {
  vi.restoreAllMocks();
});

const FUTURE = "2099-01-01T00:00:00Z";

const http = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  kind: "http",
  options: { method: "POST", url: `http://test.local/${name}` },
  ...extra,
});

describe("Idempotency-Key and the job headers on http requests", () => {
  it("stay the same across two deliveries, a crash mid-request and a retry; differ across tasks and jobs", async () => {
    // Made here, awaited in the DO: the request a lost instance sent, answered late.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const seen = stubTarget(async (_req, n) => {
      if (n === 1) {
        await held;
        return new Response("late", { status: 200 });
      }
      if (n === 2) return new Response("busy", { status: 503 });
      return new Response("ok", { status: 200 });
    });
    const wf = await makeWorkflow([http("charge", { retries: [0] }), http("notify")]);
    const job = await makeJob(wf, { startAt: FUTURE });
    const sent = await captureQueue(job.jobID);
    await fireAlarm(job.jobID);
    await deliver([sent[0], sent[0]]); // delivered twice
    await waitFor("the first request", () => seen.length === 1, 5000);
    // The DO instance dies mid-request: what it leaves is its run marker. (Here the instance lives
    // on, so the marker is rewritten to name another one; its late result must be ignored.)
    await patchState(job.jobID, (s) => {
      s.attempt.running.instance = "an-instance-that-is-gone";
    });
    await forceAlarm(job.jobID);
    expect(sent.length).toBe(2);
    // The real alarm handler of this (living) instance still awaits the held request, so the
    // platform holds later alarms back; the test runs each claimed attempt's alarm itself.
    await deliver([sent[1]]);
    await forceAlarm(job.jobID); // the re-run: answered 503, the retry (0 s) is dispatched
    expect(seen.length).toBe(2);
    expect(sent.length).toBe(3);
    await deliver([sent[2], sent[2]]);
    await forceAlarm(job.jobID); // the retry: ok, notify is dispatched
    expect(sent.length).toBe(4);
    release(); // the lost run's answer arrives after all
    await deliver([sent[3]]);
    expect((await waitForJob(job.jobID, isFinal)).status).toBe("ok");

    const charge = seen.filter((s) => s.path === "/charge");
    expect(charge.length).toBe(3);
    const key = charge[0].headers.get("Idempotency-Key");
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(charge.map((s) => s.headers.get("Idempotency-Key"))).toEqual([key, key, key]);
    expect(charge.map((s) => s.headers.get("X-Job-Attempt"))).toEqual(["1", "2", "3"]);
    expect(charge.map((s) => [s.headers.get("X-Job-ID"), s.headers.get("X-Job-Task")])).toEqual(Array(3).fill([job.jobID, "charge"]));
    const notify = seen.filter((s) => s.path === "/notify");
    expect(notify.length).toBe(1);
    expect(notify[0].headers.get("Idempotency-Key")).toMatch(/^[0-9a-f]{64}$/);
    expect(notify[0].headers.get("Idempotency-Key")).not.toBe(key);
    const logs = await logsOf(job.jobID);
    expect(countLines(logs, /^attempt 1 of task 'charge' was lost/)).toBe(1);
    expect(countLines(logs, /succeeded/)).toBe(2); // the lost run's late answer is not counted

    // Another job of the same workflow: other keys.
    const other = await makeJob(wf);
    expect((await waitForJob(other.jobID, isFinal)).status).toBe("ok");
    const otherCharge = seen.filter((s) => s.path === "/charge" && s.headers.get("X-Job-ID") === other.jobID);
    expect(otherCharge.length).toBe(1);
    expect(otherCharge[0].headers.get("Idempotency-Key")).not.toBe(key);
  });

  it("a header of the same name the workflow sets itself wins", async () => {
    const seen = stubTarget(() => new Response("ok"));
    const wf = await makeWorkflow([
      {
        name: "order",
        kind: "http",
        options: { url: "http://test.local/order", headers: { "Idempotency-Key": "order-{{params.order}}", "x-job-task": "mine" } },
      },
    ]);
    const job = await makeJob(wf, { parameters: { order: "9" } });
    expect((await waitForJob(job.jobID, isFinal)).status).toBe("ok");
    expect(seen.length).toBe(1);
    expect(seen[0].headers.get("Idempotency-Key")).toBe("order-9");
    expect(seen[0].headers.get("X-Job-Task")).toBe("mine");
    expect(seen[0].headers.get("X-Job-ID")).toBe(job.jobID);
    expect(seen[0].headers.get("X-Job-Attempt")).toBe("1");
  });
});

describe("content.* under the same crash", () => {
  it("a run lost before its write and duplicated deliveries still make exactly one item", async () => {
    const mod = await makeModule("Crash", [{ name: "title", kind: "text" }]);
    const wf = await makeWorkflow([{ name: "make", kind: "content.create", options: { moduleID: mod.moduleID, fields: { title: "once" } } }]);
    const job = await makeJob(wf, { startAt: FUTURE });
    const sent = await captureQueue(job.jobID);
    await fireAlarm(job.jobID);
    await leaveRunToGoneInstance(job.jobID);
    await forceAlarm(job.jobID);
    expect(sent.length).toBe(2);
    await deliver([sent[0], sent[1], sent[1]]);
    await deliver([sent[1]]);
    expect((await waitForJob(job.jobID, isFinal)).status).toBe("ok");
    expect((await call(`/module/${mod.moduleID}/content`)).json.response.meta.count).toBe(1);
    const logs = await logsOf(job.jobID);
    expect(countLines(logs, /'make' \(content.create\) started/)).toBe(1);
    expect(countLines(logs, /'make' succeeded/)).toBe(1);
    expect((await getJob(job.jobID)).progress).toMatchObject({ done: 1, total: 1 });
  });
});

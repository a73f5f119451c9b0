// The engine end to end: real alarms, the real TASKS queue and consumer, with executeTask spied
// on (vi.spyOn on the module export) where a test needs to control what a task does (the real
// executors are exercised in jobs-task-kinds.test.ts). Attempts run inside the job's Durable Object.
import { createExecutionContext, createMessageBatch, getQueueResult, runDurableObjectAlarm, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { handleTaskBatch } from "../src/worker/queue";
import * as execute from "../src/workflows/execute";
import { TaskFailure, type TaskDefinition, type TaskIdentity, type TemplateScope } from "../src/jobs/tasks";
import { call } from "./helpers";
import {
  captureQueue,
  countLines,
  deliver,
  expectMirrorMatches,
  fireAlarm,
  forceAlarm,
  getJob,
  inDO,
  inspect,
  isFinal,
  leaveRunToGoneInstance,
  logsOf,
  makeJob,
  makeWorkflow,
  patchState,
  sleep,
  stubOf,
  waitFor,
  waitForJob,
} from "./jobs-helpers";

type Call = { task: string; scope: TemplateScope; signal: AbortSignal; identity?: TaskIdentity };

/** A controllable executor: records calls; `behave` decides per call. */
function fakeExecutor(behave: (task: TaskDefinition, n: number, signal: AbortSignal) => Promise<unknown> | unknown = () => ({ ok: true })) {
  const calls: Call[] = [];
  vi.spyOn(execute, "executeTask").mockImplementation(async (_env, task, scope, signal, identity) => {
    calls.push({ task: task.name, scope: structuredClone(scope), signal, identity });
    const n = calls.filter((c) => c.task === task.name).length;
    if (task.kind === "log") return { logs: [{ level: "info", message: String(task.options.message) }] };
    if (task.kind === "fail") throw new TaskFailure(String(task.options.message));
    return { result: await behave(task, n, signal) };
  });
  return calls;
}

/** Blocks until aborted (then rejects with the abort reason). */
const hang = (signal: AbortSignal) => new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason ?? new Error("aborted"))));

const http = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  kind: "http",
  options: { method: "POST", url: "http://test.local/hook" },
  ...extra,
});
const FUTURE = "2099-01-01T00:00:00Z";

afterEach(() => {
  vi.restoreAllMocks();
});

describe("running tasks", () => {
  it("runs tasks in order through the queue, logging each attempt and passing results to later tasks", async () => {
    const calls = fakeExecutor((task) => ({ status: 200, from: task.name }));
    const wf = await makeWorkflow([http("first"), { name: "note", kind: "log", options: { message: "between" } }, http("second")]);
    const job = await makeJob(wf, { parameters: { leadID: "42" } });
    const done = await waitForJob(job.jobID, isFinal);
    expect(done).toMatchObject({ status: "ok", error: null, progress: { task: null, done: 3, total: 3 } });
    expect(done.startedAt).not.toBeNull();
    expect(done.finishedAt).not.toBeNull();
    expect(calls.map((c) => c.task)).toEqual(["first", "note", "second"]);
    expect(calls[2].scope).toEqual({ params: { leadID: "42" }, job: { jobID: job.jobID, userID: "7" }, tasks: { first: { status: 200, from: "first" } } });
    const logs = await logsOf(job.jobID);
    expect(logs.map((l) => l.seq)).toEqual(logs.map((_, i) => i + 1));
    for (const name of ["first", "note", "second"]) {
      expect(countLines(logs, new RegExp(`^attempt 1 of task '${name}' \\(\\w+\\) started$`))).toBe(1);
      expect(countLines(logs, new RegExp(`^attempt 1 of task '${name}' succeeded in \\d+ ms$`))).toBe(1);
    }
    const end = logs.find((l) => l.message.startsWith("attempt 1 of task 'first' succeeded"))!;
    expect(end).toMatchObject({ task: "first", data: { attempt: 1, outcome: "ok", durationMs: expect.any(Number) } });
    expect(logs.find((l) => l.message === "between")).toMatchObject({ task: "note" });
    await expectMirrorMatches(job.jobID);
    expect((await inspect(job.jobID)).alarm).toBeNull();
  });

  it("retries a failed attempt after the task's retries delays, then succeeds", async () => {
    const calls = fakeExecutor((_t, n) => {
      if (n < 3) throw new TaskFailure(`HTTP 503 (try ${n})`);
      return { status: 200 };
    });
    const wf = await makeWorkflow([http("flaky", { retries: [30, 60] })]);
    const job = await makeJob(wf);
    await waitForJob(job.jobID, (j) => j.status === "running");
    // Each retry waits on the alarm; fire it instead of waiting 30 s and 60 s.
    for (let i = 0; i < 2; i++) {
      const state = await (async () => {
        for (;;) {
          const { state } = await inspect(job.jobID);
          if (state.waitUntil !== null) return state;
          await sleep(10);
        }
      })();
      expect((await inspect(job.jobID)).alarm).toBe(state.waitUntil);
      expect((await getJob(job.jobID)).status).toBe("running");
      await fireAlarm(job.jobID);
    }
    const done = await waitForJob(job.jobID, isFinal);
    expect(done.status).toBe("ok");
    expect(calls.length).toBe(3);
    const logs = await logsOf(job.jobID);
    expect(logs.filter((l) => l.level === "warn").map((l) => l.message)).toEqual([
      expect.stringMatching(/^attempt 1 of task 'flaky' failed in \d+ ms: HTTP 503 \(try 1\); retry 1 of 2 in 30 s$/),
      expect.stringMatching(/^attempt 2 of task 'flaky' failed in \d+ ms: HTTP 503 \(try 2\); retry 2 of 2 in 60 s$/),
    ]);
    expect(countLines(logs, /^attempt 3 of task 'flaky' succeeded/)).toBe(1);
  });

  it("fails the job after the last retry, records the error, then runs onError (whose failures only log)", async () => {
    const calls = fakeExecutor((task) => {
      if (task.name === "notify" || task.name === "cleanup") throw new TaskFailure("HTTP 500", { status: 500 });
      return { ok: true };
    });
    const wf = await makeWorkflow([http("notify", { retries: [0] }), http("never")], [http("cleanup"), http("alert")]);
    const job = await makeJob(wf);
    await waitForJob(job.jobID, (j) => j.status === "error");
    await sleep(50);
    const logs = await (async () => {
      for (;;) {
        const l = await logsOf(job.jobID);
        if (l.some((x) => x.message === "onError tasks finished")) return l;
        await sleep(15);
      }
    })();
    const done = await getJob(job.jobID);
    expect(done).toMatchObject({ status: "error", error: "task 'notify' failed: HTTP 500", progress: { task: "notify", done: 0, total: 2 } });
    expect(calls.map((c) => c.task)).toEqual(["notify", "notify", "cleanup", "alert"]);
    expect(countLines(logs, /^attempt 2 of task 'notify' failed/)).toBe(1);
    const failed = logs.find((l) => /^attempt 1 of task 'cleanup' failed/.test(l.message))!;
    expect(failed).toMatchObject({ level: "error", data: { error: "HTTP 500", details: { status: 500 } } });
    expect(countLines(logs, /^attempt 1 of task 'alert' succeeded/)).toBe(1);
    expect(countLines(logs, /'never'/)).toBe(0);
    await expectMirrorMatches(job.jobID);
  });

  it("starts a job with a future startAt from its alarm, and moving startAt moves the alarm", async () => {
    const calls = fakeExecutor();
    const wf = await makeWorkflow([http("go")]);
    const startAt = Date.now() + 3 * 86_400_000; // far beyond the 12-hour limit of delayed queue messages
    const job = await makeJob(wf, { startAt: new Date(startAt).toISOString() });
    expect((await inspect(job.jobID)).alarm).toBe(startAt);
    const moved = startAt + 3_600_000;
    await call(`/job/${job.jobID}`, { body: { startAt: new Date(moved).toISOString() } });
    expect((await inspect(job.jobID)).alarm).toBe(moved);
    expect((await getJob(job.jobID)).status).toBe("queued");
    expect(calls.length).toBe(0);
    await fireAlarm(job.jobID); // the alarm's time has come
    const done = await waitForJob(job.jobID, isFinal);
    expect(done.status).toBe("ok");
    expect(Date.parse(done.startedAt)).toBeGreaterThanOrEqual(moved);
    expect(calls.length).toBe(1);
  });

  it("waits out a delay on the alarm, holding no worker", async () => {
    const calls = fakeExecutor();
    const wf = await makeWorkflow([{ name: "wait", kind: "delay", options: { seconds: 7 * 86_400 } }, http("after")], [], 30 * 86_400);
    const job = await makeJob(wf);
    await waitForJob(job.jobID, (j) => j.progress.task === "wait");
    const { state, alarm } = await inspect(job.jobID);
    expect(state.attempt).toMatchObject({ mode: "delay" });
    expect(alarm).toBe(state.attempt.deadline);
    expect(calls.length).toBe(0);
    await fireAlarm(job.jobID);
    const done = await waitForJob(job.jobID, isFinal);
    expect(done.status).toBe("ok");
    const logs = await logsOf(job.jobID);
    expect(countLines(logs, /^attempt 1 of task 'wait' \(delay\) started: waiting 604800 s$/)).toBe(1);
    expect(countLines(logs, /^attempt 1 of task 'wait' ended after \d+ s$/)).toBe(1);
    expect(calls.map((c) => c.task)).toEqual(["after"]);
  });
});

describe("cancellation and timeouts", () => {
  it("cancelling mid-delay ends the delay at once and runs nothing more", async () => {
    const calls = fakeExecutor();
    const wf = await makeWorkflow([{ name: "wait", kind: "delay", options: { seconds: 3600 } }, http("after")]);
    const job = await makeJob(wf);
    await waitForJob(job.jobID, (j) => j.progress.task === "wait");
    expect((await call(`/job/${job.jobID}`, { method: "DELETE" })).status).toBe(200);
    const cancelled = await expectMirrorMatches(job.jobID);
    expect(cancelled.status).toBe("cancelled");
    expect((await inspect(job.jobID)).alarm).toBeNull();
    const logs = await logsOf(job.jobID);
    expect(countLines(logs, /'wait' delay ended early \(job cancelled\)/)).toBe(1);
    expect(await fireAlarm(job.jobID)).toBe(false);
    await sleep(50);
    expect(calls.length).toBe(0);
    expect(await logsOf(job.jobID)).toEqual(logs);
    expect((await getJob(job.jobID)).status).toBe("cancelled");
  });

  it("cancelling mid-http aborts the attempt in flight and discards it", async () => {
    const calls = fakeExecutor((_t, _n, signal) => hang(signal));
    const wf = await makeWorkflow([http("slow", { timeout: 60 }), http("after")]);
    const job = await makeJob(wf);
    for (let i = 0; calls.length === 0; i++) {
      if (i > 500) throw new Error("the attempt never started");
      await sleep(10);
    }
    const cancelledAt = Date.now();
    expect((await call(`/job/${job.jobID}`, { method: "DELETE" })).status).toBe(200);
    while (!calls[0].signal.aborted) {
      if (Date.now() - cancelledAt > 3000) throw new Error("the attempt was not aborted");
      await sleep(20);
    }
    await sleep(100);
    const logs = await logsOf(job.jobID);
    expect(countLines(logs, /^attempt 1 of task 'slow' abandoned/)).toBe(1);
    expect(countLines(logs, /succeeded|failed in/)).toBe(0);
    expect(calls.map((c) => c.task)).toEqual(["slow"]);
    expect((await getJob(job.jobID)).status).toBe("cancelled");
  });

  it("the workflow timeout fails the job at once, ending a delay in progress", async () => {
    const calls = fakeExecutor();
    const wf = await makeWorkflow([{ name: "wait", kind: "delay", options: { seconds: 3600 } }, http("after")], [http("cleanup")], 60);
    const job = await makeJob(wf);
    await waitForJob(job.jobID, (j) => j.progress.task === "wait");
    const { state, alarm } = await inspect(job.jobID);
    expect(alarm).toBe(state.deadline);
    await fireAlarm(job.jobID);
    const done = await getJob(job.jobID);
    expect(done).toMatchObject({ status: "error", error: "workflow timed out after 60 s" });
    const logs = await logsOf(job.jobID);
    expect(logs.at(-1)).toMatchObject({ level: "error", message: "job failed: workflow timed out after 60 s" });
    expect(countLines(logs, /'wait' delay ended early \(workflow timeout\)/)).toBe(1);
    await sleep(50);
    expect(calls.length).toBe(0); // no further task, and no onError after a timeout
    await expectMirrorMatches(job.jobID);
  });

  it("a task timeout aborts the attempt and counts as a failed attempt", async () => {
    const calls = fakeExecutor((_t, _n, signal) => hang(signal));
    const wf = await makeWorkflow([http("slow", { timeout: 1 })]);
    const job = await makeJob(wf);
    const done = await waitForJob(job.jobID, isFinal, 6000);
    expect(done).toMatchObject({ status: "error", error: "task 'slow' failed: timed out after 1 s" });
    expect(calls[0].signal.aborted).toBe(true);
    expect(countLines(await logsOf(job.jobID), /^attempt 1 of task 'slow' failed in \d+ ms: timed out after 1 s$/)).toBe(1);
  });
});

describe("exactly once", () => {
  /** A job whose first attempt is captured instead of sent (the test delivers it). */
  async function capturedJob(tasks: unknown[]) {
    const wf = await makeWorkflow(tasks as any);
    const job = await makeJob(wf, { startAt: FUTURE });
    const sent = await captureQueue(job.jobID);
    await fireAlarm(job.jobID);
    expect(sent.length).toBe(1);
    return { jobID: job.jobID as string, sent };
  }

  it("a message delivered again after the run changes nothing", async () => {
    const calls = fakeExecutor();
    const { jobID, sent } = await capturedJob([http("once")]);
    const first = await deliver([sent[0]]);
    expect(first.result.explicitAcks).toEqual([first.batch.messages[0].id]);
    await waitForJob(jobID, isFinal);
    const logs = await logsOf(jobID);
    const again = await deliver([sent[0], sent[0]]);
    expect(again.result.explicitAcks.length).toBe(2);
    expect(again.result.retryMessages).toEqual([]);
    expect(calls.length).toBe(1);
    expect(await logsOf(jobID)).toEqual(logs);
  });

  it("a message delivered twice while its attempt runs is run once", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const calls = fakeExecutor(async () => {
      await gate;
      return { done: true };
    });
    const wf = await makeWorkflow([http("once")]);
    const job = await makeJob(wf); // the real queue delivers it
    while (calls.length === 0) await sleep(10);
    const start = (await logsOf(job.jobID)).find((l) => /^attempt 1 of task 'once' \(http\) started$/.test(l.message))!;
    const body = { jobID: job.jobID, attemptId: start.data.attemptId };
    const dup = await deliver([body, body]);
    expect(dup.result.explicitAcks.length).toBe(2);
    release();
    expect((await waitForJob(job.jobID, isFinal)).status).toBe("ok");
    expect(calls.length).toBe(1);
    const logs = await logsOf(job.jobID);
    expect(countLines(logs, /'once' \(http\) started/)).toBe(1);
    expect(countLines(logs, /'once' succeeded/)).toBe(1);
  });

  it("a claim is made once: a redelivered or duplicate message claims nothing, and the attempt runs once in its DO", async () => {
    const calls = fakeExecutor();
    const { jobID, sent } = await capturedJob([http("work")]);
    // The consumer claimed, then died before acking: the queue delivers the message again.
    expect(await stubOf(jobID).claimAttempt(sent[0].attemptId)).toBe(true);
    expect(await stubOf(jobID).claimAttempt(sent[0].attemptId)).toBe(false);
    const redelivered = await deliver([sent[0], sent[0]]);
    expect(redelivered.result.explicitAcks.length).toBe(2);
    expect((await waitForJob(jobID, isFinal)).status).toBe("ok");
    expect(calls.length).toBe(1);
    expect(sent.length).toBe(1);
    const logs = await logsOf(jobID);
    expect(countLines(logs, /^attempt 1 of task 'work' \(http\) started$/)).toBe(1);
    expect(countLines(logs, /succeeded/)).toBe(1);
  });

  it("a claim call that fails retries only that message; the retry claims and the attempt runs once", async () => {
    const calls = fakeExecutor();
    const { jobID, sent } = await capturedJob([http("work")]);
    const broken = {
      ...env,
      JOBS: {
        idFromName: (name: string) => env.JOBS.idFromName(name),
        get: () => ({
          claimAttempt: async () => {
            throw new Error("network gone");
          },
        }),
      },
    } as unknown as Env;
    const first = await deliver([sent[0]], broken);
    expect(first.result.retryMessages.map((m) => m.msgId)).toEqual([first.batch.messages[0].id]);
    expect(first.result.explicitAcks).toEqual([]);
    expect(calls.length).toBe(0);
    const retried = await deliver([sent[0]]);
    expect(retried.result.explicitAcks.length).toBe(1);
    expect((await waitForJob(jobID, isFinal)).status).toBe("ok");
    expect(calls.length).toBe(1);
  });

  it("an executor exception fails the attempt (acked, not redelivered)", async () => {
    fakeExecutor(() => {
      throw new Error("boom");
    });
    const { jobID, sent } = await capturedJob([http("work")]);
    const res = await deliver([sent[0]]);
    expect(res.result.explicitAcks.length).toBe(1);
    expect(res.result.retryMessages).toEqual([]);
    const done = await waitForJob(jobID, isFinal);
    expect(done).toMatchObject({ status: "error", error: "task 'work' failed: unexpected error: boom" });
  });

  it("a lost queue message is sent again by the watchdog; the stale one never runs", async () => {
    const calls = fakeExecutor();
    const { jobID, sent } = await capturedJob([http("work")]);
    await forceAlarm(jobID); // nobody claimed it in time
    expect(sent.length).toBe(2);
    expect(sent[1].attemptId).not.toBe(sent[0].attemptId);
    await deliver([sent[0]]);
    expect(calls.length).toBe(0);
    await deliver([sent[1]]);
    expect((await waitForJob(jobID, isFinal)).status).toBe("ok");
    expect(calls.length).toBe(1);
    const logs = await logsOf(jobID);
    expect(countLines(logs, /was not picked up from the queue in time; sending it again/)).toBe(1);
    expect(countLines(logs, /succeeded/)).toBe(1);
  });

  it("re-sends an unclaimed attempt with a doubling wait, and the workflow timeout still ends the job", async () => {
    const calls = fakeExecutor();
    const wf = await makeWorkflow([http("work")], [], 60);
    const job = await makeJob(wf, { startAt: FUTURE });
    const sent = await captureQueue(job.jobID);
    await fireAlarm(job.jobID);
    const { state } = await inspect(job.jobID);
    const started = state.startedAt as number;
    expect(state.attempt.deadline).toBe(started + 15_000);
    await forceAlarm(job.jobID); // +15 s: not claimed → sent again, next wait 30 s
    expect(sent.length).toBe(2);
    expect((await inspect(job.jobID)).state.attempt.deadline).toBe(started + 45_000);
    await forceAlarm(job.jobID); // +45 s: sent again, next wait 60 s, past the deadline
    expect(sent.length).toBe(3);
    expect((await inspect(job.jobID)).alarm).toBe(started + 60_000);
    await forceAlarm(job.jobID);
    expect(await getJob(job.jobID)).toMatchObject({ status: "error", error: "workflow timed out after 60 s" });
    const late = await deliver(sent);
    expect(late.result.explicitAcks.length).toBe(3);
    expect(calls.length).toBe(0);
    await expectMirrorMatches(job.jobID);
  });

  it("moving startAt into the past starts the job at once", async () => {
    const calls = fakeExecutor();
    const wf = await makeWorkflow([http("go")]);
    const job = await makeJob(wf, { startAt: FUTURE });
    expect((await call(`/job/${job.jobID}`, { body: { startAt: "2020-01-01T00:00:00Z" } })).status).toBe(200);
    expect((await waitForJob(job.jobID, isFinal)).status).toBe("ok");
    expect(calls.length).toBe(1);
  });

  it("alarms that fire again, or early, change nothing", async () => {
    fakeExecutor();
    const wf = await makeWorkflow([http("a")]);
    const job = await makeJob(wf);
    await waitForJob(job.jobID, isFinal);
    const logs = await logsOf(job.jobID);
    const before = await getJob(job.jobID);
    await inDO(job.jobID, (instance) => instance.alarm());
    await inDO(job.jobID, (instance) => instance.alarm());
    expect(await logsOf(job.jobID)).toEqual(logs);
    expect(await getJob(job.jobID)).toEqual(before);
  });
});

describe("a slow attempt holds up no other job", () => {
  /** An executor where task 'slow' waits for `release()` and every other task answers at once. */
  function slowAndFast() {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const calls = fakeExecutor(async (task) => {
      if (task.name === "slow") await gate;
      return { from: task.name };
    });
    return { calls, release };
  }

  it("the consumer acks once the batch is claimed and keeps no work (no waitUntil); the slow attempt runs on in its DO", async () => {
    const { calls, release } = slowAndFast();
    const wfA = await makeWorkflow([http("slow", { timeout: 60 })]);
    const wfB = await makeWorkflow([http("fast")]);
    const jobs = [];
    for (const wf of [wfA, wfB]) {
      const job = await makeJob(wf, { startAt: FUTURE });
      const sent = await captureQueue(job.jobID);
      await fireAlarm(job.jobID);
      expect(sent.length).toBe(1);
      jobs.push({ jobID: job.jobID as string, sent });
    }
    const [a, b] = jobs;
    // The local queue delivers one batch at a time: A's batch, then B's.
    const batchA = createMessageBatch("crm-tasks", [{ id: "slow-a", timestamp: Date.now(), attempts: 1, body: a.sent[0] }]);
    const ctxA = createExecutionContext();
    await handleTaskBatch(batchA, env);
    // Nothing is left running on the consumer's side: its invocation is over, and so no limit on
    // work after it (waitUntil) can cut the attempt short.
    const drained = await Promise.race([waitOnExecutionContext(ctxA).then(() => "drained"), sleep(2000).then(() => "pending")]);
    expect(drained).toBe("drained");
    expect((await getQueueResult(batchA, ctxA)).explicitAcks).toEqual(["slow-a"]);
    await waitFor("the slow attempt to start", () => calls.some((c) => c.task === "slow"), 5000);
    const startedAt = Date.now();
    await deliver([b.sent[0]]);
    expect((await waitForJob(b.jobID, isFinal)).status).toBe("ok");
    expect(Date.now() - startedAt).toBeLessThan(2000);
    expect((await getJob(a.jobID)).status).toBe("running");
    expect(calls.map((c) => c.task)).toEqual(["slow", "fast"]);
    release();
    expect((await waitForJob(a.jobID, isFinal)).status).toBe("ok");
    expect(countLines(await logsOf(a.jobID), /^attempt 1 of task 'slow' succeeded/)).toBe(1);
  });

  it("through the real queue, a fast job finishes while another job's attempt is still running", async () => {
    const { calls, release } = slowAndFast();
    const slow = await makeJob(await makeWorkflow([http("slow", { timeout: 60 })]));
    while (!calls.some((c) => c.task === "slow")) await sleep(10);
    const fast = await makeJob(await makeWorkflow([http("fast")]));
    expect((await waitForJob(fast.jobID, isFinal, 5000)).status).toBe("ok");
    expect((await getJob(slow.jobID)).status).toBe("running");
    release();
    expect((await waitForJob(slow.jobID, isFinal)).status).toBe("ok");
    const logs = await logsOf(fast.jobID);
    expect(countLines(logs, /not picked up from the queue in time/)).toBe(0);
  });
});

describe("an attempt runs once at a time, in its DO", () => {
  /** A job whose 'work' attempt is claimed and running in the DO, held until `release()`. */
  async function inFlight(timeout = 60) {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const calls = fakeExecutor(async (_t, n, signal) => {
      if (n === 1) await Promise.race([gate, hang(signal)]);
      return { n };
    });
    const wf = await makeWorkflow([http("work", { timeout })]);
    const job = await makeJob(wf, { startAt: FUTURE });
    const sent = await captureQueue(job.jobID);
    await fireAlarm(job.jobID);
    await deliver([sent[0]]);
    await waitFor("the attempt to start", () => calls.length === 1, 5000);
    return { jobID: job.jobID as string, sent, calls, release };
  }

  it("runs longer than the consumer's invocation: the run is awaited in the DO's alarm, not left to waitUntil", async () => {
    const { jobID, calls, release } = await inFlight();
    const { state } = await inspect(jobID);
    expect(state.attempt.running).toMatchObject({ since: expect.any(Number), instance: expect.any(String) });
    await sleep(300); // the consumer is long gone; the attempt still runs
    expect(calls[0].signal.aborted).toBe(false);
    release();
    expect((await waitForJob(jobID, isFinal)).status).toBe("ok");
  });

  it("while an attempt is in flight, alarms, sweeps and redeliveries start no second copy", async () => {
    const { jobID, sent, calls, release } = await inFlight();
    const stub = stubOf(jobID);
    await runDurableObjectAlarm(stub); // an alarm firing again (or early) while the run is awaited
    await inDO(jobID, (instance) => instance.alarm());
    await stub.sweep(Date.now() + 120_000); // even a sweep that thinks the attempt's timeout passed
    await deliver([sent[0], sent[0]]);
    await sleep(100);
    expect(calls.length).toBe(1);
    expect(sent.length).toBe(1);
    const running = (await inspect(jobID)).state.attempt;
    expect(running.id).toBe(sent[0].attemptId);
    release();
    expect((await waitForJob(jobID, isFinal)).status).toBe("ok");
    expect(calls.length).toBe(1);
    const logs = await logsOf(jobID);
    expect(countLines(logs, /'work' \(http\) started/)).toBe(1);
    expect(countLines(logs, /succeeded/)).toBe(1);
    expect(countLines(logs, /lost|not picked up/)).toBe(0);
  });

  it("a run marked by an instance that is gone is lost: the next alarm runs the task again, once", async () => {
    const calls = fakeExecutor();
    const wf = await makeWorkflow([http("work", { timeout: 60 })]);
    const job = await makeJob(wf, { startAt: FUTURE });
    const sent = await captureQueue(job.jobID);
    await fireAlarm(job.jobID);
    // What a DO instance that died mid-request leaves behind: the attempt claimed and marked running.
    await leaveRunToGoneInstance(job.jobID);
    await forceAlarm(job.jobID);
    expect(sent.length).toBe(2);
    expect(sent[1].attemptId).not.toBe(sent[0].attemptId);
    await deliver([sent[0]]); // the lost attempt's message claims nothing
    await deliver([sent[1]]);
    expect((await waitForJob(job.jobID, isFinal)).status).toBe("ok");
    expect(calls.length).toBe(1);
    expect(calls[0].identity).toMatchObject({ jobID: job.jobID, phase: "main", index: 0, attempt: 2 });
    const logs = await logsOf(job.jobID);
    expect(countLines(logs, /^attempt 1 of task 'work' was lost: the Durable Object instance running it is gone; running it again$/)).toBe(1);
    expect(countLines(logs, /^attempt 2 of task 'work' \(http\) started$/)).toBe(1);
    expect(countLines(logs, /succeeded/)).toBe(1);
    expect(logs.map((l) => l.seq)).toEqual(logs.map((_, i) => i + 1));
  });

  it("a task lost more than 3 times counts as a failed attempt (then its retries, then the job fails)", async () => {
    const calls = fakeExecutor();
    const wf = await makeWorkflow([http("work", { timeout: 60 })]);
    const job = await makeJob(wf, { startAt: FUTURE });
    const sent = await captureQueue(job.jobID);
    await fireAlarm(job.jobID);
    for (let i = 0; i < 4; i++) {
      await patchState(job.jobID, (s) => {
        s.attempt.claimedAt = Date.now();
        s.attempt.running = { since: Date.now(), instance: `gone-${i}` };
      });
      await forceAlarm(job.jobID);
    }
    expect(await getJob(job.jobID)).toMatchObject({
      status: "error",
      error: "task 'work' failed: the attempt was lost 4 times (the Durable Object running it was restarted)",
    });
    expect(calls.length).toBe(0);
    expect(sent.length).toBe(4);
    expect(countLines(await logsOf(job.jobID), /was lost: /)).toBe(3);
  });
});

// The engine end to end: real alarms, the real TASKS queue and consumer, with executeTask stubbed
// through engineHooks where a test needs to control what a task does (the real executors are
// exercised in jobs-executors.test.ts).
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { engineHooks } from "../src/jobs/attempt";
import { handleTaskBatch } from "../src/jobs/queue";
import { executeTask } from "../src/workflows/execute";
import { TaskFailure, type TaskDefinition, type TemplateScope } from "../src/workflows/tasks";
import { call } from "./helpers";
import { expectMirrorMatches, fireAlarm, forceAlarm, getJob, inDO, inspect, isFinal, logsOf, makeJob, makeWorkflow, sleep, stubOf, waitForJob } from "./jobs-helpers";

type Call = { task: string; scope: TemplateScope; signal: AbortSignal };

/** A controllable executor: records calls; `behave` decides per call. */
function fakeExecutor(behave: (task: TaskDefinition, n: number, signal: AbortSignal) => Promise<unknown> | unknown = () => ({ ok: true })) {
  const calls: Call[] = [];
  engineHooks.executeTask = async (_env, task, scope, signal) => {
    calls.push({ task: task.name, scope: structuredClone(scope), signal });
    const n = calls.filter((c) => c.task === task.name).length;
    if (task.kind === "log") return { logs: [{ level: "info", message: String(task.options.message) }] };
    if (task.kind === "fail") throw new TaskFailure(String(task.options.message));
    return { result: await behave(task, n, signal) };
  };
  return calls;
}

/** Blocks until aborted (then rejects with the abort reason). */
const hang = (signal: AbortSignal) => new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason ?? new Error("aborted"))));

/** Swaps the job DO's queue for a capture, so the test delivers messages itself. */
async function captureQueue(jobID: string) {
  const sent: Array<{ jobID: string; attemptId: string }> = [];
  await inDO(jobID, (instance) => {
    (instance as any).env = { ...(instance as any).env, TASKS: { send: async (m: any) => void sent.push(m) } };
  });
  return sent;
}

async function deliver(bodies: unknown[], useEnv: Env = env) {
  const batch = createMessageBatch("crm-tasks", bodies.map((body, i) => ({ id: `m${i}-${crypto.randomUUID()}`, timestamp: Date.now(), attempts: 1, body })));
  const ctx = createExecutionContext();
  await handleTaskBatch(batch, useEnv, ctx);
  return { batch, result: await getQueueResult(batch, ctx) };
}

const http = (name: string, extra: Record<string, unknown> = {}) => ({ name, kind: "http", options: { method: "POST", url: "http://test.local/hook" }, ...extra });
const FUTURE = "2099-01-01T00:00:00Z";
const countLines = (logs: Array<{ message: string }>, pattern: RegExp) => logs.filter((l) => pattern.test(l.message)).length;

afterEach(() => {
  engineHooks.executeTask = executeTask;
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

  it("a consumer that died after claiming: redelivery does not run it, the watchdog re-runs it once", async () => {
    const calls = fakeExecutor();
    const { jobID, sent } = await capturedJob([http("work")]);
    const claimed = await stubOf(jobID).claimAttempt(sent[0].attemptId); // ...and then the worker died
    expect(claimed).not.toBeNull();
    expect(await stubOf(jobID).claimAttempt(sent[0].attemptId)).toBeNull();
    const redelivered = await deliver([sent[0]]);
    expect(redelivered.result.explicitAcks.length).toBe(1);
    expect(calls.length).toBe(0);
    await forceAlarm(jobID); // the attempt's timeout passed with no report
    expect(sent.length).toBe(2);
    await deliver([sent[1], sent[1]]);
    expect((await waitForJob(jobID, isFinal)).status).toBe("ok");
    expect(calls.length).toBe(1);
    const logs = await logsOf(jobID);
    expect(countLines(logs, /^attempt 1 of task 'work' sent no report within its timeout \(30 s\); the worker running it was lost; running it again$/)).toBe(1);
    expect(countLines(logs, /^attempt 2 of task 'work' \(http\) started$/)).toBe(1);
    expect(countLines(logs, /^attempt 2 of task 'work' succeeded/)).toBe(1);
    expect(countLines(logs, /succeeded/)).toBe(1);
  });

  it("a consumer that throws (report lost) retries the message, which then does not run again", async () => {
    const calls = fakeExecutor();
    const { jobID, sent } = await capturedJob([http("work")]);
    const broken = {
      ...env,
      JOBS: {
        idFromName: (name: string) => env.JOBS.idFromName(name),
        get: (id: DurableObjectId) => {
          const real = env.JOBS.get(id);
          return {
            claimAttempt: (a: string) => real.claimAttempt(a),
            attemptAlive: (a: string) => real.attemptAlive(a),
            reportAttempt: async () => {
              throw new Error("network gone");
            },
          };
        },
      },
    } as unknown as Env;
    const first = await deliver([sent[0]], broken);
    expect(first.result.retryMessages.map((m) => m.msgId)).toEqual([first.batch.messages[0].id]);
    expect(first.result.explicitAcks).toEqual([]);
    expect(calls.length).toBe(1);
    const retried = await deliver([sent[0]]);
    expect(retried.result.explicitAcks.length).toBe(1);
    expect(calls.length).toBe(1);
    expect((await getJob(jobID)).status).toBe("running");
    const logs = await logsOf(jobID);
    expect(countLines(logs, /'work' \(http\) started/)).toBe(1);
    expect(countLines(logs, /succeeded|failed in/)).toBe(0);
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

  it("a late report for a replaced attempt is ignored", async () => {
    const calls = fakeExecutor();
    const { jobID, sent } = await capturedJob([http("work")]);
    const stub = stubOf(jobID);
    await stub.claimAttempt(sent[0].attemptId);
    await forceAlarm(jobID); // lost → attempt 2 sent
    expect(await stub.reportAttempt(sent[0].attemptId, { ok: true, durationMs: 5, result: { late: true } })).toBe(false);
    expect(await stub.reportAttempt("made-up", { ok: false, durationMs: 5, message: "x" })).toBe(false);
    expect((await getJob(jobID)).progress.done).toBe(0);
    await deliver([sent[1]]);
    expect((await waitForJob(jobID, isFinal)).status).toBe("ok");
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

  it("the consumer returns once the batch is claimed; the slow attempt runs on in waitUntil and is acked when it ends", async () => {
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
    const returned = await Promise.race([handleTaskBatch(batchA, env, ctxA).then(() => "returned"), sleep(3000).then(() => "still waiting")]);
    expect(returned).toBe("returned");
    const startedAt = Date.now();
    await deliver([b.sent[0]]);
    expect((await waitForJob(b.jobID, isFinal)).status).toBe("ok");
    expect(Date.now() - startedAt).toBeLessThan(2000);
    expect((await getJob(a.jobID)).status).toBe("running");
    expect(calls.map((c) => c.task)).toEqual(["slow", "fast"]);
    release();
    const result = await getQueueResult(batchA, ctxA);
    expect(result.explicitAcks).toEqual(["slow-a"]);
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

describe("heartbeat", () => {
  it("a worker that dies mid-attempt is noticed ~5 s after its last heartbeat, not after the task timeout", async () => {
    const calls = fakeExecutor();
    const wf = await makeWorkflow([http("work", { timeout: 60 })]);
    const job = await makeJob(wf, { startAt: FUTURE });
    const sent = await captureQueue(job.jobID);
    await fireAlarm(job.jobID);
    const stub = stubOf(job.jobID);
    expect(await stub.claimAttempt(sent[0].attemptId)).not.toBeNull();
    expect(await stub.attemptAlive(sent[0].attemptId)).toBe(true); // it ran for a while...
    const lastBeat = Date.now();
    const { state, alarm } = await inspect(job.jobID);
    expect(alarm).toBe(state.attempt.beatAt + 5000);
    expect(state.attempt.deadline - alarm!).toBeGreaterThan(50_000);
    // ...and then its worker was killed: the real alarm notices, and the attempt is sent again.
    while (sent.length < 2) {
      if (Date.now() - lastBeat > 8000) throw new Error("the lost attempt was not noticed");
      await sleep(50);
    }
    expect(Date.now() - lastBeat).toBeGreaterThanOrEqual(4900);
    await deliver([sent[1]]);
    expect((await waitForJob(job.jobID, isFinal)).status).toBe("ok");
    expect(calls.length).toBe(1);
    const logs = await logsOf(job.jobID);
    expect(countLines(logs, /^attempt 1 of task 'work' sent no heartbeat for 5 s; the worker running it was lost; running it again$/)).toBe(1);
    expect(countLines(logs, /^attempt 2 of task 'work' \(http\) started$/)).toBe(1);
    expect(countLines(logs, /succeeded/)).toBe(1);
    // A late heartbeat or report of the lost attempt changes nothing.
    expect(await stub.attemptAlive(sent[0].attemptId)).toBe(false);
    expect(await stub.reportAttempt(sent[0].attemptId, { ok: true, durationMs: 1 })).toBe(false);
    expect(await logsOf(job.jobID)).toEqual(logs);
  });

  it("an attempt that keeps its heartbeat is never called lost, however long it runs", async () => {
    const calls = fakeExecutor(async () => {
      await sleep(6500);
      return { slow: true };
    });
    const job = await makeJob(await makeWorkflow([http("slowish", { timeout: 30 })]));
    const done = await waitForJob(job.jobID, isFinal, 12_000);
    expect(done.status).toBe("ok");
    expect(calls.length).toBe(1);
    const logs = await logsOf(job.jobID);
    expect(countLines(logs, /lost|not picked up/)).toBe(0);
    expect(countLines(logs, /^attempt 1 of task 'slowish' succeeded in \d+ ms$/)).toBe(1);
  });
});

// Helpers for the job tests: workflows, jobs, waiting for the engine, peeking into the DO and mirror.
import { createExecutionContext, createMessageBatch, getQueueResult, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect, vi } from "vitest";
import type { JobObject } from "../src/worker/job-object";
import { handleTaskBatch } from "../src/worker/queue";
import { call } from "./helpers";

type TaskIn = { name: string; kind: string; options?: Record<string, unknown>; retries?: number[]; timeout?: number };

export async function makeWorkflow(tasks: TaskIn[], onError: TaskIn[] = [], timeout = 3600, name = "wf") {
  const res = await call("/workflow/", {
    body: { name, timeout, tasks: tasks.map((t) => ({ options: {}, ...t })), onError: onError.map((t) => ({ options: {}, ...t })) },
  });
  if (res.status !== 201) throw new Error(`workflow create failed: ${res.status} ${res.text}`);
  return res.json.response.workflowID as string;
}

/** A workflow whose one task waits a day: its jobs stay running, so tests can look at them. */
export const longWorkflow = (timeout = 3600) => makeWorkflow([{ name: "wait", kind: "delay", options: { seconds: 86_400 } }], [], timeout);

export async function createJob(body: Record<string, unknown>, headers: Record<string, string> = {}) {
  return call("/job/", { body, headers });
}

export async function makeJob(workflowID: string, extra: Record<string, unknown> = {}) {
  const res = await createJob({ workflowID, ...extra });
  if (res.status !== 201) throw new Error(`job create failed: ${res.status} ${res.text}`);
  return res.json.response as Record<string, any>;
}

export const stubOf = (jobID: string) => env.JOBS.get(env.JOBS.idFromName(jobID));

/**
 * The job as its DO stores it (the hot state, with the definition's snapshot and parameters merged
 * in for convenience) and its alarm, read inside the DO.
 */
export async function inspect(jobID: string): Promise<{ state: any; alarm: number | null }> {
  return runInDurableObject(stubOf(jobID), async (_instance, ctx) => {
    const sql = ctx.storage.sql;
    const row = sql.exec<{ data: string }>("SELECT data FROM state WHERE id = 1").toArray()[0];
    const def = sql.exec<{ data: string }>("SELECT data FROM definition WHERE id = 1").toArray()[0];
    const state = row ? { ...JSON.parse(row.data), ...(def ? JSON.parse(def.data) : {}) } : null;
    return { state, alarm: await ctx.storage.getAlarm() };
  });
}

/** Rewrites fields of the DO's stored state row (e.g. to simulate what a lost instance left). */
export async function patchState(jobID: string, patch: (state: any) => void) {
  await runInDurableObject(stubOf(jobID), (_instance, ctx) => {
    const sql = ctx.storage.sql;
    const state = JSON.parse(sql.exec<{ data: string }>("SELECT data FROM state WHERE id = 1").one().data);
    patch(state);
    sql.exec("UPDATE state SET data = ? WHERE id = 1", JSON.stringify(state));
  });
}

export async function getJob(jobID: string) {
  const res = await call(`/job/${jobID}`);
  expect(res.status).toBe(200);
  return res.json.response as Record<string, any>;
}

export async function logsOf(jobID: string, query = "perPage=100") {
  const res = await call(`/job/${jobID}/logs?${query}`);
  expect(res.status).toBe(200);
  return res.json.response.logs as Array<{ seq: number; level: string; task: string | null; message: string; data: any }>;
}

export async function mirrorRow(jobID: string) {
  return env.DB.prepare("SELECT * FROM jobs WHERE id = ?").bind(Number(jobID)).first<Record<string, any>>();
}

/** The mirror row, as the listing presents it, equals the DO's job. */
export async function expectMirrorMatches(jobID: string) {
  const job = await getJob(jobID);
  const res = await call(`/job/?perPage=100`);
  const listed = res.json.response.jobs.find((j: any) => j.jobID === jobID);
  expect(listed).toEqual(job);
  return job;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `check` answers a truthy value, and answers it; fails naming `what` after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => T | null | undefined | false | Promise<T | null | undefined | false>,
  timeoutMs = 10_000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Polls until the predicate holds on the job (engine progress comes from real alarms and the real queue). */
export async function waitForJob(jobID: string, predicate: (job: Record<string, any>) => boolean, timeoutMs = 8000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const job = await getJob(jobID);
    if (predicate(job)) return job;
    if (Date.now() > until) throw new Error(`timed out waiting for job ${jobID}: ${JSON.stringify(job)}`);
    await sleep(15);
  }
}

export const isFinal = (job: Record<string, any>) => ["ok", "error", "cancelled"].includes(job.status);

/** Waits until the engine has nothing in flight (no attempt, no pending dispatch). */
async function waitIdle(jobID: string, timeoutMs = 8000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const { state } = await inspect(jobID);
    if (!state.phase || (state.attempt && state.attempt.mode === "delay") || (!state.attempt && state.waitUntil !== null)) return state;
    if (Date.now() > until) throw new Error(`timed out waiting for job ${jobID} to idle: ${JSON.stringify(state)}`);
    await sleep(10);
  }
}

/** What a Durable Object instance that died mid-request leaves behind: its attempt claimed and marked running by it. */
export async function leaveRunToGoneInstance(jobID: string) {
  await patchState(jobID, (s) => {
    s.attempt.claimedAt = Date.now();
    s.attempt.running = { since: Date.now(), instance: "an-instance-that-is-gone" };
  });
}

/** Fires the job's alarm now (simulating that its time has come) once nothing is in flight. */
export async function fireAlarm(jobID: string) {
  await waitIdle(jobID);
  return runDurableObjectAlarm(stubOf(jobID));
}

/** Fires the job's alarm now, whatever is in flight (e.g. to trip the attempt watchdog). */
export async function forceAlarm(jobID: string) {
  return runDurableObjectAlarm(stubOf(jobID));
}

export async function inDO<R>(jobID: string, fn: (instance: JobObject, state: DurableObjectState) => R | Promise<R>) {
  return runInDurableObject(stubOf(jobID), fn);
}

/** Swaps the job DO's queue for a capture, so the test delivers messages itself. */
export async function captureQueue(jobID: string) {
  const sent: Array<{ jobID: string; attemptId: string }> = [];
  await inDO(jobID, (instance) => {
    (instance as any).env = { ...(instance as any).env, TASKS: { send: async (m: any) => void sent.push(m) } };
  });
  return sent;
}

/** Delivers the message bodies to the TASKS consumer as one batch; answers the batch and its acks. */
export async function deliver(bodies: unknown[], useEnv: Env = env) {
  const batch = createMessageBatch(
    "crm-tasks",
    bodies.map((body, i) => ({ id: `m${i}-${crypto.randomUUID()}`, timestamp: Date.now(), attempts: 1, body })),
  );
  const ctx = createExecutionContext();
  await handleTaskBatch(batch, useEnv);
  return { batch, result: await getQueueResult(batch, ctx) };
}

/** The log lines whose message matches `pattern`. */
export const messages = <L extends { message: string }>(logs: L[], pattern: RegExp) => logs.filter((l) => pattern.test(l.message));
export const countLines = (logs: Array<{ message: string }>, pattern: RegExp) => messages(logs, pattern).length;

/** A request an http task sent to the stub target. */
type TargetRequest = { url: string; path: string; method: string; headers: Headers; body: string | null; signal: AbortSignal | null };

/**
 * Answers every fetch to http://test.local (an allowed host) with `answer`, which may hold a request
 * open; other fetches go through. Answers the requests seen, in order. Undo with vi.restoreAllMocks().
 */
export function stubTarget(answer: (req: TargetRequest, n: number) => Response | Promise<Response>) {
  const seen: TargetRequest[] = [];
  const original = globalThis.fetch;
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.toString() : input.url;
    if (!url.startsWith("http://test.local")) return original(input as any, init);
    const req: TargetRequest = {
      url,
      path: new URL(url).pathname,
      method: init?.method ?? "GET",
      headers: new Headers(init?.headers),
      body: (init?.body as string) ?? null,
      signal: init?.signal ?? null,
    };
    seen.push(req);
    return answer(req, seen.length);
  });
  return seen;
}

// Jobs end to end with the real task executors (src/workflows/execute.ts): every kind, templates,
// the outbound guard, and exactly-once effects under duplicate delivery. Outbound http is a
// stubbed global fetch to an allowed host (HTTP_TASK_ALLOW_HOSTS includes test.local).
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { handleTaskBatch } from "../src/worker/queue";
import { call, makeModule } from "./helpers";
import { countLines, fireAlarm, getJob, inDO, isFinal, logsOf, makeJob, makeWorkflow, sleep, stubTarget, waitForJob } from "./jobs-helpers";

afterEach(() => {
  vi.restoreAllMocks();
});

describe("every task kind, end to end", () => {
  it("runs log, http, content.create/update/delete, delay and templates", async () => {
    const seen = stubTarget(() => new Response(JSON.stringify({ ref: "R-1" }), { status: 201, headers: { "content-type": "application/json" } }));
    const mod = await makeModule("Lead", [
      { name: "title", kind: "text" },
      { name: "ref", kind: "text" },
    ]);
    const wf = await makeWorkflow(
      [
        { name: "hello", kind: "log", options: { message: "hello {{params.name}} in job {{job.jobID}}" } },
        { name: "call", kind: "http", options: { method: "POST", url: "http://test.local/hook", body: { lead: "{{params.name}}" } } },
        { name: "make", kind: "content.create", options: { moduleID: mod.moduleID, fields: { title: "{{params.name}}", ref: "{{tasks.call.body.ref}}" } } },
        {
          name: "edit",
          kind: "content.update",
          options: { moduleID: mod.moduleID, contentID: "{{tasks.make.contentID}}", fields: { title: "edited", ref: "status {{tasks.call.status}}" } },
        },
        { name: "pause", kind: "delay", options: { seconds: 120 } },
        { name: "drop", kind: "content.delete", options: { moduleID: mod.moduleID, contentID: "{{tasks.make.contentID}}" } },
        { name: "bye", kind: "log", options: { message: "done with {{tasks.edit.fields.0.value}}" } },
      ],
      [],
      3600,
    );
    const job = await makeJob(wf, { parameters: { name: "Ann" } });
    await waitForJob(job.jobID, (j) => j.progress.task === "pause");
    const items = await call(`/module/${mod.moduleID}/content`);
    expect(items.json.response.contents.map((c: any) => c.fields)).toEqual([
      [
        { name: "title", value: "edited" },
        { name: "ref", value: "status 201" },
      ],
    ]);
    expect(items.json.response.contents[0].userID).toBe("7");
    await fireAlarm(job.jobID);
    const done = await waitForJob(job.jobID, isFinal);
    expect(done).toMatchObject({ status: "ok", progress: { done: 7, total: 7 } });
    expect(seen.map((s) => [s.method, s.url, s.body])).toEqual([["POST", "http://test.local/hook", JSON.stringify({ lead: "Ann" })]]);
    expect((await call(`/module/${mod.moduleID}/content`)).json.response.contents).toEqual([]);
    const logs = await logsOf(job.jobID);
    expect(logs.find((l) => l.task === "hello" && l.message.startsWith("hello"))!.message).toBe(`hello Ann in job ${job.jobID}`);
    expect(logs.find((l) => l.task === "bye" && l.message.startsWith("done"))!.message).toBe("done with edited");
    expect(logs.map((l) => l.seq)).toEqual(logs.map((_, i) => i + 1));
  });

  it("fail makes the job error and runs onError with templates", async () => {
    const wf = await makeWorkflow(
      [
        { name: "guard", kind: "fail", options: { message: "lead {{params.id}} is not ready" } },
        { name: "never", kind: "log", options: { message: "no" } },
      ],
      [{ name: "report", kind: "log", options: { message: "cleaning up {{params.id}}" } }],
    );
    const job = await makeJob(wf, { parameters: { id: "9" } });
    const done = await waitForJob(job.jobID, isFinal);
    expect(done).toMatchObject({ status: "error", error: "task 'guard' failed: lead 9 is not ready" });
    for (let i = 0; i < 100 && !(await logsOf(job.jobID)).some((l) => l.message === "onError tasks finished"); i++) await sleep(10);
    const logs = await logsOf(job.jobID);
    expect(countLines(logs, /^cleaning up 9$/)).toBe(1);
    expect(countLines(logs, /'never'/)).toBe(0);
    expect((await getJob(job.jobID)).status).toBe("error");
  });

  it("an http task to a private address is refused and sends nothing", async () => {
    const seen = stubTarget(() => new Response("no"));
    const spy = vi.mocked(globalThis.fetch);
    const wf = await makeWorkflow([{ name: "call", kind: "http", options: { url: "http://test.local/ok" } }]);
    // The workflow validation refuses literal private targets; a templated one is checked at run time.
    const wf2 = await makeWorkflow([{ name: "call", kind: "http", options: { url: "http://{{params.host}}/x" } }]);
    const job = await makeJob(wf2, { parameters: { host: "10.0.0.1" } });
    const done = await waitForJob(job.jobID, isFinal);
    expect(done.status).toBe("error");
    expect(done.error).toMatch(/^task 'call' failed: http request not sent/);
    expect(spy.mock.calls.filter(([u]) => String(u).includes("10.0.0.1"))).toEqual([]);
    expect(seen).toEqual([]);
    expect(wf).toBeTruthy();
  });

  it("an http answer outside expectStatus fails the attempt, retried, then ok", async () => {
    let n = 0;
    stubTarget(() => new Response("busy", { status: ++n === 1 ? 503 : 200 }));
    const wf = await makeWorkflow([{ name: "call", kind: "http", options: { url: "http://test.local/x" }, retries: [0] }]);
    const job = await makeJob(wf);
    const done = await waitForJob(job.jobID, isFinal);
    expect(done.status).toBe("ok");
    const logs = await logsOf(job.jobID);
    expect(
      countLines(logs, /^attempt 1 of task 'call' failed in \d+ ms: GET http:\/\/test.local\/x answered 503; expected 200..299; retry 1 of 1 in 0 s$/),
    ).toBe(1);
    expect(countLines(logs, /^attempt 2 of task 'call' succeeded/)).toBe(1);
  });

  it("cancelling aborts the real http request in flight", async () => {
    const seen = stubTarget(
      (req) => new Promise<Response>((_, reject) => req.signal?.addEventListener("abort", () => reject(req.signal!.reason ?? new Error("aborted")))),
    );
    const wf = await makeWorkflow([{ name: "slow", kind: "http", options: { url: "http://test.local/slow" }, timeout: 120 }]);
    const job = await makeJob(wf);
    for (let i = 0; seen.length === 0; i++) {
      if (i > 500) throw new Error("no request");
      await sleep(10);
    }
    expect((await call(`/job/${job.jobID}`, { method: "DELETE" })).status).toBe(200);
    const t0 = Date.now();
    while (!seen[0].signal!.aborted) {
      if (Date.now() - t0 > 3000) throw new Error("not aborted");
      await sleep(20);
    }
    expect((await getJob(job.jobID)).status).toBe("cancelled");
  });
});

describe("exactly-once effects", () => {
  it("a content.create message delivered three times creates one item", async () => {
    const mod = await makeModule("Once", [{ name: "title", kind: "text" }]);
    const wf = await makeWorkflow([{ name: "make", kind: "content.create", options: { moduleID: mod.moduleID, fields: { title: "x" } } }]);
    const job = await makeJob(wf, { startAt: "2099-01-01T00:00:00Z" });
    const sent: Array<{ jobID: string; attemptId: string }> = [];
    await inDO(job.jobID, (instance) => {
      (instance as any).env = { ...(instance as any).env, TASKS: { send: async (m: any) => void sent.push(m) } };
    });
    await fireAlarm(job.jobID);
    expect(sent.length).toBe(1);
    const batch = createMessageBatch(
      "crm-tasks",
      [0, 1, 2].map((i) => ({ id: `dup-${i}`, timestamp: Date.now(), attempts: 1, body: sent[0] })),
    );
    const ctx = createExecutionContext();
    await Promise.all([
      handleTaskBatch(batch, env),
      handleTaskBatch(createMessageBatch("crm-tasks", [{ id: "dup-x", timestamp: Date.now(), attempts: 2, body: sent[0] }]), env),
    ]);
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks.length).toBe(3);
    expect((await waitForJob(job.jobID, isFinal)).status).toBe("ok");
    expect((await call(`/module/${mod.moduleID}/content`)).json.response.meta.count).toBe(1);
    const logs = await logsOf(job.jobID);
    expect(countLines(logs, /'make' \(content.create\) started/)).toBe(1);
    expect(countLines(logs, /'make' succeeded/)).toBe(1);
  });
});

// Credentials in workflows: `{{secrets.NAME}}` placeholders resolved at run time from Worker
// secrets (TASK_SECRET_NAME), never stored; credential-bearing headers redacted from what is
// logged or stored, and from what a token without `admin` reads back.
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { executeTask } from "../src/workflows/execute";
import type { TaskDefinition, TemplateScope } from "../src/jobs/tasks";
import { call, makeModule, failure } from "./helpers";
import { inDO, inspect, isFinal, logsOf, makeJob, makeWorkflow, mirrorRow, sleep, waitForJob } from "./jobs-helpers";

/** The value of the TASK_SECRET_E2E_TOKEN binding in vitest.config.ts. */
const E2E_SECRET = "e2e-s3cret/val ue";

type Seen = { url: string; method: string; headers: Record<string, string>; body: string | null };

/** Stubs fetch for test.local and example.com (other hosts go out as usual); records each request. */
function stubFetch(answer: (req: Seen) => Response | Promise<Response>) {
  const seen: Seen[] = [];
  const original = globalThis.fetch;
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input: RequestInfo | URL, init?: RequestInit) => {
    const req = new Request(input as any, init);
    if (!/^https?:\/\/(test\.local|example\.com)\//.test(req.url)) return original(input as any, init);
    const s = { url: req.url, method: req.method, headers: Object.fromEntries(req.headers), body: req.body ? await req.text() : null };
    seen.push(s);
    return answer(s);
  });
  return seen;
}

afterEach(() => {
  vi.restoreAllMocks();
});

const scope: TemplateScope = { params: { id: "42" }, job: { jobID: "31" }, tasks: {} };
const task = (options: Record<string, unknown>, kind: TaskDefinition["kind"] = "http"): TaskDefinition => ({
  name: "t",
  kind,
  options,
  retries: [],
  timeout: 30,
});
const secretEnv = (secrets: Record<string, unknown>) => ({ ...env, ...secrets }) as Env;
const run = (t: TaskDefinition, e: Env = env) => executeTask(e, t, scope, new AbortController().signal);

const workflowWith = (headers: Record<string, string>) => ({
  name: "Creds",
  tasks: [{ name: "call", kind: "http", options: { method: "POST", url: "https://example.com/hook", headers } }],
});

describe("reading workflows: credential headers", () => {
  const headers = {
    Authorization: "Basic dXNlcjpodW50ZXIy",
    "X-Api-Key": "literal-key-123",
    "X-Auth-Token": "tok-456",
    Cookie: "sid=cookie-789",
    "Proxy-Authorization": "Basic cHJveHk6cHc=",
    "X-Client-Secret": "shh-000",
    Accept: "application/json",
    "X-Lead": "{{params.id}}",
  };

  it("a token without admin reads their values as [redacted]; admin reads them as stored", async () => {
    const made = await call("/workflow/", { body: workflowWith(headers) });
    expect(made.status, made.text).toBe(201);
    const id = made.json.response.workflowID;
    expect(made.json.response.tasks[0].options.headers, "the admin's own answer round-trips").toEqual(headers);

    const redacted = {
      Authorization: "[redacted]",
      "X-Api-Key": "[redacted]",
      "X-Auth-Token": "[redacted]",
      Cookie: "[redacted]",
      "Proxy-Authorization": "[redacted]",
      "X-Client-Secret": "[redacted]",
      Accept: "application/json",
      "X-Lead": "{{params.id}}",
    };
    for (const scope of ["read", "read write"]) {
      const one = await call(`/workflow/${id}`, { scope });
      expect(one.status).toBe(200);
      expect(one.json.response.tasks[0].options.headers).toEqual(redacted);
      const list = await call("/workflow/", { scope });
      expect(list.json.response.find((w: any) => w.workflowID === id).tasks[0].options.headers).toEqual(redacted);
      for (const text of [one.text, list.text]) {
        for (const value of ["dXNlcjpodW50ZXIy", "literal-key-123", "tok-456", "cookie-789", "cHJveHk6cHc=", "shh-000"]) expect(text).not.toContain(value);
      }
    }
    const admin = await call(`/workflow/${id}`, { scope: "admin" });
    expect(admin.json.response.tasks[0].options.headers).toEqual(headers);
    const adminList = await call("/workflow/", { scope: "read admin" });
    expect(adminList.json.response.find((w: any) => w.workflowID === id).tasks[0].options.headers).toEqual(headers);
  });

  it("a value made only of templates (optionally after a scheme word) is shown: it holds no credential", async () => {
    const shown = { Authorization: "Bearer {{secrets.API}}", "X-Api-Key": "{{secrets.API_KEY}}", Cookie: "{{params.id}}", "X-Token": "Token abc{{secrets.X}}" };
    const made = await call("/workflow/", { body: workflowWith(shown) });
    expect(made.status, made.text).toBe(201);
    const read = await call(`/workflow/${made.json.response.workflowID}`, { scope: "read" });
    expect(read.json.response.tasks[0].options.headers).toEqual({ ...shown, "X-Token": "[redacted]" });
  });

  it("onError tasks are redacted too", async () => {
    const made = await call("/workflow/", {
      body: {
        name: "E",
        onError: [{ name: "alert", kind: "http", options: { url: "https://example.com/a", headers: { authorization: "Bearer raw-onerror" } } }],
      },
    });
    expect(made.status, made.text).toBe(201);
    const read = await call(`/workflow/${made.json.response.workflowID}`, { scope: "read" });
    expect(read.json.response.onError[0].options.headers).toEqual({ authorization: "[redacted]" });
  });
});

describe("saving {{secrets.NAME}}", () => {
  async function expectRefused(body: unknown, path: string, message: RegExp) {
    const res = await call("/workflow/", { body });
    expect(res.status, res.text).toBe(400);
    const detail = res.json.error.details.find((d: { path: string }) => d.path === path);
    expect(detail, JSON.stringify(res.json.error.details)).toBeTruthy();
    expect(detail.message).toMatch(message);
  }
  const http = (options: Record<string, unknown>) => ({ name: "S", tasks: [{ name: "call", kind: "http", options }] });

  it("refuses malformed secret templates with a 400 naming the place", async () => {
    await expectRefused(http({ url: "https://example.com/", headers: { a: "{{secrets}}" } }), "tasks[0].options.headers.a", /\{\{secrets\.NAME\}\}/);
    await expectRefused(http({ url: "https://example.com/", headers: { a: "{{secrets.a.b}}" } }), "tasks[0].options.headers.a", /\{\{secrets\.NAME\}\}/);
    await expectRefused(http({ url: "https://example.com/{{secrets.bad-name}}" }), "tasks[0].options.url", /\{\{secrets\.NAME\}\}/);
    await expectRefused(
      http({ method: "POST", url: "https://example.com/", body: { k: `{{secrets.${"A".repeat(65)}}}` } }),
      "tasks[0].options.body.k",
      /\{\{secrets\.NAME\}\}/,
    );
  });

  it("refuses secrets where their value would be stored or logged", async () => {
    const where = /secrets may be used only in an http task's url, headers and body/;
    await expectRefused({ name: "L", tasks: [{ name: "say", kind: "log", options: { message: "key {{secrets.API}}" } }] }, "tasks[0].options.message", where);
    await expectRefused({ name: "F", onError: [{ name: "stop", kind: "fail", options: { message: "{{secrets.API}}" } }] }, "onError[0].options.message", where);
    const mod = await makeModule("Leak", [{ name: "title", kind: "text" }]);
    await expectRefused(
      { name: "C", tasks: [{ name: "make", kind: "content.create", options: { moduleID: mod.moduleID, fields: { title: "{{secrets.API}}" } } }] },
      "tasks[0].options.fields.title",
      where,
    );
    await expectRefused(http({ method: "{{secrets.API}}", url: "https://example.com/" }), "tasks[0].options.method", where);
  });

  it("accepts a secret that is not set yet (it is looked up when the task runs)", async () => {
    const res = await call("/workflow/", {
      body: http({
        method: "POST",
        url: "https://example.com/{{secrets.NOT_SET_YET}}",
        headers: { authorization: "Bearer {{ secrets.NOT_SET_YET }}" },
        body: { k: "{{secrets.NOT_SET_YET}}" },
      }),
    });
    expect(res.status, res.text).toBe(201);
  });
});

describe("executeTask: secrets and credential headers", () => {
  it("sends the secret's value in url, headers and body; it appears nowhere in the result", async () => {
    const value = "v@l/ue 1&2";
    // The target echoes the request back, in its headers and its body.
    const seen = stubFetch(
      (req) =>
        new Response(JSON.stringify({ echo: req, note: `got ${req.headers.authorization}`, [req.headers["x-plain"]]: "as a key" }), {
          headers: { "content-type": "application/json", "x-echo": req.headers["x-plain"], "set-cookie": "sid=abc; HttpOnly" },
        }),
    );
    const outcome = await run(
      task({
        method: "POST",
        url: "https://example.com/u/{{secrets.API}}?k={{secrets.API}}",
        headers: { Authorization: "Bearer {{secrets.API}}", "X-Plain": "{{secrets.API}}" },
        body: { key: "{{secrets.API}}", mixed: "k={{secrets.API}}" },
      }),
      secretEnv({ TASK_SECRET_API: value }),
    );
    expect(seen).toHaveLength(1);
    expect(seen[0].headers.authorization).toBe(`Bearer ${value}`);
    expect(seen[0].headers["x-plain"]).toBe(value);
    expect(JSON.parse(seen[0].body!)).toEqual({ key: value, mixed: `k=${value}` });
    expect(decodeURIComponent(new URL(seen[0].url).pathname)).toBe(`/u/${value}`);
    expect(decodeURIComponent(new URL(seen[0].url).search)).toBe(`?k=${value}`); // inserted as is, like any template

    const result = outcome.result as any;
    expect(result.status).toBe(200);
    expect(result.headers["set-cookie"]).toBe("[redacted]");
    expect(result.headers["x-echo"]).toBe("[redacted]");
    expect(result.body.note).toBe("got Bearer [redacted]");
    expect(result.body["[redacted]"]).toBe("as a key");
    const text = JSON.stringify(outcome);
    for (const form of [value, encodeURIComponent(value), encodeURI(value), "v@l/ue%201&2", "v%40l%2Fue+1%262"]) expect(text).not.toContain(form);
  });

  it("keeps secrets out of failure messages and their data", async () => {
    const value = "pathsecret99";
    stubFetch(() => new Response(`denied for ${value}`, { status: 401, headers: { "www-authenticate": "Bearer", "set-cookie": "s=1" } }));
    const err = await failure(run(task({ url: "https://example.com/hook/{{secrets.API}}" }), secretEnv({ TASK_SECRET_API: value })));
    expect(err.message).toBe("GET https://example.com/hook/[redacted] answered 401; expected 200..299");
    expect(err.data).toMatchObject({ status: 401, body: "denied for [redacted]", headers: { "set-cookie": "[redacted]", "www-authenticate": "Bearer" } });
    expect(JSON.stringify(err.data)).not.toContain(value);

    vi.restoreAllMocks();
    vi.spyOn(globalThis, "fetch").mockRejectedValue(new TypeError(`connect failed to https://example.com/hook/${value}`));
    const thrown = await failure(run(task({ url: "https://example.com/hook/{{secrets.API}}" }), secretEnv({ TASK_SECRET_API: value })));
    expect(thrown.message).not.toContain(value);
    expect(thrown.message).toContain("[redacted]");
  });

  it("redacts any secret value, regex characters or short ones, in one pass", async () => {
    stubFetch((req) => new Response(`a=${req.headers["x-a"]} b=${req.headers["x-b"]} end`));
    const outcome = await run(
      task({ url: "https://example.com/", headers: { "x-a": "{{secrets.A}}", "x-b": "{{secrets.B}}" } }),
      secretEnv({ TASK_SECRET_A: "(x+y)*.?", TASK_SECRET_B: "e" }),
    );
    // "e" is redacted where it occurs, but never inside a "[redacted]" written before
    expect(outcome.result).toMatchObject({ status: 200, body: "a=[redacted] b=[redacted] [redacted]nd" });
  });

  it("redacts credential response headers for any http task, secrets or not", async () => {
    stubFetch(
      () =>
        new Response("no", {
          status: 500,
          headers: { "Set-Cookie": "sid=raw-cookie", "X-Api-Key": "k", "X-Request-Id": "r1", "Keep-Alive": "timeout=5" },
        }),
    );
    const err = await failure(run(task({ url: "https://example.com/x" })));
    expect((err.data as any).headers).toMatchObject({ "set-cookie": "[redacted]", "x-api-key": "[redacted]", "x-request-id": "r1", "keep-alive": "timeout=5" });
  });

  it("an unknown secret fails the attempt with a clear message and sends nothing", async () => {
    const seen = stubFetch(() => new Response("ok"));
    const err = await failure(run(task({ url: "https://example.com/", headers: { authorization: "Bearer {{secrets.MISSING}}" } })));
    expect(err.message).toContain("secret 'MISSING' is not set (expected a Worker secret TASK_SECRET_MISSING)");
    expect(seen).toEqual([]);
    const notText = await failure(run(task({ url: "https://example.com/{{secrets.OBJ}}" }), secretEnv({ TASK_SECRET_OBJ: { a: 1 } })));
    expect(notText.message).toContain("secret 'OBJ'");
  });

  it("a secret in a kind other than http is refused at run time too", async () => {
    const err = await failure(run(task({ message: "{{secrets.API}}" }, "log"), secretEnv({ TASK_SECRET_API: "logged-secret" })));
    expect(err.message).toMatch(/only in an http task/);
    expect(err.message).not.toContain("logged-secret");
  });
});

describe("jobs: secrets and credential headers end to end", () => {
  /** Every read route's JSON for the job and its workflow, as admin and as read. */
  async function everything(jobID: string, workflowID: string) {
    const texts: string[] = [];
    for (const scope of ["read", "read write admin"]) {
      for (const path of [`/job/${jobID}`, `/job/${jobID}/logs?perPage=100`, `/job/?perPage=100`, `/workflow/${workflowID}`, "/workflow/"]) {
        const res = await call(path, { scope });
        expect(res.status, path).toBe(200);
        texts.push(res.text);
      }
    }
    texts.push(JSON.stringify(await mirrorRow(jobID)));
    texts.push(JSON.stringify((await inspect(jobID)).state));
    texts.push(JSON.stringify(await inDO(jobID, (_i, state) => state.storage.sql.exec("SELECT * FROM results").toArray())));
    texts.push(JSON.stringify(await inDO(jobID, (_i, state) => state.storage.sql.exec("SELECT * FROM log").toArray())));
    return texts.join("\n");
  }
  const leaks = (text: string) => [E2E_SECRET, encodeURIComponent(E2E_SECRET), encodeURI(E2E_SECRET), "raw-cookie"].filter((form) => text.includes(form));

  it("the request carries the secret; the workflow, job, logs, results and mirror never hold it", async () => {
    let n = 0;
    const seen = stubFetch(
      (req) =>
        new Response(JSON.stringify({ echoed: req.headers.authorization }), {
          status: ++n === 1 ? 503 : 200,
          headers: { "content-type": "application/json", "set-cookie": "sid=raw-cookie; Secure" },
        }),
    );
    const wf = await makeWorkflow([
      {
        name: "call",
        kind: "http",
        options: {
          method: "POST",
          url: "http://test.local/hook/{{secrets.E2E_TOKEN}}?t={{secrets.E2E_TOKEN}}",
          headers: { authorization: "Bearer {{secrets.E2E_TOKEN}}" },
          body: { token: "{{secrets.E2E_TOKEN}}" },
        },
        retries: [0],
      },
      { name: "after", kind: "log", options: { message: "saw {{tasks.call.body.echoed}}" } },
    ]);
    const job = await makeJob(wf);
    const done = await waitForJob(job.jobID, isFinal);
    expect(done.status, JSON.stringify(await logsOf(job.jobID))).toBe("ok");

    expect(seen).toHaveLength(2);
    expect(seen[0].headers.authorization).toBe(`Bearer ${E2E_SECRET}`);
    expect(JSON.parse(seen[0].body!)).toEqual({ token: E2E_SECRET });
    expect(new URL(seen[0].url).searchParams.get("t")).toBe(E2E_SECRET);

    const logs = await logsOf(job.jobID);
    const failed = logs.find((l) => /^attempt 1 of task 'call' failed/.test(l.message))!;
    expect(failed.message).toContain("POST http://test.local/hook/[redacted] answered 503");
    expect(failed.data.details.headers["set-cookie"]).toBe("[redacted]");
    expect(logs.some((l) => l.message === "saw Bearer [redacted]")).toBe(true);
    const results = await inDO(job.jobID, (_i, state) => state.storage.sql.exec<{ value: string }>("SELECT value FROM results").toArray());
    expect(JSON.parse(results[0].value).headers["set-cookie"]).toBe("[redacted]");

    expect(leaks(await everything(job.jobID, wf))).toEqual([]);
  });

  it("an unknown secret fails the attempt with a clear log line, retried like any failure", async () => {
    const seen = stubFetch(() => new Response("ok"));
    const wf = await makeWorkflow([
      { name: "call", kind: "http", options: { url: "http://test.local/x", headers: { "x-api-key": "{{secrets.NOPE}}" } }, retries: [0] },
    ]);
    const job = await makeJob(wf);
    const done = await waitForJob(job.jobID, isFinal);
    const why = "secret 'NOPE' is not set (expected a Worker secret TASK_SECRET_NOPE)";
    expect(done.status).toBe("error");
    expect(done.error).toContain(why);
    const logs = await logsOf(job.jobID);
    expect(logs.filter((l) => /^attempt \d of task 'call' failed/.test(l.message) && l.message.includes(why))).toHaveLength(2);
    expect(seen).toEqual([]);
  });

  it("log lines a client reads without admin have credential headers redacted", async () => {
    const wf = await makeWorkflow([{ name: "wait", kind: "delay", options: { seconds: 600 } }]);
    const job = await makeJob(wf);
    const line = { message: "from a client", data: { response: { headers: { "Set-Cookie": "sid=raw-cookie", "Content-Type": "text/plain" } } } };
    expect((await call(`/job/${job.jobID}`, { body: { log: line } })).status).toBe(200);
    let read: any;
    for (let i = 0; i < 100; i++) {
      read = (await call(`/job/${job.jobID}/logs?perPage=100`, { scope: "read" })).json.response.logs.find((l: any) => l.message === "from a client");
      if (read) break;
      await sleep(10);
    }
    expect(read.data.response.headers).toEqual({ "Set-Cookie": "[redacted]", "Content-Type": "text/plain" });
    const admin = (await call(`/job/${job.jobID}/logs?perPage=100`, { scope: "admin" })).json.response.logs.find((l: any) => l.message === "from a client");
    expect(admin.data).toEqual(line.data);
    await call(`/job/${job.jobID}`, { method: "DELETE" });
  });
});

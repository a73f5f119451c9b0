// executeTask in workerd. Outbound requests are answered by a stub of globalThis.fetch (the
// vitest plugin 1.x has no fetchMock; the stub sees exactly what would have been sent).
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { executeTask, HTTP_BODY_LIMIT } from "../src/workflows/execute";
import type { TaskDefinition, TaskIdentity, TemplateScope } from "../src/jobs/tasks";
import { call, makeModule, failure } from "./helpers";

const scope: TemplateScope = {
  params: { leadID: "42", host: "hooks.example.com", token: "s3cret" },
  job: { jobID: "31", userID: "5" },
  tasks: { prev: { status: 200, headers: {}, body: { id: 7, tags: ["a", "b"] } } },
};

const task = (kind: TaskDefinition["kind"], options: Record<string, unknown>, extra: Partial<TaskDefinition> = {}): TaskDefinition => ({
  name: "t",
  kind,
  options,
  retries: [],
  timeout: 30,
  ...extra,
});

const run = (t: TaskDefinition, s: TemplateScope = scope, signal: AbortSignal = new AbortController().signal) => executeTask(env, t, s, signal);

type Seen = { url: string; method: string; headers: Record<string, string>; body: string | null; redirect: string };

/** Stubs fetch with `answer`; records each request. */
function stubFetch(answer: (req: Request) => Response | Promise<Response>) {
  const seen: Seen[] = [];
  const spy = vi.spyOn(globalThis, "fetch").mockImplementation(async (input: any, init?: any) => {
    const req = new Request(input, init);
    seen.push({
      url: req.url,
      method: req.method,
      headers: Object.fromEntries(req.headers),
      body: req.body ? new TextDecoder().decode(await req.arrayBuffer()) : null,
      redirect: init?.redirect ?? req.redirect,
    });
    return answer(req);
  });
  return { seen, spy };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("executeTask: log, fail, delay", () => {
  it("log answers a templated log line", async () => {
    expect(await run(task("log", { message: "lead {{params.leadID}} of job {{job.jobID}}, prev {{tasks.prev.body.id}}" }))).toEqual({
      logs: [{ level: "info", message: "lead 42 of job 31, prev 7" }],
    });
    expect(await run(task("log", { message: "{{tasks.prev.body.tags}}" }))).toEqual({ logs: [{ level: "info", message: '["a","b"]' }] });
  });

  it("fail throws a TaskFailure with its templated message", async () => {
    const err = await failure(run(task("fail", { message: "no lead {{params.leadID}}" })));
    expect(err.message).toBe("no lead 42");
  });

  it("a template naming a missing value fails the attempt", async () => {
    const err = await failure(run(task("log", { message: "{{params.nope}}" })));
    expect(err.message).toContain("no parameter 'nope'");
  });

  it("refuses to run delay (the engine schedules it)", async () => {
    await expect(run(task("delay", { seconds: 5 }))).rejects.toThrow(/engine/);
  });

  it("fails at once when the signal is already aborted", async () => {
    const ctrl = new AbortController();
    ctrl.abort("cancelled");
    const err = await failure(run(task("log", { message: "x" }), scope, ctrl.signal));
    expect(err.message).toContain("cancelled");
  });
});

describe("executeTask: http", () => {
  it("sends the templated request and answers status, headers and parsed JSON body", async () => {
    const { seen } = stubFetch(() => Response.json({ ok: true, n: 1 }, { status: 201, headers: { "x-reply": "yes" } }));
    const outcome = await run(
      task("http", {
        method: "POST",
        url: "https://{{params.host}}/lead/{{params.leadID}}?job={{job.jobID}}",
        headers: { authorization: "Bearer {{params.token}}", "x-prev": "{{tasks.prev.body.id}}" },
        body: { lead: "{{params.leadID}}", prev: "{{tasks.prev.body.id}}", tags: "{{tasks.prev.body.tags}}" },
      }),
    );
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({
      url: "https://hooks.example.com/lead/42?job=31",
      method: "POST",
      redirect: "manual",
      headers: { authorization: "Bearer s3cret", "x-prev": "7", "content-type": "application/json" },
    });
    expect(JSON.parse(seen[0].body!)).toEqual({ lead: "42", prev: 7, tags: ["a", "b"] });
    expect(outcome.result).toEqual({
      status: 201,
      headers: expect.objectContaining({ "content-type": "application/json", "x-reply": "yes" }),
      body: { ok: true, n: 1 },
    });
  });

  it("defaults to GET with no body; sends a string body as it is; keeps a given content-type", async () => {
    const { seen } = stubFetch(() => new Response("plain text"));
    const get = await run(task("http", { url: "https://example.com/x" }));
    expect(seen[0]).toMatchObject({ method: "GET", body: null });
    expect(get.result).toMatchObject({ status: 200, body: "plain text" });
    await run(
      task("http", {
        method: "PUT",
        url: "https://example.com/x",
        body: "a={{params.leadID}}",
        headers: { "content-type": "application/x-www-form-urlencoded" },
      }),
    );
    expect(seen[1]).toMatchObject({ method: "PUT", body: "a=42", headers: { "content-type": "application/x-www-form-urlencoded" } });
    await run(task("http", { method: "PATCH", url: "https://example.com/x", body: [1, 2], headers: { "content-type": "application/vnd.api+json" } }));
    expect(seen[2]).toMatchObject({ body: "[1,2]", headers: { "content-type": "application/vnd.api+json" } });
    const head = await run(task("http", { method: "HEAD", url: "https://example.com/x" }));
    expect(seen[3].method).toBe("HEAD");
    expect(head.result).toMatchObject({ status: 200, body: "" });
  });

  it("keeps text that claims to be JSON but is not", async () => {
    stubFetch(() => new Response("{oops", { headers: { "content-type": "application/json" } }));
    expect((await run(task("http", { url: "https://example.com/" }))).result).toMatchObject({ body: "{oops" });
  });

  it("keeps as text a JSON answer nested deeper than 64 levels (later walks over results stay bounded)", async () => {
    const deep = "[".repeat(30000) + "]".repeat(30000);
    stubFetch(() => new Response(deep, { headers: { "content-type": "application/json" } }));
    expect((await run(task("http", { url: "https://example.com/" }))).result).toMatchObject({ body: deep });
  });

  it("cuts the body at 64 KiB", async () => {
    const big = "x".repeat(HTTP_BODY_LIMIT + 5000);
    stubFetch(() => new Response(big));
    const { result } = (await run(task("http", { url: "https://example.com/" }))) as { result: any };
    expect(result.body.length).toBe(HTTP_BODY_LIMIT);
    expect(result.truncated).toBe(true);
    stubFetch(() => new Response(JSON.stringify({ a: big }), { headers: { "content-type": "application/json" } }));
    const cut = (await run(task("http", { url: "https://example.com/" }))) as { result: any };
    expect(typeof cut.result.body).toBe("string");
    expect(cut.result.body.length).toBe(HTTP_BODY_LIMIT);
  });

  it("fails on a status outside expectStatus (default 200..299) with the answer as data", async () => {
    stubFetch(() => Response.json({ error: "boom" }, { status: 500 }));
    const err = await failure(run(task("http", { url: "https://example.com/x?key=secret" })));
    expect(err.message).toBe("GET https://example.com/x answered 500; expected 200..299");
    expect(err.data).toMatchObject({ status: 500, body: { error: "boom" } });

    stubFetch(() => new Response("gone", { status: 404 }));
    expect((await run(task("http", { url: "https://example.com/", expectStatus: [200, 404] }))).result).toMatchObject({ status: 404 });
    expect((await run(task("http", { url: "https://example.com/", expectStatus: "400..499" }))).result).toMatchObject({ status: 404 });
    expect((await failure(run(task("http", { url: "https://example.com/", expectStatus: 200 })))).message).toContain("expected 200");
  });

  it("does not follow redirects: a 3xx is judged by expectStatus", async () => {
    const { seen } = stubFetch(() => new Response(null, { status: 302, headers: { location: "http://127.0.0.1/admin" } }));
    const err = await failure(run(task("http", { url: "https://example.com/r" })));
    expect(err.message).toContain("answered 302");
    expect(seen).toHaveLength(1);
    expect(seen[0].redirect).toBe("manual");
    const ok = await run(task("http", { url: "https://example.com/r", expectStatus: "300..399" }));
    expect(ok.result).toMatchObject({ status: 302, headers: { location: "http://127.0.0.1/admin" } });
    expect(seen).toHaveLength(2);
  });

  it("refuses guarded targets and sends nothing", async () => {
    const { spy } = stubFetch(() => new Response("should not be sent"));
    for (const url of [
      "http://169.254.169.254/latest/meta-data/",
      "http://10.0.0.1/",
      "http://[::ffff:127.0.0.2]/",
      "http://db.internal/",
      "file:///etc/passwd",
    ]) {
      const err = await failure(run(task("http", { url })));
      expect(err.message, url).toMatch(/^http request not sent: /);
    }
    // a templated URL is checked after rendering
    const s = { ...scope, params: { ...scope.params, host: "192.168.0.10" } };
    const err = await failure(run(task("http", { url: "http://{{params.host}}/x" }), s));
    expect(err.message).toContain("private");
    expect(spy).not.toHaveBeenCalled();
  });

  it("reaches hosts listed in HTTP_TASK_ALLOW_HOSTS", async () => {
    const { seen } = stubFetch(() => new Response("ok"));
    await run(task("http", { url: "http://127.0.0.1:8788/hook" }));
    await run(task("http", { url: "http://localhost:8788/hook" }));
    expect(seen.map((s) => s.url)).toEqual(["http://127.0.0.1:8788/hook", "http://localhost:8788/hook"]);
  });

  it("fails on a bad rendered method or a body on GET", async () => {
    const { spy } = stubFetch(() => new Response("x"));
    const s = { ...scope, params: { ...scope.params, m: "TRACE" } };
    expect((await failure(run(task("http", { method: "{{params.m}}", url: "https://example.com/" }), s))).message).toContain("TRACE");
    const g = { ...scope, params: { ...scope.params, m: "get" } };
    expect((await failure(run(task("http", { method: "{{params.m}}", url: "https://example.com/", body: { a: 1 } }), g))).message).toContain("GET");
    expect(spy).not.toHaveBeenCalled();
  });

  it("fails on network errors", async () => {
    vi.spyOn(globalThis, "fetch").mockRejectedValue(new TypeError("Network connection lost."));
    const err = await failure(run(task("http", { url: "https://example.com/x" })));
    expect(err.message).toBe("GET https://example.com/x failed: Network connection lost.");
  });

  /** A fetch that never answers until its signal aborts. */
  const hangingFetch = () =>
    vi.spyOn(globalThis, "fetch").mockImplementation(
      (_input: any, init?: any) =>
        new Promise<Response>((_resolve, reject) => {
          const signal: AbortSignal = init.signal;
          signal.addEventListener("abort", () => reject(signal.reason), { once: true });
        }),
    );

  it("aborts the request when the engine's signal aborts", async () => {
    hangingFetch();
    const ctrl = new AbortController();
    const pending = run(task("http", { url: "https://example.com/slow" }), scope, ctrl.signal);
    setTimeout(() => ctrl.abort(new Error("job cancelled")), 20);
    const err = await failure(pending);
    expect(err.message).toBe("GET https://example.com/slow aborted: job cancelled");
  });

  it("aborts the request after the task's own timeout", async () => {
    hangingFetch();
    const started = Date.now();
    const err = await failure(run(task("http", { url: "https://example.com/slow" }, { timeout: 1 })));
    expect(err.message).toBe("GET https://example.com/slow timed out after 1 s");
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it("aborts a body that stalls", async () => {
    vi.spyOn(globalThis, "fetch").mockImplementation(async () => {
      const stream = new ReadableStream<Uint8Array>({
        start(c) {
          c.enqueue(new TextEncoder().encode("partial"));
        }, // never closes
      });
      return new Response(stream);
    });
    const ctrl = new AbortController();
    const pending = run(task("http", { url: "https://example.com/stall" }), scope, ctrl.signal);
    setTimeout(() => ctrl.abort(new Error("job timed out")), 20);
    expect((await failure(pending)).message).toContain("aborted: job timed out");
  });
});

describe("executeTask: content", () => {
  async function setup() {
    const module = await makeModule("Lead", [
      { name: "title", kind: "text", isRequired: true },
      { name: "value", kind: "number" },
    ]);
    return module.moduleID as string;
  }

  it("creates, updates and deletes items through the content service", async () => {
    const moduleID = await setup();
    const s: TemplateScope = { ...scope, params: { ...scope.params, m: moduleID } };
    const created = await run(
      task("content.create", { moduleID: "{{params.m}}", fields: { title: "Lead {{params.leadID}}", value: "{{tasks.prev.body.id}}" } }),
      s,
    );
    const item = created.result as any;
    expect(item).toMatchObject({
      moduleID,
      userID: "5",
      fields: [
        { name: "title", value: "Lead 42" },
        { name: "value", value: 7 },
      ],
    });
    const read = await call(`/module/${moduleID}/content/${item.contentID}`);
    expect(read.json.response).toEqual(item);

    const s2: TemplateScope = { ...s, tasks: { ...s.tasks, make: item } };
    const updated = await run(task("content.update", { moduleID, contentID: "{{tasks.make.contentID}}", fields: [{ name: "title", value: "Changed" }] }), s2);
    expect((updated.result as any).fields).toEqual([{ name: "title", value: "Changed" }]);
    expect((updated.result as any).createdAt).toBe(item.createdAt);

    expect(await run(task("content.delete", { moduleID, contentID: item.contentID }), s2)).toEqual({});
    expect((await call(`/module/${moduleID}/content/${item.contentID}`)).status).toBe(404);
  });

  it("a task run again after its write committed answers that write instead of writing twice", async () => {
    const moduleID = await setup();
    const identity = (index: number, attempt: number): TaskIdentity => ({ jobID: "77", phase: "main", index, attempt, idempotencyKey: `key-${index}` });
    const again = (t: TaskDefinition, index: number, attempt: number) => executeTask(env, t, scope, new AbortController().signal, identity(index, attempt));
    // Attempt 1 writes and its outcome is lost with its Durable Object instance; attempt 2 runs the task again.
    const create = task("content.create", { moduleID, fields: { title: "once" } });
    const first = (await again(create, 0, 1)).result as any;
    const second = (await again(create, 0, 2)).result as any;
    expect(second.contentID).toBe(first.contentID);
    expect((await call(`/module/${moduleID}/content`)).json.response.meta.count).toBe(1);

    const update = task("content.update", { moduleID, contentID: first.contentID, fields: { title: "updated" } });
    await again(update, 1, 1);
    await call(`/module/${moduleID}/content/${first.contentID}`, { body: { fields: { title: "edited by a user since" } } });
    const updatedAgain = (await again(update, 1, 2)).result as any;
    expect(updatedAgain.fields).toEqual([{ name: "title", value: "edited by a user since" }]);

    const remove = task("content.delete", { moduleID, contentID: first.contentID });
    await again(remove, 2, 1);
    await again(remove, 2, 2); // not "not found": the delete it repeats has happened
    expect((await call(`/module/${moduleID}/content/${first.contentID}`)).status).toBe(404);

    // Another task (another key) is another write.
    const other = (await again(create, 3, 1)).result as any;
    expect(other.contentID).not.toBe(first.contentID);
  });

  it("uses userID 0 when the engine gives no job owner", async () => {
    const moduleID = await setup();
    const { result } = await run(task("content.create", { moduleID, fields: { title: "x" } }), { params: {}, job: { jobID: "1" }, tasks: {} });
    expect((result as any).userID).toBe("0");
  });

  it("turns the service's refusals into TaskFailures with their details, and writes nothing", async () => {
    const moduleID = await setup();
    const invalid = await failure(run(task("content.create", { moduleID, fields: { value: "not a number", nope: 1 } })));
    expect(invalid.data).toMatchObject({ status: 400, details: expect.any(Array) });
    const paths = (invalid.data as any).details.map((d: any) => d.path);
    expect(paths.join(" ")).toContain("value");
    expect((await call(`/module/${moduleID}/content`)).json.response.meta.count).toBe(0);

    const missing = await failure(run(task("content.update", { moduleID, contentID: "999999", fields: { title: "x" } })));
    expect(missing.data).toMatchObject({ status: 404, code: "not_found" });
    const gone = await failure(run(task("content.delete", { moduleID: "999999", contentID: "1" })));
    expect(gone.message).toContain("not found");
    const badId = await failure(run(task("content.delete", { moduleID, contentID: "{{params.host}}" })));
    expect(badId.message).toContain("not a positive integer ID");
  });
});

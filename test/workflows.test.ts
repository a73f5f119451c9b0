import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { getDb } from "../src/db/client";
import { ApiError } from "../src/http/errors";
import { snapshotOf } from "../src/jobs/snapshot";
import { findWorkflow, getWorkflow } from "../src/workflows/service";
import { call, makeModule } from "./helpers";

const notify = {
  name: "notify",
  kind: "http",
  options: { method: "POST", url: "https://hooks.example.com/x", body: { lead: "{{params.leadID}}" } },
  retries: [1, 5, 30],
  timeout: 10,
};

async function makeWorkflow(body: Record<string, unknown> = { name: "W", tasks: [notify] }) {
  const res = await call("/workflow/", { body });
  if (res.status !== 201) throw new Error(`workflow create failed: ${res.status} ${res.text}`);
  return res.json.response;
}

async function insertJob(workflowId: number, status: string) {
  const now = new Date().toISOString();
  await env.DB.prepare("insert into jobs (workflow_id, status, start_at, created_at, updated_at) values (?, ?, ?, ?, ?)")
    .bind(workflowId, status, now, now, now)
    .run();
}

/** Asserts a 400 with the envelope and a details entry at each path; answers the details. */
async function expectInvalid(body: unknown, paths: string[], init: { path?: string } = {}) {
  const before = (await call("/workflow/")).text;
  const res = await call(init.path ?? "/workflow/", { body });
  expect(res.status, res.text).toBe(400);
  expect((await call("/workflow/")).text, "a refused request changes nothing").toBe(before);
  expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
  expect(res.json.error.code).toMatch(/^invalid_/);
  expect(typeof res.json.error.message).toBe("string");
  const got = res.json.error.details.map((d: { path: string }) => d.path);
  for (const p of paths) expect(got, JSON.stringify(res.json.error.details)).toContain(p);
  for (const d of res.json.error.details) expect(typeof d.message).toBe("string");
  return res.json.error.details as { path: string; message: string }[];
}

const count = async () => (await call("/workflow/")).json.response.length;

describe("workflow CRUD", () => {
  it("creates a workflow as the contract shows it", async () => {
    const module = await makeModule("Lead", [{ name: "status", kind: "text" }]);
    const res = await call("/workflow/", {
      body: {
        name: "Welcome new lead",
        timeout: 300,
        tasks: [notify],
        onError: [
          {
            name: "mark",
            kind: "content.update",
            options: { moduleID: module.moduleID, contentID: "{{params.leadID}}", fields: { status: "notify failed" } },
          },
        ],
      },
    });
    expect(res.status, res.text).toBe(201);
    expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
    const w = res.json.response;
    expect(w).toEqual({
      workflowID: expect.stringMatching(/^[1-9][0-9]*$/),
      name: "Welcome new lead",
      timeout: 300,
      tasks: [notify],
      onError: [
        {
          name: "mark",
          kind: "content.update",
          options: { moduleID: module.moduleID, contentID: "{{params.leadID}}", fields: { status: "notify failed" } },
          retries: [],
          timeout: 30,
        },
      ],
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      updatedAt: expect.any(String),
    });
    expect(w.createdAt).toBe(w.updatedAt);
    const read = await call(`/workflow/${w.workflowID}`);
    expect(read.status).toBe(200);
    expect(read.json.response).toEqual(w);
  });

  it("needs only a name and fills the defaults", async () => {
    const res = await call("/workflow/", { body: { name: "  Empty  " } });
    expect(res.status).toBe(201);
    expect(res.json.response).toMatchObject({ name: "Empty", timeout: 3600, tasks: [], onError: [] });
  });

  it("fills task defaults and normalises options", async () => {
    const w = await makeWorkflow({
      name: "Defaults",
      tasks: [
        { name: "get", kind: "http", options: { url: "https://api.example.com/a", extra: "ignored" } },
        { name: "put", kind: "http", options: { method: "put", url: "https://api.example.com/a", body: [1] } },
        { name: "say", kind: "log", options: { message: "hi" } },
        { name: "wait", kind: "delay", options: { seconds: 0 } },
        { name: "make", kind: "content.create", options: { moduleID: "{{params.m}}", fields: [{ name: "a", value: 1 }] } },
        { name: "del", kind: "content.delete", options: { moduleID: "{{params.m}}", contentID: 12 } },
        { name: "stop", kind: "fail", options: { message: "stop" } },
      ],
    });
    expect(w.tasks[0]).toEqual({ name: "get", kind: "http", options: { method: "GET", url: "https://api.example.com/a" }, retries: [], timeout: 30 });
    expect(w.tasks[1].options.method).toBe("PUT");
    expect(w.tasks[5].options.contentID).toBe("12");
  });

  it("accepts forms with tasks and onError as JSON strings", async () => {
    const res = await call("/workflow/", {
      form: { name: "Form", timeout: "120", tasks: JSON.stringify([notify]), onError: JSON.stringify([{ name: "x", kind: "log", options: { message: "m" } }]) },
    });
    expect(res.status, res.text).toBe(201);
    expect(res.json.response.timeout).toBe(120);
    expect(res.json.response.tasks).toEqual([notify]);
    expect(res.json.response.onError[0].name).toBe("x");
  });

  it("lists workflows oldest first", async () => {
    const a = await makeWorkflow({ name: "A" });
    const b = await makeWorkflow({ name: "B" });
    const res = await call("/workflow");
    expect(res.status).toBe(200);
    const ids = res.json.response.map((w: any) => w.workflowID);
    expect(ids.indexOf(a.workflowID)).toBeLessThan(ids.indexOf(b.workflowID));
    expect(ids).toEqual([...ids].sort((x: string, y: string) => Number(x) - Number(y)));
  });

  it("replaces a workflow", async () => {
    const w = await makeWorkflow();
    await new Promise((r) => setTimeout(r, 5));
    const res = await call(`/workflow/${w.workflowID}`, { body: { name: "Renamed", tasks: [{ name: "a", kind: "log", options: { message: "x" } }] } });
    expect(res.status, res.text).toBe(200);
    expect(res.json.response).toMatchObject({ workflowID: w.workflowID, name: "Renamed", timeout: 3600, onError: [], createdAt: w.createdAt });
    expect(res.json.response.tasks).toHaveLength(1);
    expect(res.json.response.updatedAt > w.updatedAt).toBe(true);
    expect((await call(`/workflow/${w.workflowID}`)).json.response.name).toBe("Renamed");
  });

  it("deletes a workflow", async () => {
    const w = await makeWorkflow();
    const res = await call(`/workflow/${w.workflowID}`, { method: "DELETE" });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ success: { message: "OK" } });
    expect((await call(`/workflow/${w.workflowID}`)).status).toBe(404);
    expect((await call(`/workflow/${w.workflowID}`, { method: "DELETE" })).status).toBe(404);
  });

  it("refuses to delete a workflow with queued or running jobs (409), allows it once they are final", async () => {
    const w = await makeWorkflow();
    const id = Number(w.workflowID);
    await insertJob(id, "ok");
    await insertJob(id, "queued");
    const res = await call(`/workflow/${id}/`, { method: "DELETE" });
    expect(res.status).toBe(409);
    expect(res.json.error.code).toBe("workflow_in_use");
    expect((await call(`/workflow/${id}`)).status).toBe(200);

    await env.DB.prepare("update jobs set status = 'running' where workflow_id = ?").bind(id).run();
    expect((await call(`/workflow/${id}`, { method: "DELETE" })).status).toBe(409);

    await env.DB.prepare("update jobs set status = 'cancelled' where workflow_id = ?").bind(id).run();
    expect((await call(`/workflow/${id}`, { method: "DELETE" })).status).toBe(200);
  });

  it("answers 404 for unknown and 400 for malformed IDs", async () => {
    for (const method of ["GET", "DELETE"]) {
      expect((await call("/workflow/987654", { method })).status).toBe(404);
      const bad = await call("/workflow/abc", { method });
      expect(bad.status).toBe(400);
      expect(bad.json.error.code).toBe("invalid_id");
    }
    expect((await call("/workflow/987654", { body: { name: "x" } })).status).toBe(404);
    expect((await call("/workflow/0", { body: { name: "x" } })).status).toBe(400);
  });

  it("is documented in /openapi.json", async () => {
    const doc = (await call("/openapi.json", { token: null })).json;
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(["/workflow/", "/workflow/{workflowID}"]));
    expect(doc.components.schemas).toHaveProperty("Workflow");
    expect(doc.components.schemas).toHaveProperty("WorkflowTask");
    const body = doc.paths["/workflow/"].post.requestBody.content["application/json"].schema;
    expect(body.required).toEqual(["name"]);
    expect(body.properties.tasks.items).toEqual({ $ref: "#/components/schemas/WorkflowTaskInput" });
    expect(doc.components.schemas.WorkflowTaskInput.required).toEqual(["name", "kind"]);
  });
});

describe("workflow validation", () => {
  it("requires a name", async () => {
    await expectInvalid({}, ["name"]);
    await expectInvalid({ name: "   " }, ["name"]);
    await expectInvalid({ name: 5 }, ["name"]);
  });

  it("checks the workflow timeout", async () => {
    for (const timeout of [0, -1, 1.5, "abc", 366 * 86400 + 1, null]) await expectInvalid({ name: "x", timeout }, ["timeout"]);
    expect((await call("/workflow/", { body: { name: "x", timeout: 366 * 86400 } })).status).toBe(201);
  });

  it("takes the timeout's string spelling only from a form, never from a JSON body", async () => {
    for (const timeout of ["10", " 120 ", "1e3"]) {
      const details = await expectInvalid({ name: "x", timeout }, ["timeout"]);
      expect(details, timeout).toEqual([{ path: "timeout", message: "must be an integer number of seconds" }]);
    }
    const made = await call("/workflow/", { body: { name: "x", timeout: 10 } });
    expect(made.status).toBe(201);
    const id = made.json.response.workflowID;
    const replace = await call(`/workflow/${id}`, { body: { name: "x", timeout: "20" } });
    expect(replace.status).toBe(400);
    expect(replace.json.error.details).toEqual([{ path: "timeout", message: "must be an integer number of seconds" }]);
    expect((await call(`/workflow/${id}`)).json.response.timeout).toBe(10);
    const form = await call(`/workflow/${id}`, { form: { name: "x", timeout: "20" } });
    expect(form.status, form.text).toBe(200);
    expect(form.json.response.timeout).toBe(20);
    const badForm = await call("/workflow/", { form: { name: "x", timeout: "1.5" } });
    expect(badForm.json.error.details).toEqual([{ path: "timeout", message: "must be an integer number of seconds" }]);
    expect((await call("/workflow/", { body: { name: "x" } })).json.response.timeout).toBe(3600);
  });

  it("requires tasks and onError to be arrays of task objects", async () => {
    await expectInvalid({ name: "x", tasks: { a: 1 } }, ["tasks"]);
    await expectInvalid({ name: "x", onError: "nope" }, ["onError"]);
    await expectInvalid({ name: "x", tasks: [5, null] }, ["tasks[0]", "tasks[1]"]);
    await expectInvalid({ name: "x", tasks: Array.from({ length: 101 }, (_, i) => ({ name: `t${i}`, kind: "log", options: { message: "m" } })) }, ["tasks"]);
    const bad = await call("/workflow/", { form: { name: "x", tasks: "[not json" } });
    expect(bad.status).toBe(400);
    expect(bad.json.error.details[0].path).toBe("tasks");
  });

  it("checks task names: present, well formed, unique in their list", async () => {
    const log = (name: unknown) => ({ name, kind: "log", options: { message: "m" } });
    await expectInvalid({ name: "x", tasks: [{ kind: "log", options: { message: "m" } }] }, ["tasks[0].name"]);
    await expectInvalid({ name: "x", tasks: [log("")] }, ["tasks[0].name"]);
    await expectInvalid({ name: "x", tasks: [log("a.b")] }, ["tasks[0].name"]);
    await expectInvalid({ name: "x", tasks: [log(7)] }, ["tasks[0].name"]);
    const details = await expectInvalid({ name: "x", tasks: [log("a"), log("b"), log("a")] }, ["tasks[2].name"]);
    expect(details[0].message).toContain("tasks[0]");
    await expectInvalid({ name: "x", onError: [log("a"), log("a")] }, ["onError[1].name"]);
    // the same name in both lists is fine
    expect((await call("/workflow/", { body: { name: "x", tasks: [log("a")], onError: [log("a")] } })).status).toBe(201);
  });

  it("refuses unknown kinds", async () => {
    const d = await expectInvalid({ name: "x", tasks: [{ name: "a", kind: "email", options: {} }] }, ["tasks[0].kind"]);
    expect(d[0].message).toContain("log, delay, http");
    await expectInvalid({ name: "x", tasks: [{ name: "a", options: {} }] }, ["tasks[0].kind"]);
  });

  it("checks retries and the task timeout", async () => {
    const t = (extra: Record<string, unknown>) => ({ name: "x", tasks: [{ name: "a", kind: "log", options: { message: "m" }, ...extra }] });
    await expectInvalid(t({ retries: Array(11).fill(1) }), ["tasks[0].retries"]);
    await expectInvalid(t({ retries: [1, 86401] }), ["tasks[0].retries[1]"]);
    await expectInvalid(t({ retries: [-1] }), ["tasks[0].retries[0]"]);
    await expectInvalid(t({ retries: ["5"] }), ["tasks[0].retries[0]"]);
    await expectInvalid(t({ retries: 5 }), ["tasks[0].retries"]);
    await expectInvalid(t({ timeout: 0 }), ["tasks[0].timeout"]);
    await expectInvalid(t({ timeout: 901 }), ["tasks[0].timeout"]);
    await expectInvalid(t({ timeout: "10" }), ["tasks[0].timeout"]);
    const ok = await call("/workflow/", { body: t({ retries: Array(10).fill(86400), timeout: 900 }) });
    expect(ok.status).toBe(201);
  });

  it("checks options of log, delay and fail", async () => {
    const one = (kind: string, options: unknown) => ({ name: "x", tasks: [{ name: "a", kind, options }] });
    await expectInvalid(one("log", {}), ["tasks[0].options.message"]);
    await expectInvalid(one("log", { message: 5 }), ["tasks[0].options.message"]);
    await expectInvalid(one("log", "hello"), ["tasks[0].options"]);
    await expectInvalid(one("fail", {}), ["tasks[0].options.message"]);
    await expectInvalid(one("delay", {}), ["tasks[0].options.seconds"]);
    await expectInvalid(one("delay", { seconds: "10" }), ["tasks[0].options.seconds"]);
    await expectInvalid(one("delay", { seconds: -1 }), ["tasks[0].options.seconds"]);
    await expectInvalid(one("delay", { seconds: 31536001 }), ["tasks[0].options.seconds"]);
    expect((await call("/workflow/", { body: one("delay", { seconds: 31536000 }) })).status).toBe(201);
  });

  it("checks options of http", async () => {
    const http = (options: unknown) => ({ name: "x", tasks: [{ name: "a", kind: "http", options }] });
    await expectInvalid(http({}), ["tasks[0].options.url"]);
    await expectInvalid(http({ url: "ftp://example.com/x" }), ["tasks[0].options.url"]);
    await expectInvalid(http({ url: "/relative" }), ["tasks[0].options.url"]);
    await expectInvalid(http({ url: "https://" }), ["tasks[0].options.url"]);
    await expectInvalid(http({ url: "https://example.com", method: "TRACE" }), ["tasks[0].options.method"]);
    await expectInvalid(http({ url: "https://example.com", method: 1 }), ["tasks[0].options.method"]);
    await expectInvalid(http({ url: "https://example.com", headers: { "x-a": 1 } }), ["tasks[0].options.headers.x-a"]);
    await expectInvalid(http({ url: "https://example.com", headers: ["a"] }), ["tasks[0].options.headers"]);
    await expectInvalid(http({ url: "https://example.com", headers: { "bad name": "x" } }), ["tasks[0].options.headers.bad name"]);
    await expectInvalid(http({ url: "https://example.com", body: { a: 1 } }), ["tasks[0].options.body"]);
    for (const expectStatus of [99, 600, "200-299", "299..200", [], [200, "abc"], 200.5, true]) {
      await expectInvalid(http({ url: "https://example.com", expectStatus }), ["tasks[0].options.expectStatus"]);
    }
    for (const expectStatus of [204, "200..399", [200, 404, "500..599"]]) {
      const ok = await call("/workflow/", { body: http({ url: "https://example.com", expectStatus }) });
      expect(ok.status, ok.text).toBe(201);
      expect(ok.json.response.tasks[0].options.expectStatus).toEqual(expectStatus);
    }
    // templates in the URL, headers, method and body are fine
    const templated = await call("/workflow/", {
      body: http({
        method: "{{params.method}}",
        url: "https://{{params.host}}/x/{{job.jobID}}",
        headers: { authorization: "Bearer {{params.token}}" },
        body: { a: ["{{params.a}}"] },
      }),
    });
    expect(templated.status, templated.text).toBe(201);
    expect((await call("/workflow/", { body: http({ url: "{{params.url}}" }) })).status).toBe(201);
  });

  it("refuses literal http targets the outbound guard would refuse", async () => {
    const http = (url: string) => ({ name: "x", tasks: [{ name: "a", kind: "http", options: { url } }] });
    for (const url of ["http://10.0.0.1/", "http://169.254.169.254/latest/meta-data", "http://[::1]/", "https://db.internal/", "http://0x7f000002/"]) {
      const d = await expectInvalid(http(url), ["tasks[0].options.url"]);
      expect(d[0].message).toContain("refused");
    }
    // hosts of HTTP_TASK_ALLOW_HOSTS pass
    expect((await call("/workflow/", { body: http("http://127.0.0.1:8788/hook") })).status).toBe(201);
    expect((await call("/workflow/", { body: http("http://test.local/hook") })).status).toBe(201);
  });

  it("checks options of content tasks", async () => {
    const m = await makeModule("Target");
    const one = (kind: string, options: unknown) => ({ name: "x", tasks: [{ name: "a", kind, options }] });
    await expectInvalid(one("content.create", {}), ["tasks[0].options.moduleID", "tasks[0].options.fields"]);
    await expectInvalid(one("content.create", { moduleID: "abc", fields: {} }), ["tasks[0].options.moduleID"]);
    await expectInvalid(one("content.create", { moduleID: m.moduleID, fields: "x" }), ["tasks[0].options.fields"]);
    await expectInvalid(one("content.create", { moduleID: m.moduleID, fields: [{ value: 1 }] }), ["tasks[0].options.fields[0]"]);
    await expectInvalid(one("content.create", { moduleID: "999999", fields: {} }), ["tasks[0].options.moduleID"]);
    await expectInvalid(one("content.update", { moduleID: m.moduleID, fields: {} }), ["tasks[0].options.contentID"]);
    await expectInvalid(one("content.update", { moduleID: m.moduleID, contentID: 0, fields: {} }), ["tasks[0].options.contentID"]);
    await expectInvalid(one("content.update", { moduleID: m.moduleID, contentID: "1" }), ["tasks[0].options.fields"]);
    await expectInvalid(one("content.delete", { contentID: "1" }), ["tasks[0].options.moduleID"]);
    await expectInvalid(one("content.create", { moduleID: m.moduleID, fields: "title={{params.t}}" }), ["tasks[0].options.fields"]);
    const whole = await call("/workflow/", {
      body: {
        name: "x",
        tasks: [
          { name: "get", kind: "http", options: { url: "https://e.com" } },
          { name: "a", kind: "content.create", options: { moduleID: m.moduleID, fields: "{{tasks.get.body}}" } },
        ],
      },
    });
    expect(whole.status, whole.text).toBe(201);
    await expectInvalid(one("content.create", { moduleID: m.moduleID, fields: "{{tasks.nope.body}}" }), ["tasks[0].options.fields"]);
    const ok = await call("/workflow/", { body: one("content.update", { moduleID: Number(m.moduleID), contentID: "{{params.id}}", fields: { title: "x" } }) });
    expect(ok.status, ok.text).toBe(201);
    expect(ok.json.response.tasks[0].options.moduleID).toBe(m.moduleID);
  });

  it("checks templates: known roots, earlier tasks only, tasks with results", async () => {
    const http = (name: string, url: string) => ({ name, kind: "http", options: { url } });
    const log = (name: string, message: string) => ({ name, kind: "log", options: { message } });
    await expectInvalid({ name: "x", tasks: [log("a", "{{user.name}}")] }, ["tasks[0].options.message"]);
    await expectInvalid({ name: "x", tasks: [log("a", "{{}}")] }, ["tasks[0].options.message"]);
    await expectInvalid({ name: "x", tasks: [log("a", "{{params}}")] }, ["tasks[0].options.message"]);
    await expectInvalid({ name: "x", tasks: [log("a", "{{params.a.b}}")] }, ["tasks[0].options.message"]);
    await expectInvalid({ name: "x", tasks: [log("a", "{{job.status}}")] }, ["tasks[0].options.message"]);
    await expectInvalid({ name: "x", tasks: [log("a", "{{tasks}}")] }, ["tasks[0].options.message"]);
    await expectInvalid({ name: "x", tasks: [log("a", "{{params..x}}")] }, ["tasks[0].options.message"]);
    // a later task, itself, an unknown task
    let d = await expectInvalid({ name: "x", tasks: [log("a", "{{tasks.b.status}}"), http("b", "https://example.com")] }, ["tasks[0].options.message"]);
    expect(d[0].message).toContain("does not run before");
    d = await expectInvalid({ name: "x", tasks: [http("b", "https://example.com/{{tasks.b.status}}")] }, ["tasks[0].options.url"]);
    expect(d[0].message).toContain("own result");
    d = await expectInvalid({ name: "x", tasks: [log("a", "{{tasks.zzz.body}}")] }, ["tasks[0].options.message"]);
    expect(d[0].message).toContain("no task 'zzz'");
    // a task without a result
    d = await expectInvalid({ name: "x", tasks: [log("a", "x"), log("b", "{{tasks.a}}")] }, ["tasks[1].options.message"]);
    expect(d[0].message).toContain("no result");
    // nested paths are reported precisely
    await expectInvalid(
      { name: "x", tasks: [{ name: "h", kind: "http", options: { method: "POST", url: "https://e.com", body: { a: [{ b: "{{nope.x}}" }] } } }] },
      ["tasks[0].options.body.a[0].b"],
    );
    // onError may name any task of `tasks` and earlier onError tasks, but not later ones
    const ok = await call("/workflow/", {
      body: {
        name: "x",
        tasks: [http("first", "https://example.com"), http("second", "https://example.com")],
        onError: [http("h1", "https://example.com/{{tasks.second.status}}"), log("h2", "{{tasks.h1.body}} {{tasks.first.body.id}} {{params.x}} {{job.jobID}}")],
      },
    });
    expect(ok.status, ok.text).toBe(201);
    await expectInvalid({ name: "x", tasks: [log("a", "x")], onError: [log("h1", "{{tasks.h2.body}}"), http("h2", "https://example.com")] }, [
      "onError[0].options.message",
    ]);
    // a name in both lists means the task of `tasks`, as the engine resolves it
    expect(
      (await call("/workflow/", { body: { name: "x", tasks: [http("a", "https://example.com")], onError: [log("a", "x"), log("b", "{{tasks.a.status}}")] } }))
        .status,
    ).toBe(201);
    d = await expectInvalid({ name: "x", tasks: [log("a", "x")], onError: [http("a", "https://example.com"), log("b", "{{tasks.a.status}}")] }, [
      "onError[1].options.message",
    ]);
    expect(d[0].message).toContain("log task has no result");
  });

  it("reports every problem at once and changes nothing", async () => {
    const w = await makeWorkflow();
    const before = await count();
    const body = {
      name: "",
      timeout: 0,
      tasks: [
        { name: "a", kind: "log", options: {} },
        { name: "a", kind: "nope" },
        { name: "c", kind: "http", options: { url: "x" }, retries: [99999], timeout: 0 },
      ],
      onError: [{ name: "h", kind: "fail", options: { message: "{{tasks.zz.x}}" } }],
    };
    const details = await expectInvalid(body, ["name", "timeout"]);
    expect(details.length).toBeGreaterThanOrEqual(2);
    // task problems come with a valid name/timeout
    const tasksOnly = await expectInvalid({ ...body, name: "ok", timeout: 10 }, [
      "tasks[0].options.message",
      "tasks[1].name",
      "tasks[1].kind",
      "tasks[2].options.url",
      "tasks[2].retries[0]",
      "tasks[2].timeout",
      "onError[0].options.message",
    ]);
    expect(tasksOnly.length).toBe(7);
    const replace = await expectInvalid({ ...body, name: "ok", timeout: 10 }, ["tasks[0].options.message"], { path: `/workflow/${w.workflowID}` });
    expect(replace.length).toBe(7);
    expect(await count()).toBe(before);
    expect((await call(`/workflow/${w.workflowID}`)).json.response).toEqual(w);
  });
});

describe("workflow service for the job engine", () => {
  it("getWorkflow + snapshotOf give a deep copy typed WorkflowSnapshot", async () => {
    const w = await makeWorkflow({ name: "Snap", timeout: 60, tasks: [notify], onError: [{ name: "m", kind: "log", options: { message: "x" } }] });
    const db = getDb(env);
    const found = await getWorkflow(db, Number(w.workflowID));
    const snapshot = snapshotOf(found);
    expect(snapshot).toEqual({ workflowID: w.workflowID, name: "Snap", timeout: 60, tasks: w.tasks, onError: w.onError });
    (snapshot.tasks[0].options as any).url = "changed";
    expect((found.tasks[0].options as any).url).toBe(notify.options.url);
    // replacing the workflow does not change a snapshot taken before
    await call(`/workflow/${w.workflowID}`, { body: { name: "Snap 2" } });
    expect(snapshotOf(found).name).toBe("Snap");
    expect((await getWorkflow(db, Number(w.workflowID))).tasks).toEqual([]);
  });

  it("getWorkflow throws a 404 ApiError, findWorkflow answers undefined", async () => {
    const db = getDb(env);
    await expect(getWorkflow(db, 987654)).rejects.toBeInstanceOf(ApiError);
    await expect(getWorkflow(db, 987654)).rejects.toMatchObject({ status: 404, code: "not_found" });
    expect(await findWorkflow(db, 987654)).toBeUndefined();
  });
});

// D1 sessions: every request runs in one session; its bookmark travels in x-d1-bookmark.
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../src/index";
import { call, makeModule, token } from "./helpers";

const BOOKMARK = /^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{32}$/;

/** An env whose D1 records the constraint of every session opened on it. */
function recordingEnv() {
  const constraints: (string | undefined)[] = [];
  const DB = new Proxy(env.DB, {
    get(target, prop) {
      if (prop === "withSession") {
        return (c?: string) => {
          constraints.push(c);
          return target.withSession(c as any);
        };
      }
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { env: { ...env, DB } as Env, constraints };
}

async function raw(path: string, init: RequestInit & { bookmark?: string } = {}) {
  const headers = new Headers(init.headers);
  headers.set("authorization", `Bearer ${await token()}`);
  if (init.bookmark !== undefined) headers.set("x-d1-bookmark", init.bookmark);
  if (init.body) headers.set("content-type", "application/json");
  return exports.default.fetch(new Request(`http://x${path}`, { ...init, headers }));
}

describe("x-d1-bookmark", () => {
  it("is on every answer that read or wrote D1, success or error", async () => {
    const m = await makeModule("Sessions", [{ name: "name", kind: "text" }]);
    for (const res of [
      await raw(`/module/${m.moduleID}/content`),
      await raw(`/module/${m.moduleID}/content`, { method: "POST", body: JSON.stringify({ fields: { name: "a" } }) }),
      await raw(`/module/${m.moduleID}/content/999999`),
      await raw(`/module/`),
    ]) {
      expect(res.headers.get("x-d1-bookmark"), `${res.status}`).toMatch(BOOKMARK);
    }
  });

  it("sent back, lets the next request read what the previous one wrote", async () => {
    const m = await makeModule("ReadYourWrites", [{ name: "name", kind: "text" }]);
    const write = await raw(`/module/${m.moduleID}/content`, { method: "POST", body: JSON.stringify({ fields: { name: "mine" } }) });
    expect(write.status).toBe(201);
    const bookmark = write.headers.get("x-d1-bookmark")!;
    const id = ((await write.json()) as any).response.contentID;
    const read = await raw(`/module/${m.moduleID}/content/${id}`, { bookmark });
    expect(read.status).toBe(200);
    // The session only moves forward: the answer's bookmark is at least the one sent.
    expect(read.headers.get("x-d1-bookmark")! >= bookmark).toBe(true);
  });

  it("refuses a malformed bookmark with 400 before touching D1", async () => {
    const m = await makeModule("BadBookmark", [{ name: "name", kind: "text" }]);
    const before = (await call(`/module/${m.moduleID}/content`)).json.response.meta.count;
    for (const bad of [
      "garbage",
      "first-primary",
      "00000000-0000000c-00000000",
      `${"0".repeat(8)}-${"0".repeat(8)}-${"0".repeat(8)}-${"g".repeat(32)}`,
      "x".repeat(5000),
    ]) {
      const res = await raw(`/module/${m.moduleID}/content`, { method: "POST", body: JSON.stringify({ fields: { name: "no" } }), bookmark: bad });
      expect(res.status, bad).toBe(400);
      const body = (await res.json()) as any;
      expect(body.error.code).toBe("invalid_bookmark");
      expect(body.error.details[0].path).toBe("x-d1-bookmark");
    }
    expect((await call(`/module/${m.moduleID}/content`)).json.response.meta.count).toBe(before);
  });

  it("starts GETs anywhere, writes at the primary, and a bookmarked request at its bookmark", async () => {
    const rec = recordingEnv();
    const ctx = createExecutionContext();
    const get = async (init: RequestInit = {}, bookmark?: string) => {
      const headers = new Headers(init.headers);
      headers.set("authorization", `Bearer ${await token()}`);
      if (bookmark) headers.set("x-d1-bookmark", bookmark);
      if (init.body) headers.set("content-type", "application/json");
      return worker.fetch(new Request("http://x/module/", { ...init, headers }), rec.env, ctx);
    };
    await get();
    await get({ method: "POST", body: JSON.stringify({ name: "Recorded", fields: [{ name: "a", kind: "text" }] }) });
    const bookmark = (await get()).headers.get("x-d1-bookmark")!;
    await get({}, bookmark);
    await waitOnExecutionContext(ctx);
    expect(rec.constraints).toEqual(["first-unconstrained", "first-primary", "first-unconstrained", bookmark]);
  });
});

describe("paths outside requests", () => {
  it("read the primary: the cron sweeps of jobs and schedules", async () => {
    const rec = recordingEnv();
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ scheduledTime: Date.now(), cron: "* * * * *" }), rec.env, ctx);
    await waitOnExecutionContext(ctx);
    expect(rec.constraints.length).toBeGreaterThan(0);
    expect(new Set(rec.constraints)).toEqual(new Set(["first-primary"]));
  });
});

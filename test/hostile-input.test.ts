// Requests a single hostile token can send: each must be refused promptly and cleanly, without
// hanging the isolate, exhausting its memory or leaving anything behind.
import { exports } from "cloudflare:workers";
import { sign } from "hono/jwt";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { authenticate, rateLimit } from "../src/http/auth";
import { handleError, requestContext } from "../src/http/middleware";
import type { AppEnv } from "../src/http/types";
import { CACHE_BUDGET_BYTES, cachedResult, MAX_CACHED_RESULT_BYTES, resultCacheStats } from "../src/content/result-cache";
import { call, makeModule, SECRET, token } from "./helpers";

const MiB = 1024 * 1024;
/** A value that fills a 1 MiB body, minus room for the JSON around it. */
const NEAR_MIB = MiB - 200;

async function timed<T>(run: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const started = Date.now();
  const result = await run();
  return { result, ms: Date.now() - started };
}

describe("every check on client text is linear", () => {
  const adversarial: Record<string, { field: Record<string, unknown>; value: string }> = {
    email: { field: { kind: "email" }, value: `a@${".".repeat(NEAR_MIB)}@` },
    "email (long local part)": { field: { kind: "email" }, value: `${"a".repeat(NEAR_MIB)}@b.c` },
    url: { field: { kind: "url" }, value: `http://${"a.".repeat(NEAR_MIB / 2)}` },
    text: { field: { kind: "text", maxLength: 100 }, value: "x".repeat(NEAR_MIB) },
    textarea: { field: { kind: "textarea", maxLength: 100 }, value: "x\n".repeat(NEAR_MIB / 4) },
    hidden: { field: { kind: "hidden", maxLength: 100 }, value: "\u{1F600}".repeat(NEAR_MIB / 4) },
    enum: { field: { kind: "enum", options: { options: ["a"] } }, value: "a".repeat(NEAR_MIB) },
    date: { field: { kind: "date" }, value: `2026-01-01${"1".repeat(NEAR_MIB)}` },
    stamp: { field: { kind: "stamp" }, value: `2026-01-01T00:00:00${".0".repeat(NEAR_MIB / 2)}Z` },
  };

  for (const [name, { field, value }] of Object.entries(adversarial)) {
    it(`refuses a 1 MiB adversarial ${name} value promptly, storing nothing`, async () => {
      const m = await makeModule(`Hostile ${name}`, [{ name: "v", ...field }]);
      const { result, ms } = await timed(() => call(`/module/${m.moduleID}/content`, { body: { fields: { v: value } } }));
      expect(result.status).toBe(400);
      expect(result.json.error.details[0].path).toContain("v");
      expect(ms).toBeLessThan(2000);
      const list = await call(`/module/${m.moduleID}/content`);
      expect(list.json.response.meta.count).toBe(0);
    });
  }

  it("bounds an item's values at 128 KiB, so a listing page of 100 stays small", async () => {
    const m = await makeModule("Stored size", [
      { name: "a", kind: "text" },
      { name: "b", kind: "hidden" },
    ]);
    const half = "x".repeat(64 * 1024);
    const big = await call(`/module/${m.moduleID}/content`, { body: { fields: { a: half, b: half } } });
    expect(big.status).toBe(400);
    expect(big.json.error).toMatchObject({ code: "invalid_content", details: [{ path: "fields" }] });
    expect((await call(`/module/${m.moduleID}/content`)).json.response.meta.count).toBe(0);
    const fits = await call(`/module/${m.moduleID}/content`, { body: { fields: { a: half, b: "y".repeat(64 * 1024 - 100) } } });
    expect(fits.status).toBe(201);
    const edit = await call(`/module/${m.moduleID}/content/${fits.json.response.contentID}`, { body: { fields: { a: half, b: half } } });
    expect(edit.status).toBe(400);
    const read = await call(`/module/${m.moduleID}/content/${fits.json.response.contentID}`);
    expect(read.json.response.fields.map((f: any) => f.value.length)).toEqual([64 * 1024, 64 * 1024 - 100]);
  });

  it("still accepts ordinary addresses and URLs", async () => {
    const m = await makeModule("Plain", [
      { name: "e", kind: "email" },
      { name: "u", kind: "url" },
    ]);
    const ok = await call(`/module/${m.moduleID}/content`, { body: { fields: { e: "ana@example.co.uk", u: "https://example.com/a?b=c" } } });
    expect(ok.status).toBe(201);
    for (const e of ["a@b", "a@.b", "a@b.", "@b.c", "a@b@c.d", "a b@c.d", "a@b .c"]) {
      const res = await call(`/module/${m.moduleID}/content`, { body: { fields: { e } } });
      expect([e, res.status]).toEqual([e, 400]);
    }
  });
});

describe("bodies are bounded while they are read", () => {
  it("stops reading a chunked body without Content-Length at 1 MiB (413)", async () => {
    let pulled = 0;
    const chunk = new Uint8Array(64 * 1024).fill(0x20);
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (pulled >= 20 * MiB) return controller.close();
        pulled += chunk.byteLength;
        controller.enqueue(chunk);
      },
    });
    const res = await exports.default.fetch(
      new Request("http://api.test/module/", {
        method: "POST",
        headers: { authorization: `Bearer ${await token()}`, "content-type": "application/json" },
        body: stream,
        // @ts-expect-error duplex is required for a streamed request body
        duplex: "half",
      }),
    );
    expect(res.status).toBe(413);
    expect(((await res.json()) as any).error.code).toBe("payload_too_large");
    expect(pulled).toBeLessThan(2 * MiB);
  });

  it("refuses JSON nested deeper than 64 levels with a 400, in JSON bodies and in forms", async () => {
    const nested = (depth: number) => "[".repeat(depth) + "]".repeat(depth);
    const body = `{"name":"Deep","tasks":[{"name":"t","kind":"http","options":{"url":"https://example.com","method":"POST","body":${nested(200_000)}}}]}`;
    const deep = await call("/workflow/", { body });
    expect(deep.status).toBe(400);
    expect(deep.json.error.code).toBe("malformed_json");

    const form = await call("/page/", { form: { title: "Deep", blocks: `[{"kind":"Chart","options":{"a":${nested(100)}}}]` } });
    expect(form.status).toBe(400);
    expect(form.json.error.details[0].path).toBe("blocks");

    const fine = await call("/page/", { body: { title: "Fine", blocks: [{ kind: "Chart", options: { a: JSON.parse(nested(60)) } }] } });
    expect(fine.status).toBe(201);
    const pages = await call("/page/");
    expect(pages.json.response.map((p: any) => p.title)).toEqual(["Fine"]);
    expect((await call("/workflow/")).json.response).toEqual([]);
  });
});

describe("one identity, one rate-limit bucket", () => {
  /** The other spellings of a base64url segment's last character with the same decoded bytes. */
  function respellings(jwt: string): string[] {
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const last = alphabet.indexOf(jwt[jwt.length - 1]);
    return [1, 2, 3].map((bits) => jwt.slice(0, -1) + alphabet[(last & ~3) | bits]);
  }

  it("accepts only the canonical spelling of a signature", async () => {
    const jwt = await token("read");
    expect((await call("/module/", { token: jwt })).status).toBe(200);
    for (const variant of respellings(jwt)) {
      const res = await call("/module/", { token: variant });
      expect(res.status).toBe(401);
      expect(res.json).toEqual({ error: { message: "Unauthorized", code: "unauthorized" } });
    }
  });

  it("keys the limit on the verified user, whatever the token", async () => {
    const keys: string[] = [];
    const limiter = {
      limit: async ({ key }: { key: string }) => {
        keys.push(key);
        return { success: true };
      },
    } as unknown as RateLimit;
    const app = new Hono<AppEnv>();
    app.use("*", requestContext);
    app.get("/x", async (c) => {
      await rateLimit(c, await authenticate(c));
      return c.text("ok");
    });
    app.onError(handleError);
    const env = { JWT_SECRET: SECRET, RATE_LIMIT: "on", RATE_LIMITER: limiter } as unknown as Env;
    const exp = Math.floor(Date.now() / 1000) + 3600;
    const tokens = [
      await sign({ sub: "7", scope: "read", exp }, SECRET, "HS256"),
      await sign({ sub: "7", scope: "read write", exp: exp + 1 }, SECRET, "HS256"),
      await sign({ sub: "8", scope: "read", exp }, SECRET, "HS256"),
    ];
    for (const t of tokens) {
      const res = await app.fetch(new Request("http://t/x", { headers: { authorization: `Bearer ${t}` } }), env);
      expect(res.status).toBe(200);
    }
    expect(keys[0]).toBe(keys[1]);
    expect(keys[2]).not.toBe(keys[0]);
    expect(keys.join()).not.toContain(tokens[0].slice(-43));
  });
});

describe("the result cache is bounded in bytes and keyed by meaning", () => {
  it("keeps one entry for charts that differ only in labels and unknown parameters", async () => {
    const m = await makeModule("Labels", [{ name: "tag", kind: "text" }]);
    for (let i = 0; i < 5; i++) await call(`/module/${m.moduleID}/content`, { body: { fields: { tag: `t${i}` } } });
    for (let i = 0; i < 50; i++) {
      const res = await call(`/module/${m.moduleID}/chart?kind=bar&groupBy=tag&name=n${i}&description=d${i}&junk${i}=x`);
      expect(res.status).toBe(200);
      expect(res.json.response.meta.name).toBe(`n${i}`);
      expect(res.json.response.data).toHaveLength(5);
    }
    expect(resultCacheStats(Number(m.moduleID)).entries).toBe(1);
  });

  it("stays within its byte budget and does not keep oversized results", async () => {
    const big = "x".repeat(MAX_CACHED_RESULT_BYTES / 8); // a quarter of the per-result bound
    for (let i = 0; i < 200; i++) await cachedResult({ id: 1, contentVersion: 1 }, `k${i}`, async () => [big]);
    const stats = resultCacheStats();
    expect(stats.bytes).toBeLessThanOrEqual(CACHE_BUDGET_BYTES);
    expect(stats.entries).toBeGreaterThan(10);

    let computed = 0;
    const huge = "y".repeat(MAX_CACHED_RESULT_BYTES);
    for (let i = 0; i < 2; i++)
      await cachedResult({ id: 1, contentVersion: 1 }, "huge", async () => {
        computed++;
        return huge;
      });
    expect(computed).toBe(2); // answered both times, kept neither
    expect(resultCacheStats().bytes).toBeLessThanOrEqual(CACHE_BUDGET_BYTES);
  });

  it("many distinct labels over one large chart result keep the cache within budget", async () => {
    const m = await makeModule("Large", [{ name: "n", kind: "number" }]);
    // 600 distinct x values: the raw series answer is about 10 KB.
    const values = Array.from({ length: 600 }, (_, i) => i);
    for (let i = 0; i < values.length; i += 100) {
      await Promise.all(values.slice(i, i + 100).map((n) => call(`/module/${m.moduleID}/content`, { body: { fields: { n } } })));
    }
    for (let i = 0; i < 100; i++) {
      const res = await call(`/module/${m.moduleID}/chart?kind=line&xAxis=n&yAxis=n&name=${"L".repeat(1000)}${i}`);
      expect(res.status).toBe(200);
    }
    expect(resultCacheStats(Number(m.moduleID)).entries).toBe(1);
    expect(resultCacheStats().bytes).toBeLessThanOrEqual(CACHE_BUDGET_BYTES);
  });
});

describe("module create is one batch", () => {
  const field = { name: "b", kind: "number" };
  const definition = {
    ...field,
    label: "b",
    helpText: "",
    defaultValue: null,
    maxLength: 0,
    options: {},
    isRequired: false,
    isPrivate: false,
    isVisible: true,
    isMulti: false,
  };
  const names = async () => (await call("/module/")).json.response.map((m: any) => m.name);

  it("leaves no module row (and no typed table) when its DDL fails", async () => {
    const { env } = await import("cloudflare:workers");
    const { typedLayout } = await import("../src/module-model/typed-table");
    const last = await makeModule("Before", [{ name: "a", kind: "text" }]);
    const next = Number(last.moduleID) + 1;
    // A table holding the name of the next module's last typed-table index makes that index's DDL fail.
    const blocker = typedLayout(next, [definition]).indexes.at(-1)!.name;
    await env.DB.prepare(`create table "${blocker}" (x)`).run();
    const failed = await call("/module/", { body: { name: "Broken", fields: [field] } });
    expect(failed.status).toBe(500);
    expect(await names()).not.toContain("Broken");
    expect(await env.DB.prepare("select name from sqlite_master where name = ?").bind(`c_${next}`).first()).toBeNull();
    await env.DB.prepare(`drop table "${blocker}"`).run();
    const ok = await call("/module/", { body: { name: "Works", fields: [field] } });
    expect(ok.status).toBe(201);
  });

  it("creates concurrent modules side by side, each with its own ID and indexes", async () => {
    const created = await Promise.all(Array.from({ length: 8 }, (_, i) => call("/module/", { body: { name: `Parallel ${i}`, fields: [field] } })));
    expect(created.map((r) => r.status)).toEqual(Array(8).fill(201));
    const ids = created.map((r) => r.json.response.moduleID);
    expect(new Set(ids).size).toBe(8);
    for (const id of ids) {
      const res = await call(`/module/${id}/content?filter=b%20gt%201`);
      expect(res.status).toBe(200);
    }
  });
});

import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { rateLimit } from "../src/http/auth";
import { ApiError } from "../src/http/errors";
import { handleError, requestContext } from "../src/http/middleware";
import type { AppEnv } from "../src/http/types";

function appWith(env: Partial<Env>, route: (c: any) => Promise<Response> | Response) {
  const app = new Hono<AppEnv>();
  app.use("*", requestContext);
  app.get("/x", route);
  app.onError(handleError);
  return (init?: RequestInit) => app.fetch(new Request("http://t/x", init), env as Env);
}

describe("rate limit", () => {
  const limiter = (allow: boolean) => ({ limit: async () => ({ success: allow }) }) as unknown as RateLimit;

  it("answers 429 with Retry-After when the binding says no", async () => {
    const fetch = appWith({ RATE_LIMIT: "on", RATE_LIMITER: limiter(false) }, async (c) => {
      await rateLimit(c, { sub: "7", scopes: new Set() });
      return c.text("ok");
    });
    const res = await fetch({ headers: { authorization: "Bearer a.b.c" } });
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("60");
    expect(((await res.json()) as any).error.code).toBe("rate_limited");
  });

  it("is skipped when RATE_LIMIT is off", async () => {
    const fetch = appWith({ RATE_LIMIT: "off", RATE_LIMITER: limiter(false) }, async (c) => {
      await rateLimit(c, { sub: "7", scopes: new Set() });
      return c.text("ok");
    });
    expect((await fetch()).status).toBe(200);
  });
});

describe("errors", () => {
  it("answers a genuine fault with 500, 'Internal error' and a requestId, never the stack", async () => {
    const fetch = appWith({}, () => {
      throw new Error("SQLITE_ERROR: near select: syntax error at secret.ts:12");
    });
    const res = await fetch({ headers: { "x-request-id": "req-1" } });
    expect(res.status).toBe(500);
    const body = await res.text();
    expect(JSON.parse(body)).toEqual({ error: { message: "Internal error", code: "internal_error", requestId: "req-1" } });
    expect(body).not.toContain("SQLITE");
  });

  it("formats domain errors with code and details", async () => {
    const fetch = appWith({}, () => {
      throw new ApiError("conflict", "It conflicts", [{ path: "a", message: "b" }]);
    });
    const res = await fetch();
    expect(res.status).toBe(409);
    expect(await res.json()).toEqual({ error: { message: "It conflicts", code: "conflict", details: [{ path: "a", message: "b" }] } });
  });
});

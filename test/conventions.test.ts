import { describe, expect, it } from "vitest";
import { sign } from "hono/jwt";
import { call, SECRET, token } from "./helpers";

describe("health and docs", () => {
  it("answers GET / without a token", async () => {
    const res = await call("/", { token: null });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ response: { name: "edge-crm-api", version: expect.any(String) } });
    expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
  });

  it("serves an OpenAPI 3.1 document listing the routes", async () => {
    const res = await call("/openapi.json", { token: null });
    expect(res.status).toBe(200);
    expect(res.json.openapi).toBe("3.1.0");
    expect(Object.keys(res.json.paths)).toEqual(expect.arrayContaining(["/field/", "/module/", "/module/{moduleID}"]));
    expect(res.json.paths["/module/"].post.requestBody.content).toHaveProperty("application/x-www-form-urlencoded");
  });

  it("serves an interactive docs page", async () => {
    const res = await call("/docs", { token: null });
    expect(res.status).toBe(200);
    expect(res.text).toContain("openapi.json");
  });
});

describe("routing conventions", () => {
  it("treats a trailing slash as optional", async () => {
    expect((await call("/module")).status).toBe(200);
    expect((await call("/module/")).status).toBe(200);
    expect((await call("/field")).status).toBe(200);
  });

  it("answers 404 in the envelope for unknown routes", async () => {
    const res = await call("/nope");
    expect(res.status).toBe(404);
    expect(res.json.error.code).toBe("not_found");
  });

  it("answers 405 for a wrong method on a known path", async () => {
    const res = await call("/field/", { method: "DELETE" });
    expect(res.status).toBe(405);
    expect(res.json.error.code).toBe("method_not_allowed");
    expect(res.headers.get("allow")).toContain("GET");
  });

  it("answers 400 for malformed path IDs and 404 for missing ones", async () => {
    for (const bad of ["abc", "0", "-1", "1.5", "9007199254740993", "01"]) {
      const res = await call(`/module/${bad}`);
      expect(res.status, bad).toBe(400);
      expect(res.json.error.code).toBe("invalid_id");
    }
    expect((await call("/module/123456")).status).toBe(404);
  });

  it("echoes X-Request-Id or makes one", async () => {
    const mine = await call("/", { headers: { "x-request-id": "abc-123" } });
    expect(mine.headers.get("x-request-id")).toBe("abc-123");
    const made = await call("/");
    expect(made.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("allows CORS from the configured origins", async () => {
    const res = await call("/", { headers: { origin: "https://app.example" } });
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
  });
});

describe("bodies", () => {
  it("refuses malformed JSON with 400", async () => {
    const res = await call("/module/", { body: "{not json" });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe("malformed_json");
  });

  it("refuses a JSON body that is not an object", async () => {
    const res = await call("/module/", { body: "[1,2]" });
    expect(res.status).toBe(400);
  });

  it("refuses unsupported content types with 415", async () => {
    const res = await call("/module/", { body: "x", headers: { "content-type": "text/plain" } });
    expect(res.status).toBe(415);
    expect(res.json.error.code).toBe("unsupported_media_type");
  });

  it("refuses bodies over 1 MiB with 413", async () => {
    const res = await call("/module/", { body: JSON.stringify({ name: "x".repeat(1024 * 1024 + 10) }) });
    expect(res.status).toBe(413);
    expect(res.json.error.code).toBe("payload_too_large");
  });

  it("accepts forms with structured parameters as JSON strings", async () => {
    const res = await call("/module/", { form: { name: "FormMod", fields: JSON.stringify([{ name: "a", kind: "text" }]) } });
    expect(res.status).toBe(201);
    expect(res.json.response.fields[0].name).toBe("a");
  });

  it("accepts multipart forms", async () => {
    const form = new FormData();
    form.set("name", "Multi");
    form.set("fields", JSON.stringify([{ name: "a", kind: "text" }]));
    const { exports } = await import("cloudflare:workers");
    const res = await exports.default.fetch(
      new Request("http://api.test/module/", { method: "POST", body: form, headers: { authorization: `Bearer ${await token()}` } }),
    );
    expect(res.status).toBe(201);
  });
});

describe("authentication", () => {
  const now = () => Math.floor(Date.now() / 1000);

  it("answers 401 without a token", async () => {
    const res = await call("/module/", { token: null });
    expect(res.status).toBe(401);
    expect(res.json).toEqual({ error: { message: "Unauthorized", code: "unauthorized" } });
  });

  it("answers 401 for bad, expired, unsigned or exp-less tokens", async () => {
    const cases = [
      "garbage",
      await sign({ sub: "1", scope: "read", exp: now() + 60 }, "other-secret", "HS256"),
      await sign({ sub: "1", scope: "read", exp: now() - 60 }, SECRET, "HS256"),
      await sign({ sub: "1", scope: "read" }, SECRET, "HS256"),
      await sign({ sub: "1", scope: "read", exp: now() + 60 }, SECRET, "HS512"),
    ];
    const none = `${btoa(JSON.stringify({ alg: "none", typ: "JWT" }))}.${btoa(JSON.stringify({ sub: "1", scope: "admin", exp: now() + 60 }))}.`.replace(
      /=/g,
      "",
    );
    cases.push(none);
    for (const t of cases) {
      const res = await call("/module/", { token: t });
      expect(res.status, t).toBe(401);
      expect(res.json.error.code).toBe("unauthorized");
    }
  });

  it("lets admin imply read and write", async () => {
    expect((await call("/module/", { scope: "admin" })).status).toBe(200);
  });

  it("needs no token for public routes but checks it on others", async () => {
    expect((await call("/", { token: "garbage" })).status).toBe(200);
    expect((await call("/field/", { token: null })).status).toBe(401);
  });
});

describe("types of parameters", () => {
  it("accepts the string spellings of booleans and JSON only in forms", async () => {
    const json = await call("/module/", { body: { name: "Strict", fields: [{ name: "a", kind: "text", isRequired: "true" }] } });
    expect(json.status).toBe(400);
    expect(json.json.error.details[0].path).toBe("fields[0].isRequired");
    const jsonString = await call("/module/", { body: { name: "Strict", fields: JSON.stringify([{ name: "a", kind: "text" }]) } });
    expect(jsonString.status).toBe(400);
    const form = await call("/module/", { form: { name: "Loose", fields: JSON.stringify([{ name: "a", kind: "text", isRequired: true }]) } });
    expect(form.status).toBe(201);
    expect(form.json.response.fields[0].isRequired).toBe(true);
    // Inside a form's JSON string, JSON's own types apply.
    const spelled = await call("/module/", { form: { name: "Loose", fields: JSON.stringify([{ name: "a", kind: "text", isRequired: "true" }]) } });
    expect(spelled.status).toBe(400);
    const m = form.json.response;
    const contentAsString = await call(`/module/${m.moduleID}/content`, { body: { fields: JSON.stringify({ a: "x" }) } });
    expect(contentAsString.status).toBe(400);
    expect(contentAsString.json.error.details[0].path).toBe("fields");
    const contentInForm = await call(`/module/${m.moduleID}/content`, { form: { fields: JSON.stringify({ a: "x" }) } });
    expect(contentInForm.status).toBe(201);
  });

  it("names the problem with a module name precisely", async () => {
    const long = await call("/module/", { body: { name: "x".repeat(201), fields: [{ name: "a", kind: "text" }] } });
    expect(long.json.error.details[0]).toEqual({ path: "name", message: "must be at most 200 characters" });
    const number = await call("/module/", { body: { name: 5, fields: [{ name: "a", kind: "text" }] } });
    expect(number.json.error.details[0]).toEqual({ path: "name", message: "must be a string" });
    const missing = await call("/module/", { body: { fields: [{ name: "a", kind: "text" }] } });
    expect(missing.json.error.details[0]).toEqual({ path: "name", message: "is required" });
  });

  it("answers /openapi.json with the JSON charset", async () => {
    const res = await call("/openapi.json", { token: null });
    expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
  });

  it("refuses tokens whose sub is not a user ID", async () => {
    for (const sub of ["0", "007", "9007199254740993", "abc"]) {
      expect((await call("/module/", { token: await token("read", { sub }) })).status, sub).toBe(401);
    }
  });
});

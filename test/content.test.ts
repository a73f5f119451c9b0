// Content CRUD and validation: every refused write is checked to have changed nothing.
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { call, makeModule, token } from "./helpers";

const base = (m: any) => `/module/${m.moduleID}/content`;
const fieldValue = (item: any, name: string) => item.fields.find((f: any) => f.name === name)?.value;

/** Every content row (deleted ones too), to compare before and after a refused request. */
async function snapshot() {
  return (await env.DB.prepare("select * from content order by id").all()).results;
}

let target: any;
let other: any;
let lead: any;
let accountId: string;
let otherItemId: string;

beforeAll(async () => {
  target = await makeModule("Account", [{ name: "name", kind: "text" }]);
  other = await makeModule("Other", [{ name: "name", kind: "text" }]);
  lead = await makeModule("Lead", [
    { name: "title", kind: "text", isRequired: true, maxLength: 10 },
    { name: "notes", kind: "textarea" },
    { name: "email", kind: "email" },
    { name: "country", kind: "enum", options: { options: ["France", "Slovenia"] }, defaultValue: "France" },
    { name: "secret", kind: "hidden" },
    { name: "when", kind: "stamp" },
    { name: "value", kind: "number", options: { min: 0, max: 1000, precision: 2 } },
    { name: "site", kind: "url" },
    { name: "day", kind: "date" },
    { name: "done", kind: "bool" },
    { name: "account", kind: "related", options: { moduleID: target.moduleID } },
    { name: "accounts", kind: "related_multi", options: { moduleID: target.moduleID } },
    { name: "tags", kind: "text", isMulti: true },
  ]);
  accountId = (await call(base(target), { body: { fields: { name: "Acme" } } })).json.response.contentID;
  otherItemId = (await call(base(other), { body: { fields: { name: "Elsewhere" } } })).json.response.contentID;
});

describe("create and read", () => {
  it("creates with defaults and the token's sub, answering fields in module order", async () => {
    const res = await call(base(lead), {
      body: {
        fields: [
          { name: "value", value: 12.5 },
          { name: "title", value: "Hello" },
          { name: "account", value: accountId },
          { name: "when", value: "2026-01-02T03:04:05+02:00" },
        ],
      },
    });
    expect(res.status).toBe(201);
    const item = res.json.response;
    expect(item).toMatchObject({ moduleID: lead.moduleID, userID: "7", contentID: expect.stringMatching(/^[1-9]\d*$/) });
    expect(item.fields).toEqual([
      { name: "title", value: "Hello" },
      { name: "country", value: "France" },
      { name: "when", value: "2026-01-02T01:04:05.000Z" },
      { name: "value", value: 12.5 },
      { name: "account", value: accountId },
    ]);
    expect(item.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(item.updatedAt).toBe(item.createdAt);
    const got = await call(`${base(lead)}/${item.contentID}`);
    expect(got.status).toBe(200);
    expect(got.json.response).toEqual(item);
  });

  it("accepts fields as an object, and the userID comes from the token", async () => {
    const res = await call(base(lead), { body: { fields: { title: "Obj", done: false } }, token: await token("write", { sub: "42" }) });
    expect(res.status).toBe(201);
    expect(res.json.response.userID).toBe("42");
    expect(res.json.response.fields).toEqual([
      { name: "title", value: "Obj" },
      { name: "country", value: "France" },
      { name: "done", value: false },
    ]);
  });

  it("accepts a form with fields as a JSON string", async () => {
    const res = await call(base(lead), { form: { fields: JSON.stringify({ title: "Form", value: 7 }) } });
    expect(res.status).toBe(201);
    expect(fieldValue(res.json.response, "value")).toBe(7);
  });

  it("an explicit null leaves a field without a value (no default)", async () => {
    const res = await call(base(lead), { body: { fields: { title: "NoCountry", country: null } } });
    expect(res.status).toBe(201);
    expect(fieldValue(res.json.response, "country")).toBeUndefined();
  });

  it("handles field names that are also Object.prototype members", async () => {
    const m = await makeModule("Proto", [
      { name: "constructor", kind: "text" },
      { name: "toString", kind: "number" },
      { name: "valueOf", kind: "text" },
    ]);
    const empty = await call(base(m), { body: { fields: {} } });
    expect(empty.status).toBe(201);
    expect(empty.json.response.fields).toEqual([]);
    const full = await call(base(m), { body: { fields: { constructor: "c", toString: 2 } } });
    expect(full.json.response.fields).toEqual([
      { name: "constructor", value: "c" },
      { name: "toString", value: 2 },
    ]);
    const list = await call(`${base(m)}?${new URLSearchParams({ query: "c", filter: "toString eq 2", sort: "constructor" })}`);
    expect(list.json.response.meta.count).toBe(1);
  });

  it("keeps related IDs as strings and accepts numbers", async () => {
    const res = await call(base(lead), { body: { fields: { title: "Rel", account: Number(accountId), accounts: [accountId, Number(accountId)] } } });
    expect(res.status).toBe(201);
    expect(fieldValue(res.json.response, "account")).toBe(accountId);
    expect(fieldValue(res.json.response, "accounts")).toEqual([accountId, accountId]);
    const filter = `accounts eq ${accountId} and account in ('${accountId}') and title eq 'Rel'`;
    const found = await call(`${base(lead)}?${new URLSearchParams({ filter })}`);
    expect(found.json.response.contents.map((c: any) => c.contentID)).toEqual([res.json.response.contentID]);
  });
});

// [field, valid values, invalid values]
const cases: [string, unknown[], unknown[]][] = [
  ["title", ["Hi", "ten chars!", "ünïcødé"], [5, true, ["a"], "eleven char", {}]],
  ["notes", ["line 1\nline 2", "x".repeat(5000)], [1, false, { a: 1 }]],
  ["email", ["a@b.co", "first.last+tag@example.org"], ["nope", "a b@c.de", "a@b", 3]],
  ["country", ["France", "Slovenia"], ["Germany", "france", 1, ["France"]]],
  ["secret", ["anything at all"], [12, { x: 1 }]],
  ["when", ["2026-11-27T20:18:49Z", "2026-11-27T20:18:49.123+05:30", "2026-11-27 20:18:49Z"], ["2026-13-01T00:00:00Z", "yesterday", "2026-01-02", 1700000000]],
  ["value", [0, 1000, 3.14, 999.99], [1001, -1, 1.234, "5", true]],
  ["site", ["https://example.com/a?b=c", "http://x.io"], ["ftp://x.io", "example.com", "https://", 1]],
  ["day", ["2026-02-28", "2024-02-29"], ["2026-02-30", "2026-2-3", "2026-02-28T00:00:00Z", 20260228]],
  ["done", [true, false], ["true", 1, 0]],
  ["tags", [["a", "b"], ["x"]], ["a", [1], ["a", null], [["a"]]]],
];

describe("validation per kind", () => {
  for (const [name, valid, invalid] of cases) {
    it(`${name}: accepts valid values`, async () => {
      for (const value of valid) {
        const res = await call(base(lead), { body: { fields: { title: "T", [name]: value } } });
        expect(res.status, `${name} = ${JSON.stringify(value)}: ${res.text}`).toBe(201);
        if (name === "title") expect(fieldValue(res.json.response, name)).toBe(value);
      }
    });
    it(`${name}: refuses invalid values with a detail naming the field, storing nothing`, async () => {
      const before = await snapshot();
      for (const value of invalid) {
        const fields = name === "title" ? { title: value } : { title: "T", [name]: value };
        const res = await call(base(lead), { body: { fields } });
        expect(res.status, `${name} = ${JSON.stringify(value)}`).toBe(400);
        expect(res.json.error.code).toBe("invalid_content");
        expect(res.json.error.details).toEqual([{ path: `fields.${name}`, message: expect.any(String) }]);
      }
      expect(await snapshot()).toEqual(before);
    });
  }

  it("normalises stamps to UTC with milliseconds", async () => {
    const res = await call(base(lead), { body: { fields: { title: "S", when: "2026-11-27T20:18:49.5-01:00" } } });
    expect(fieldValue(res.json.response, "when")).toBe("2026-11-27T21:18:49.500Z");
  });

  it("related: refuses IDs that are not live items of the target module", async () => {
    const deleted = (await call(base(target), { body: { fields: { name: "Gone" } } })).json.response.contentID;
    expect((await call(`${base(target)}/${deleted}`, { method: "DELETE" })).status).toBe(200);
    const before = await snapshot();
    for (const value of ["abc", 0, -3, otherItemId, "999999", deleted, [accountId]]) {
      const res = await call(base(lead), { body: { fields: { title: "R", account: value } } });
      expect(res.status, JSON.stringify(value)).toBe(400);
      expect(res.json.error.details).toEqual([{ path: "fields.account", message: expect.any(String) }]);
    }
    for (const value of [accountId, [accountId, "999999"], [otherItemId], [deleted], ["x"]]) {
      const res = await call(base(lead), { body: { fields: { title: "R", accounts: value } } });
      expect(res.status, JSON.stringify(value)).toBe(400);
      expect(res.json.error.details).toEqual([{ path: "fields.accounts", message: expect.any(String) }]);
    }
    expect(await snapshot()).toEqual(before);
  });

  it("reports every offending field at once", async () => {
    const before = await snapshot();
    const res = await call(base(lead), {
      body: {
        fields: [
          { name: "value", value: 5000 },
          { name: "nope", value: 1 },
          { name: "email", value: "x" },
          { name: "account", value: "999999" },
        ],
      },
    });
    expect(res.status).toBe(400);
    const paths = res.json.error.details.map((d: any) => d.path).sort();
    expect(paths).toEqual(["fields.account", "fields.email", "fields.nope", "fields.title", "fields.value"]);
    expect(res.json.error.details.find((d: any) => d.path === "fields.title").message).toBe("is required");
    expect(await snapshot()).toEqual(before);
  });

  it("refuses malformed fields parameters", async () => {
    const before = await snapshot();
    const bad: [unknown, string][] = [
      ["not json", "fields"],
      [42, "fields"],
      [[{ value: 1 }], "fields[0]"],
      [[{ name: "title", value: "a" }, "x"], "fields[1]"],
      [
        [
          { name: "title", value: "a" },
          { name: "title", value: "b" },
        ],
        "fields.title",
      ],
    ];
    for (const [fields, path] of bad) {
      const res = await call(base(lead), { body: { fields } });
      expect(res.status, JSON.stringify(fields)).toBe(400);
      expect(res.json.error.details.map((d: any) => d.path)).toContain(path);
    }
    const missing = await call(base(lead), { body: {} });
    expect(missing.status).toBe(400);
    expect(missing.json.error.details).toEqual([{ path: "fields.title", message: "is required" }]);
    const emptyText = await call(base(lead), { body: { fields: { title: "" } } });
    expect(emptyText.status).toBe(400);
    expect(await snapshot()).toEqual(before);
  });
});

describe("search text", () => {
  it("normalises Unicode (NFC) and folds case on both sides", async () => {
    const m = await makeModule("Nfc", [
      { name: "t", kind: "text" },
      { name: "n", kind: "number" },
    ]);
    await call(base(m), { body: { fields: { t: "Cafe\u0301 ISTANBUL", n: 1 } } }); // decomposed é
    const q = async (query: string) => (await call(`${base(m)}?${new URLSearchParams({ query })}`)).json.response.meta.count;
    expect(await q("café")).toBe(1); // composed é
    expect(await q("CAFÉ istanbul")).toBe(1);
    expect(await q("cafe")).toBe(0);
    expect(await q("1")).toBe(0); // numbers are not searched
  });
});

describe("update", () => {
  it("replaces the fields, keeping createdAt and userID", async () => {
    const made = (await call(base(lead), { body: { fields: { title: "Old", value: 5, notes: "keep?" } } })).json.response;
    await new Promise((r) => setTimeout(r, 5));
    const res = await call(`${base(lead)}/${made.contentID}`, {
      body: { fields: [{ name: "title", value: "New" }] },
      token: await token("write", { sub: "99" }),
    });
    expect(res.status).toBe(200);
    const item = res.json.response;
    expect(item.fields).toEqual([{ name: "title", value: "New" }]); // no defaults on replace
    expect(item.userID).toBe("7");
    expect(item.createdAt).toBe(made.createdAt);
    expect(item.updatedAt > made.updatedAt).toBe(true);
    expect((await call(`${base(lead)}/${made.contentID}`)).json.response).toEqual(item);
  });

  it("refuses an invalid replace and changes nothing", async () => {
    const made = (await call(base(lead), { body: { fields: { title: "Keep", value: 5 } } })).json.response;
    const before = await snapshot();
    for (const fields of [{ value: 6 }, { title: "Keep", value: -1 }, { title: "Keep", bogus: 1 }]) {
      const res = await call(`${base(lead)}/${made.contentID}`, { body: { fields } });
      expect(res.status).toBe(400);
    }
    const none = await call(`${base(lead)}/${made.contentID}`, { body: {} });
    expect(none.status).toBe(400);
    expect(none.json.error.details).toEqual([{ path: "fields", message: expect.any(String) }]);
    expect(await snapshot()).toEqual(before);
    expect((await call(`${base(lead)}/${made.contentID}`)).json.response).toEqual(made);
  });
});

describe("delete, cross-module access and missing items", () => {
  it("soft-deletes: the item answers 404 everywhere and leaves listings", async () => {
    const made = (await call(base(lead), { body: { fields: { title: "Doomed" } } })).json.response;
    const path = `${base(lead)}/${made.contentID}`;
    const del = await call(path, { method: "DELETE" });
    expect(del.status).toBe(200);
    expect(del.json).toEqual({ success: { message: "OK" } });
    expect((await call(path)).status).toBe(404);
    expect((await call(path, { body: { fields: { title: "Back" } } })).status).toBe(404);
    expect((await call(path, { method: "DELETE" })).status).toBe(404);
    const list = await call(`${base(lead)}?perPage=100`);
    expect(list.json.response.contents.some((c: any) => c.contentID === made.contentID)).toBe(false);
    const byId = await call(`${base(lead)}?filter=${encodeURIComponent(`id eq ${made.contentID}`)}`);
    expect(byId.json.response.meta.count).toBe(0);
    const row: any = await env.DB.prepare("select deleted_at, data from content where id = ?").bind(Number(made.contentID)).first();
    expect(row.deleted_at).toMatch(/Z$/);
    expect(JSON.parse(row.data)).toEqual({ title: "Doomed", country: "France" }); // still stored: soft delete
  });

  it("answers 404 for an item through another module, and changes nothing", async () => {
    const before = await snapshot();
    const path = `${base(lead)}/${accountId}`;
    expect((await call(path)).status).toBe(404);
    expect((await call(path, { body: { fields: { title: "Hijack" } } })).status).toBe(404);
    expect((await call(path, { method: "DELETE" })).status).toBe(404);
    expect(await snapshot()).toEqual(before);
    expect((await call(`${base(target)}/${accountId}`)).status).toBe(200);
  });

  it("answers 404 for unknown modules and items, 400 for malformed IDs", async () => {
    expect((await call("/module/999999/content")).status).toBe(404);
    expect((await call("/module/999999/content", { body: { fields: {} } })).status).toBe(404);
    expect((await call(`${base(lead)}/999999`)).status).toBe(404);
    for (const bad of ["abc", "0", "1.5", "-2"]) {
      expect((await call(`${base(lead)}/${bad}`)).status).toBe(400);
      expect((await call(`/module/${bad}/content`)).status).toBe(400);
    }
  });

  it("allows the trailing slash", async () => {
    expect((await call(`${base(lead)}/`)).status).toBe(200);
    expect((await call(`${base(target)}/${accountId}/`)).status).toBe(200);
  });
});

// Unique fields: a second live item with the same value is refused with 409 naming the holder.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, makeModule } from "./helpers";

const items = (m: any) => `/module/${m.moduleID}/content`;
const create = (m: any, fields: Record<string, unknown>) => call(items(m), { body: { fields } });
const stored = async (m: any) =>
  ((await env.DB.prepare("select count(*) as n from content where module_id = ? and deleted_at is null").bind(Number(m.moduleID)).first()) as any).n;

const FIELDS = [
  { name: "email", kind: "email", isUnique: true },
  { name: "n", kind: "number", isUnique: true },
  { name: "at", kind: "stamp", isUnique: true },
  { name: "note", kind: "text" },
];

describe("isUnique on create and update", () => {
  it("refuses a duplicate (text case-insensitively) with 409 naming the item that holds it, storing nothing", async () => {
    const m = await makeModule("Uniq", FIELDS);
    const first = await create(m, { email: "ann@example.com" });
    expect(first.status).toBe(201);
    const dup = await create(m, { email: "ANN@example.COM", note: "zzqq" });
    expect(dup.status).toBe(409);
    expect(dup.json.error.code).toBe("unique_conflict");
    expect(dup.json.error.details).toEqual([
      {
        path: "fields.email",
        message: expect.stringContaining(`"ANN@example.COM" is already held by item ${first.json.response.contentID}`),
        contentID: first.json.response.contentID,
      },
    ]);
    expect(await stored(m)).toBe(1);
    const listed = await call(`${items(m)}?query=zzqq`);
    expect(listed.json.response.meta.count).toBe(0); // no search entry left behind either
  });

  it("compares numbers by value and stamps by instant; items without a value never collide", async () => {
    const m = await makeModule("UniqKinds", FIELDS);
    expect((await create(m, { n: 1, at: "2026-01-01T10:00:00Z" })).status).toBe(201);
    expect((await create(m, { n: 1.0 })).status).toBe(409);
    const instant = await create(m, { at: "2026-01-01T12:00:00+02:00" });
    expect(instant.status).toBe(409);
    expect(instant.json.error.details[0].path).toBe("fields.at");
    expect((await create(m, { note: "a" })).status).toBe(201);
    expect((await create(m, { note: "b" })).status).toBe(201);
  });

  it("lets an item keep or re-case its own value, refuses another's, and frees the value when deleted", async () => {
    const m = await makeModule("UniqUpdate", FIELDS);
    const a = (await create(m, { email: "a@example.com" })).json.response.contentID;
    const b = (await create(m, { email: "b@example.com" })).json.response.contentID;
    expect((await call(`${items(m)}/${a}`, { body: { fields: { email: "A@example.com" } } })).status).toBe(200);
    const taken = await call(`${items(m)}/${b}`, { body: { fields: { email: "a@EXAMPLE.com" } } });
    expect(taken.status).toBe(409);
    expect(taken.json.error.details[0].contentID).toBe(a);
    expect((await call(`${items(m)}/${b}`)).json.response.fields).toEqual([{ name: "email", value: "b@example.com" }]);
    expect((await call(`${items(m)}/${a}`, { method: "DELETE" })).status).toBe(200);
    expect((await call(`${items(m)}/${b}`, { body: { fields: { email: "a@example.com" } } })).status).toBe(200);
  });

  it("lets exactly one of many concurrent creates of one value succeed", async () => {
    const m = await makeModule("UniqRace", FIELDS);
    const results = await Promise.all(Array.from({ length: 8 }, () => create(m, { email: "race@example.com" })));
    expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409, 409, 409, 409]);
    expect(await stored(m)).toBe(1);
  });
});

describe("isUnique in module definitions", () => {
  it("is refused on kinds it does not apply to, naming the field", async () => {
    for (const field of [
      { name: "t", kind: "textarea", isUnique: true },
      { name: "t", kind: "text", isMulti: true, isUnique: true },
      { name: "t", kind: "bool", isUnique: true },
    ]) {
      const res = await call("/module/", { body: { name: "Bad", fields: [field] } });
      expect(res.status, JSON.stringify(field)).toBe(400);
      expect(res.json.error.details[0].path).toBe("fields[0].isUnique");
    }
  });

  it("is answered only when set", async () => {
    const m = await makeModule("UniqShown", FIELDS);
    const fields = (await call(`/module/${m.moduleID}`)).json.response.fields;
    expect(fields[0].isUnique).toBe(true);
    expect("isUnique" in fields[3]).toBe(false);
  });

  it("cannot be turned on over duplicates (409 listing them, nothing changed); can once they are gone", async () => {
    const m = await makeModule("UniqLater", [{ name: "email", kind: "email" }]);
    const ids = [];
    for (const email of ["x@example.com", "X@example.com", "y@example.com"]) ids.push((await create(m, { email })).json.response.contentID);
    const turnOn = () => call(`/module/${m.moduleID}`, { body: { name: m.name, fields: [{ name: "email", kind: "email", isUnique: true }] } });
    const refused = await turnOn();
    expect(refused.status).toBe(409);
    expect(refused.json.error.code).toBe("content_conflict");
    expect(refused.json.error.details).toEqual([{ path: "fields[0].isUnique", message: expect.stringContaining(`items ${ids[0]}, ${ids[1]}`) }]);
    expect((await call(`/module/${m.moduleID}`)).json.response.fields[0].isUnique).toBeUndefined();
    expect((await create(m, { email: "x@example.com" })).status).toBe(201); // still not unique
    const all = (await call(`${items(m)}?perPage=100`)).json.response.contents;
    for (const item of all.filter((c: any) => c.fields[0].value.toLowerCase() === "x@example.com").slice(1)) {
      await call(`${items(m)}/${item.contentID}`, { method: "DELETE" });
    }
    expect((await turnOn()).status).toBe(200);
    expect((await create(m, { email: "X@EXAMPLE.COM" })).status).toBe(409);
  });
});

import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { call, makeModule } from "./helpers";

const base = (m: any) => `/module/${m.moduleID}/content`;
const valueOf = (item: any, name: string) => item.fields.find((f: any) => f.name === name)?.value;

async function rowCount(moduleId?: string) {
  const stmt = moduleId
    ? env.DB.prepare("select count(*) n from content where module_id = ?").bind(Number(moduleId))
    : env.DB.prepare("select count(*) n from content");
  return ((await stmt.first()) as any).n as number;
}

let target: any;
let lead: any;

beforeAll(async () => {
  target = await makeModule("Account", [{ name: "name", kind: "text" }]);
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
});

describe("create and read", () => {
  it("creates with defaults, the token's sub, fields in module order", async () => {
    const acc = await call(base(target), { body: { fields: { name: "Acme" } } });
    expect(acc.status).toBe(201);
    const res = await call(base(lead), {
      body: {
        fields: [
          { name: "value", value: 12.5 },
          { name: "title", value: "Hello" },
          { name: "account", value: acc.json.response.contentID },
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
      { name: "account", value: acc.json.response.contentID },
    ]);
    expect(item.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const got = await call(`${base(lead)}/${item.contentID}`);
    expect(got.status).toBe(200);
    expect(got.json.response).toEqual(item);
  });
});

import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, makeModule } from "./helpers";

const moduleCount = async () => (await env.DB.prepare("select count(*) as n from modules").first<{ n: number }>())!.n;

async function expectRefused(body: unknown, path: string) {
  const before = await moduleCount();
  const res = await call("/module/", { body });
  expect(res.status, JSON.stringify(res.json)).toBe(400);
  expect(res.json.error.code).toBe("invalid_input");
  expect(res.json.error.details.map((d: any) => d.path)).toContain(path);
  expect(await moduleCount()).toBe(before);
  return res;
}

describe("POST /module/", () => {
  it("creates a module with defaults filled in", async () => {
    const res = await call("/module/", {
      body: { name: "Lead", fields: [{ name: "country", kind: "enum", options: { options: ["France", "Slovenia"] } }] },
    });
    expect(res.status).toBe(201);
    const m = res.json.response;
    expect(m.moduleID).toMatch(/^[1-9][0-9]*$/);
    expect(m.name).toBe("Lead");
    expect(m.fields).toEqual([
      {
        name: "country",
        kind: "enum",
        label: "country",
        helpText: "",
        defaultValue: null,
        maxLength: 0,
        options: { options: ["France", "Slovenia"] },
        isRequired: false,
        isPrivate: false,
        isVisible: true,
        isMulti: false,
      },
    ]);
    expect(m.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(m.updatedAt).toBe(m.createdAt);
  });

  it("requires a name and a non-empty fields array", async () => {
    await expectRefused({ fields: [{ name: "a", kind: "text" }] }, "name");
    await expectRefused({ name: "X" }, "fields");
    await expectRefused({ name: "X", fields: [] }, "fields");
    await expectRefused({ name: "X", fields: "not json" }, "fields");
    await expectRefused({ name: 5, fields: [{ name: "a", kind: "text" }] }, "name");
  });

  it("checks field names: pattern, reserved, case-insensitive uniqueness", async () => {
    await expectRefused({ name: "X", fields: [{ name: "1abc", kind: "text" }] }, "fields[0].name");
    await expectRefused({ name: "X", fields: [{ name: "a".repeat(65), kind: "text" }] }, "fields[0].name");
    await expectRefused({ name: "X", fields: [{ name: "has space", kind: "text" }] }, "fields[0].name");
    for (const reserved of ["id", "contentID", "moduleID", "userID", "createdAt", "updatedAt", "deletedAt", "ID"]) {
      await expectRefused({ name: "X", fields: [{ name: reserved, kind: "text" }] }, "fields[0].name");
    }
    await expectRefused(
      {
        name: "X",
        fields: [
          { name: "Email", kind: "text" },
          { name: "email", kind: "email" },
        ],
      },
      "fields[1].name",
    );
  });

  it("checks kinds and their options", async () => {
    await expectRefused({ name: "X", fields: [{ name: "a", kind: "nope" }] }, "fields[0].kind");
    await expectRefused({ name: "X", fields: [{ name: "a", kind: "enum" }] }, "fields[0].options.options");
    await expectRefused({ name: "X", fields: [{ name: "a", kind: "enum", options: { options: [] } }] }, "fields[0].options.options");
    await expectRefused({ name: "X", fields: [{ name: "a", kind: "enum", options: { options: ["x", "x"] } }] }, "fields[0].options.options");
    await expectRefused({ name: "X", fields: [{ name: "a", kind: "related" }] }, "fields[0].options.moduleID");
    await expectRefused({ name: "X", fields: [{ name: "a", kind: "related", options: { moduleID: "99999" } }] }, "fields[0].options.moduleID");
    await expectRefused({ name: "X", fields: [{ name: "a", kind: "number", options: { min: 5, max: 1 } }] }, "fields[0].options.min");
    await expectRefused({ name: "X", fields: [{ name: "a", kind: "bool", isMulti: true }] }, "fields[0].isMulti");
    await expectRefused({ name: "X", fields: [{ name: "a", kind: "text", isRequired: "yes" }] }, "fields[0].isRequired");
  });

  it("checks that defaultValue is a valid value of its kind", async () => {
    await expectRefused({ name: "X", fields: [{ name: "a", kind: "number", defaultValue: "12" }] }, "fields[0].defaultValue");
    await expectRefused({ name: "X", fields: [{ name: "a", kind: "enum", options: { options: ["x"] }, defaultValue: "y" }] }, "fields[0].defaultValue");
    await expectRefused({ name: "X", fields: [{ name: "a", kind: "email", defaultValue: "nope" }] }, "fields[0].defaultValue");
    await expectRefused({ name: "X", fields: [{ name: "a", kind: "text", maxLength: 3, defaultValue: "abcd" }] }, "fields[0].defaultValue");
    const ok = await call("/module/", { body: { name: "D", fields: [{ name: "when", kind: "stamp", defaultValue: "2026-01-01T10:00:00+02:00" }] } });
    expect(ok.status).toBe(201);
    expect(ok.json.response.fields[0].defaultValue).toBe("2026-01-01T08:00:00.000Z");
  });

  it("allows at most 100 fields", async () => {
    const fields = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `f${i}`, kind: "text" }));
    await expectRefused({ name: "X", fields: fields(101) }, "fields");
    expect((await call("/module/", { body: { name: "Wide", fields: fields(100) } })).status).toBe(201);
  });

  it("accepts related fields pointing at an existing module; related_multi is always multi", async () => {
    const target = await makeModule("Account");
    const res = await call("/module/", {
      body: {
        name: "Contact",
        fields: [
          { name: "account", kind: "related", options: { moduleID: Number(target.moduleID) } },
          { name: "others", kind: "related_multi", options: { moduleID: target.moduleID } },
        ],
      },
    });
    expect(res.status).toBe(201);
    expect(res.json.response.fields[0].options.moduleID).toBe(target.moduleID);
    expect(res.json.response.fields[1].isMulti).toBe(true);
  });
});

describe("GET /module/", () => {
  it("lists oldest first and filters by a case-insensitive name substring", async () => {
    await makeModule("Opportunity zz");
    await makeModule("OPPORTUNITY big");
    const all = await call("/module/");
    const ids = all.json.response.map((m: any) => Number(m.moduleID));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    const found = await call("/module/?query=opportunity");
    expect(found.json.response.map((m: any) => m.name)).toEqual(["Opportunity zz", "OPPORTUNITY big"]);
    expect((await call("/module/?query=%25")).json.response).toEqual([]);
  });
});

describe("GET/POST/DELETE /module/{moduleID}", () => {
  it("reads, replaces and deletes", async () => {
    const m = await makeModule("Editable");
    const read = await call(`/module/${m.moduleID}`);
    expect(read.json.response).toEqual(m);

    const edited = await call(`/module/${m.moduleID}`, {
      body: {
        name: "Edited",
        fields: [
          { name: "title", kind: "text" },
          { name: "n", kind: "number" },
        ],
      },
    });
    expect(edited.status).toBe(200);
    expect(edited.json.response.name).toBe("Edited");
    expect(edited.json.response.createdAt).toBe(m.createdAt);
    expect(edited.json.response.fields.map((f: any) => f.name)).toEqual(["title", "n"]);

    const del = await call(`/module/${m.moduleID}`, { method: "DELETE" });
    expect(del.status).toBe(200);
    expect(del.json).toEqual({ success: { message: "OK" } });
    expect((await call(`/module/${m.moduleID}`)).status).toBe(404);
    expect((await call(`/module/${m.moduleID}`, { method: "DELETE" })).status).toBe(404);
  });

  it("refuses an invalid edit and changes nothing", async () => {
    const m = await makeModule("Stable");
    const res = await call(`/module/${m.moduleID}`, { body: { name: "Stable2", fields: [{ name: "id", kind: "text" }] } });
    expect(res.status).toBe(400);
    expect((await call(`/module/${m.moduleID}`)).json.response).toEqual(m);
  });

  it("lets a related field point at its own module on edit", async () => {
    const m = await makeModule("Tree");
    const res = await call(`/module/${m.moduleID}`, {
      body: { name: "Tree", fields: [{ name: "parent", kind: "related", options: { moduleID: m.moduleID } }] },
    });
    expect(res.status).toBe(200);
  });

  it("answers 404 for editing a missing module", async () => {
    expect((await call("/module/987654", { body: { name: "x", fields: [{ name: "a", kind: "text" }] } })).status).toBe(404);
  });

  it("refuses to delete a module another module's related field points at", async () => {
    const target = await makeModule("Target");
    const source = await makeModule("Source", [{ name: "link", kind: "related", options: { moduleID: target.moduleID } }]);
    const res = await call(`/module/${target.moduleID}`, { method: "DELETE" });
    expect(res.status).toBe(409);
    expect(res.json.error.code).toBe("module_in_use");
    expect((await call(`/module/${target.moduleID}`)).status).toBe(200);
    expect((await call(`/module/${source.moduleID}`, { method: "DELETE" })).status).toBe(200);
    expect((await call(`/module/${target.moduleID}`, { method: "DELETE" })).status).toBe(200);
  });
});

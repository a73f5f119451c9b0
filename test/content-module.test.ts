// How module edits and deletes reach content: 409 when existing values would break, removed
// fields' values removed, content and indexes removed with the module.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, makeModule } from "./helpers";
import { indexDdl, indexName, MAX_FIELD_INDEXES } from "../src/content/storage";
import { SQLiteSyncDialect } from "drizzle-orm/sqlite-core";

/** Renders raw DDL (no parameters) as text. */
class DdlText {
  private readonly dialect = new SQLiteSyncDialect();
  sql(q: any) {
    return this.dialect.sqlToQuery(q).sql;
  }
}

const items = (m: any) => `/module/${m.moduleID}/content`;
const snapshot = async () => (await env.DB.prepare("select * from content order by id").all()).results;
const moduleRow = async (m: any) => (await call(`/module/${m.moduleID}`)).json.response;
const indexNames = async (m: any) =>
  ((await env.DB.prepare("select name from sqlite_master where type = 'index' and name like ?").bind(`cx_${m.moduleID}_%`).all()).results as any[])
    .map((r) => r.name.split("_")[2])
    .sort();

async function add(m: any, fields: Record<string, unknown>) {
  const res = await call(items(m), { body: { fields } });
  if (res.status !== 201) throw new Error(res.text);
  return res.json.response.contentID as string;
}

const edit = (m: any, fields: unknown[], name = m.name) => call(`/module/${m.moduleID}`, { body: { name, fields } });

describe("module edit: conflicts with existing content", () => {
  it("refuses a kind change that existing values do not fit, naming the field and count, changing nothing", async () => {
    const m = await makeModule("KindChange", [{ name: "code", kind: "text" }, { name: "n", kind: "number" }]);
    await add(m, { code: "abc", n: 1 });
    await add(m, { code: "123", n: 2 });
    await add(m, { n: 3 });
    const gone = await add(m, { code: "deleted" });
    await call(`${items(m)}/${gone}`, { method: "DELETE" }); // deleted items do not count
    const beforeModule = await moduleRow(m);
    const before = await snapshot();
    const res = await edit(m, [{ name: "code", kind: "number" }, { name: "n", kind: "number" }]);
    expect(res.status).toBe(409);
    expect(res.json.error.code).toBe("content_conflict");
    expect(res.json.error.details).toEqual([{ path: "fields[0].kind", message: expect.stringContaining("2 items") }]);
    expect(res.json.error.message).toContain("'code'");
    expect(await moduleRow(m)).toEqual(beforeModule);
    expect(await snapshot()).toEqual(before);
  });

  it("allows a kind change every existing value fits", async () => {
    const m = await makeModule("KindOk", [{ name: "s", kind: "text" }]);
    const id = await add(m, { s: "Open" });
    const res = await edit(m, [{ name: "s", kind: "enum", options: { options: ["Open", "Won"] } }]);
    expect(res.status).toBe(200);
    expect((await call(`${items(m)}/${id}`)).json.response.fields).toEqual([{ name: "s", value: "Open" }]);
    // and then refuses dropping an option that is in use
    const narrow = await edit(m, [{ name: "s", kind: "enum", options: { options: ["Won"] } }]);
    expect(narrow.status).toBe(409);
    expect(narrow.json.error.details[0]).toEqual({ path: "fields[0].options", message: expect.stringContaining("1 item") });
  });

  it("text to date: allowed when values are dates; they leave the search and become filterable as dates", async () => {
    const m = await makeModule("ToDate", [{ name: "d", kind: "text" }, { name: "t", kind: "text" }]);
    await add(m, { d: "2026-05-01", t: "x" });
    await add(m, { d: "2027-05-01", t: "y" });
    expect((await call(`${items(m)}?query=2026-05`)).json.response.meta.count).toBe(1);
    const res = await edit(m, [{ name: "d", kind: "date" }, { name: "t", kind: "text" }]);
    expect(res.status).toBe(200);
    expect((await call(`${items(m)}?query=2026-05`)).json.response.meta.count).toBe(0);
    expect((await call(`${items(m)}?query=x`)).json.response.meta.count).toBe(1);
    const f = await call(`${items(m)}?filter=${encodeURIComponent("d lt '2027-01-01'")}`);
    expect(f.json.response.meta.count).toBe(1);
    // and back to text: searchable again
    expect((await edit(m, [{ name: "d", kind: "text" }, { name: "t", kind: "text" }])).status).toBe(200);
    expect((await call(`${items(m)}?query=2026-05`)).json.response.meta.count).toBe(1);
    expect((await call(`${items(m)}?query=x`)).json.response.meta.count).toBe(1);
  });

  it("refuses a new isRequired while items lack a value, and allows it once they have one", async () => {
    const m = await makeModule("Req", [{ name: "a", kind: "text" }, { name: "b", kind: "text" }]);
    await add(m, { a: "x", b: "1" });
    const empty = await add(m, { b: "2" });
    const before = await snapshot();
    const res = await edit(m, [{ name: "a", kind: "text", isRequired: true }, { name: "b", kind: "text" }]);
    expect(res.status).toBe(409);
    expect(res.json.error.details).toEqual([{ path: "fields[0].isRequired", message: expect.stringContaining("1 item has no value") }]);
    expect(await snapshot()).toEqual(before);
    expect((await moduleRow(m)).fields[0].isRequired).toBe(false);
    await call(`${items(m)}/${empty}`, { body: { fields: { a: "now", b: "2" } } });
    expect((await edit(m, [{ name: "a", kind: "text", isRequired: true }, { name: "b", kind: "text" }])).status).toBe(200);
  });

  it("refuses a new required field while items exist", async () => {
    const m = await makeModule("NewReq", [{ name: "a", kind: "text" }]);
    await add(m, { a: "x" });
    const res = await edit(m, [{ name: "a", kind: "text" }, { name: "c", kind: "number", isRequired: true }]);
    expect(res.status).toBe(409);
    expect(res.json.error.details[0].path).toBe("fields[1].isRequired");
  });

  it("refuses a smaller maxLength, a narrower number range and single → multi when values break them", async () => {
    const m = await makeModule("Limits", [{ name: "s", kind: "text" }, { name: "n", kind: "number" }]);
    await add(m, { s: "abcdef", n: 10.25 });
    await add(m, { s: "ab", n: 5 });
    const cases: [unknown[], string, string][] = [
      [[{ name: "s", kind: "text", maxLength: 3 }, { name: "n", kind: "number" }], "fields[0].maxLength", "1 item"],
      [[{ name: "s", kind: "text" }, { name: "n", kind: "number", options: { max: 6 } }], "fields[1].options", "1 item"],
      [[{ name: "s", kind: "text" }, { name: "n", kind: "number", options: { precision: 0 } }], "fields[1].options", "1 item"],
      [[{ name: "s", kind: "text", isMulti: true }, { name: "n", kind: "number" }], "fields[0].isMulti", "2 items"],
    ];
    for (const [fields, path, count] of cases) {
      const res = await edit(m, fields);
      expect(res.status, path).toBe(409);
      expect(res.json.error.details).toEqual([{ path, message: expect.stringContaining(count) }]);
    }
    expect((await edit(m, [{ name: "s", kind: "text", maxLength: 6 }, { name: "n", kind: "number", options: { min: 5, max: 11 } }])).status).toBe(200);
  });

  it("refuses related fields pointing at items outside the new target module", async () => {
    const a = await makeModule("TargetA", [{ name: "x", kind: "text" }]);
    const b = await makeModule("TargetB", [{ name: "x", kind: "text" }]);
    const inA = await add(a, { x: "1" });
    const m = await makeModule("Pointer", [{ name: "r", kind: "related", options: { moduleID: a.moduleID } }]);
    await add(m, { r: inA });
    const res = await edit(m, [{ name: "r", kind: "related", options: { moduleID: b.moduleID } }]);
    expect(res.status).toBe(409);
    expect(res.json.error.details[0]).toEqual({ path: "fields[0].options", message: expect.stringContaining("1 item") });
  });
});

describe("module edit: removed fields", () => {
  it("removes the values of removed fields from every item, search included", async () => {
    const m = await makeModule("Removal", [
      { name: "keep", kind: "text" },
      { name: "drop", kind: "text" },
      { name: "num", kind: "number" },
    ]);
    const id = await add(m, { keep: "kept", drop: "secretword", num: 4 });
    const gone = await add(m, { keep: "k2", drop: "deletedword" });
    await call(`${items(m)}/${gone}`, { method: "DELETE" });
    expect((await call(`${items(m)}?query=secretword`)).json.response.meta.count).toBe(1);
    const res = await edit(m, [{ name: "keep", kind: "text" }]);
    expect(res.status).toBe(200);
    expect((await call(`${items(m)}/${id}`)).json.response.fields).toEqual([{ name: "keep", value: "kept" }]);
    expect((await call(`${items(m)}?query=secretword`)).json.response.meta.count).toBe(0);
    expect((await call(`${items(m)}?query=kept`)).json.response.meta.count).toBe(1);
    const rows = (await env.DB.prepare("select data, search from content where module_id = ?").bind(Number(m.moduleID)).all()).results as any[];
    for (const r of rows) {
      expect(Object.keys(JSON.parse(r.data))).toEqual(["keep"]); // deleted items too
      expect(r.search).not.toContain("word");
    }
    const f = await call(`${items(m)}?filter=${encodeURIComponent("drop eq 'secretword'")}`);
    expect(f.status).toBe(400);
    // a field added again under the old name starts empty
    expect((await edit(m, [{ name: "keep", kind: "text" }, { name: "drop", kind: "text" }])).status).toBe(200);
    expect((await call(`${items(m)}/${id}`)).json.response.fields).toEqual([{ name: "keep", value: "kept" }]);
    expect(await indexNames(m)).toEqual(["drop", "keep"]);
  });

  it("keeps indexes in step with the fields", async () => {
    const m = await makeModule("Idx", [{ name: "a", kind: "text" }, { name: "b", kind: "number" }, { name: "c", kind: "text", isMulti: true }]);
    expect(await indexNames(m)).toEqual(["a", "b"]);
    expect((await edit(m, [{ name: "b", kind: "text" }, { name: "d", kind: "date" }])).status).toBe(200);
    expect(await indexNames(m)).toEqual(["b", "d"]);
  });
});

describe("index budget", () => {
  const field = (name: string, kind = "text") => ({ name, kind, label: name, helpText: "", defaultValue: null, maxLength: 0, options: {}, isRequired: false, isPrivate: false, isVisible: true, isMulti: false });
  const ddlText = (ddl: any[]) => ddl.map((d) => new DdlText().sql(d));

  it("creates indexes in field order only while the global budget lasts, and drops what no field wants", () => {
    const fields = [field("a"), field("b", "number"), field("c", "textarea"), field("d", "date")];
    const others = Array.from({ length: MAX_FIELD_INDEXES - 2 }, (_, i) => `cx_999_f${i}_x`);
    const ddl = ddlText(indexDdl(5, fields, others));
    expect(ddl).toHaveLength(2);
    expect(ddl[0]).toContain(`"${indexName(5, fields[0])}"`);
    expect(ddl[1]).toContain(`"${indexName(5, fields[1])}"`);
    const existing = [...others.slice(1), indexName(5, fields[0]), "cx_5_gone_abc"];
    const again = ddlText(indexDdl(5, fields, existing));
    expect(again).toEqual([`DROP INDEX IF EXISTS "cx_5_gone_abc"`, expect.stringContaining(`"${indexName(5, fields[1])}"`), expect.stringContaining(`"${indexName(5, fields[3])}"`)]);
    expect(ddlText(indexDdl(5, [], existing))).toEqual([`DROP INDEX IF EXISTS "${indexName(5, fields[0])}"`, `DROP INDEX IF EXISTS "cx_5_gone_abc"`]);
  });

  it("gives a field renamed in case, or moved between text and non-text, a new index", () => {
    expect(indexName(1, field("Name"))).not.toBe(indexName(1, field("name")));
    expect(indexName(1, field("x", "text"))).not.toBe(indexName(1, field("x", "number")));
    expect(indexName(1, field("x", "text"))).toBe(indexName(1, field("x", "enum")));
  });
});

describe("module delete", () => {
  it("deletes the module's content and indexes", async () => {
    const m = await makeModule("Doomed", [{ name: "a", kind: "text" }]);
    const keep = await makeModule("Survivor", [{ name: "a", kind: "text" }]);
    await add(m, { a: "1" });
    await add(m, { a: "2" });
    await add(keep, { a: "3" });
    const res = await call(`/module/${m.moduleID}`, { method: "DELETE" });
    expect(res.status).toBe(200);
    const count = async (id: string) => ((await env.DB.prepare("select count(*) n from content where module_id = ?").bind(Number(id)).first()) as any).n;
    expect(await count(m.moduleID)).toBe(0);
    expect(await count(keep.moduleID)).toBe(1);
    expect(await indexNames(m)).toEqual([]);
    expect(await indexNames(keep)).toEqual(["a"]);
    expect((await call(items(m))).status).toBe(404);
  });

  it("refuses while another module's related field points at it, keeping the content", async () => {
    const t = await makeModule("Pointed", [{ name: "a", kind: "text" }]);
    await add(t, { a: "1" });
    await makeModule("Pointing", [{ name: "r", kind: "related_multi", options: { moduleID: t.moduleID } }]);
    const before = await snapshot();
    const res = await call(`/module/${t.moduleID}`, { method: "DELETE" });
    expect(res.status).toBe(409);
    expect(await snapshot()).toEqual(before);
    expect(await indexNames(t)).toEqual(["a"]);
  });
});

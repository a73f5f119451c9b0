// How module edits and deletes reach content: 409 when existing values would break, removed
// fields' values removed, content and indexes removed with the module.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, makeModule } from "./helpers";
import { MAX_TYPED_COLUMNS, MAX_TYPED_INDEXES, sameColumns, typedLayout } from "../src/module-model/typed-table";

const items = (m: any) => `/module/${m.moduleID}/content`;
const snapshot = async () => (await env.DB.prepare("select * from content order by id").all()).results;
const moduleRow = async (m: any) => (await call(`/module/${m.moduleID}`)).json.response;
/** The fields with an index of their own in the module's typed table. */
const indexNames = async (m: any) =>
  ((await env.DB.prepare("select name from sqlite_master where type = 'index' and tbl_name = ?").bind(`c_${m.moduleID}`).all()).results as any[])
    .map((r) => r.name.slice(`c_${m.moduleID}__`.length))
    .filter((n: string) => !n.includes("__") && !["created_at", "updated_at"].includes(n))
    .sort();

async function add(m: any, fields: Record<string, unknown>) {
  const res = await call(items(m), { body: { fields } });
  if (res.status !== 201) throw new Error(res.text);
  return res.json.response.contentID as string;
}

const edit = (m: any, fields: unknown[], name = m.name) => call(`/module/${m.moduleID}`, { body: { name, fields } });

describe("module edit: conflicts with existing content", () => {
  it("refuses a kind change that existing values do not fit, naming the field and count, changing nothing", async () => {
    const m = await makeModule("KindChange", [
      { name: "code", kind: "text" },
      { name: "n", kind: "number" },
    ]);
    await add(m, { code: "abc", n: 1 });
    await add(m, { code: "123", n: 2 });
    await add(m, { n: 3 });
    const gone = await add(m, { code: "deleted" });
    await call(`${items(m)}/${gone}`, { method: "DELETE" }); // deleted items do not count
    const beforeModule = await moduleRow(m);
    const before = await snapshot();
    const res = await edit(m, [
      { name: "code", kind: "number" },
      { name: "n", kind: "number" },
    ]);
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
    const m = await makeModule("ToDate", [
      { name: "d", kind: "text" },
      { name: "t", kind: "text" },
    ]);
    await add(m, { d: "2026-05-01", t: "x" });
    await add(m, { d: "2027-05-01", t: "y" });
    expect((await call(`${items(m)}?query=2026-05`)).json.response.meta.count).toBe(1);
    const res = await edit(m, [
      { name: "d", kind: "date" },
      { name: "t", kind: "text" },
    ]);
    expect(res.status).toBe(200);
    expect((await call(`${items(m)}?query=2026-05`)).json.response.meta.count).toBe(0);
    expect((await call(`${items(m)}?query=x`)).json.response.meta.count).toBe(1);
    const f = await call(`${items(m)}?filter=${encodeURIComponent("d lt '2027-01-01'")}`);
    expect(f.json.response.meta.count).toBe(1);
    // and back to text: searchable again
    expect(
      (
        await edit(m, [
          { name: "d", kind: "text" },
          { name: "t", kind: "text" },
        ])
      ).status,
    ).toBe(200);
    expect((await call(`${items(m)}?query=2026-05`)).json.response.meta.count).toBe(1);
    expect((await call(`${items(m)}?query=x`)).json.response.meta.count).toBe(1);
  });

  it("refuses a new isRequired while items lack a value, and allows it once they have one", async () => {
    const m = await makeModule("Req", [
      { name: "a", kind: "text" },
      { name: "b", kind: "text" },
    ]);
    await add(m, { a: "x", b: "1" });
    const empty = await add(m, { b: "2" });
    const before = await snapshot();
    const res = await edit(m, [
      { name: "a", kind: "text", isRequired: true },
      { name: "b", kind: "text" },
    ]);
    expect(res.status).toBe(409);
    expect(res.json.error.details).toEqual([{ path: "fields[0].isRequired", message: expect.stringContaining("1 item has no value") }]);
    expect(await snapshot()).toEqual(before);
    expect((await moduleRow(m)).fields[0].isRequired).toBe(false);
    await call(`${items(m)}/${empty}`, { body: { fields: { a: "now", b: "2" } } });
    expect(
      (
        await edit(m, [
          { name: "a", kind: "text", isRequired: true },
          { name: "b", kind: "text" },
        ])
      ).status,
    ).toBe(200);
  });

  it("refuses a new required field while items exist", async () => {
    const m = await makeModule("NewReq", [{ name: "a", kind: "text" }]);
    await add(m, { a: "x" });
    const res = await edit(m, [
      { name: "a", kind: "text" },
      { name: "c", kind: "number", isRequired: true },
    ]);
    expect(res.status).toBe(409);
    expect(res.json.error.details[0].path).toBe("fields[1].isRequired");
  });

  it("refuses a smaller maxLength, a narrower number range and single → multi when values break them", async () => {
    const m = await makeModule("Limits", [
      { name: "s", kind: "text" },
      { name: "n", kind: "number" },
    ]);
    await add(m, { s: "abcdef", n: 10.25 });
    await add(m, { s: "ab", n: 5 });
    const cases: [unknown[], string, string][] = [
      [
        [
          { name: "s", kind: "text", maxLength: 3 },
          { name: "n", kind: "number" },
        ],
        "fields[0].maxLength",
        "1 item",
      ],
      [
        [
          { name: "s", kind: "text" },
          { name: "n", kind: "number", options: { max: 6 } },
        ],
        "fields[1].options",
        "1 item",
      ],
      [
        [
          { name: "s", kind: "text" },
          { name: "n", kind: "number", options: { precision: 0 } },
        ],
        "fields[1].options",
        "1 item",
      ],
      [
        [
          { name: "s", kind: "text", isMulti: true },
          { name: "n", kind: "number" },
        ],
        "fields[0].isMulti",
        "2 items",
      ],
    ];
    for (const [fields, path, count] of cases) {
      const res = await edit(m, fields);
      expect(res.status, path).toBe(409);
      expect(res.json.error.details).toEqual([{ path, message: expect.stringContaining(count) }]);
    }
    expect(
      (
        await edit(m, [
          { name: "s", kind: "text", maxLength: 6 },
          { name: "n", kind: "number", options: { min: 5, max: 11 } },
        ])
      ).status,
    ).toBe(200);
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
    expect(
      (
        await edit(m, [
          { name: "keep", kind: "text" },
          { name: "drop", kind: "text" },
        ])
      ).status,
    ).toBe(200);
    expect((await call(`${items(m)}/${id}`)).json.response.fields).toEqual([{ name: "keep", value: "kept" }]);
    expect(await indexNames(m)).toEqual(["drop", "keep"]);
  });

  it("keeps indexes in step with the fields", async () => {
    const m = await makeModule("Idx", [
      { name: "a", kind: "text" },
      { name: "b", kind: "number" },
      { name: "c", kind: "text", isMulti: true },
    ]);
    expect(await indexNames(m)).toEqual(["a", "b"]);
    expect(
      (
        await edit(m, [
          { name: "b", kind: "text" },
          { name: "d", kind: "date" },
        ])
      ).status,
    ).toBe(200);
    expect(await indexNames(m)).toEqual(["b", "d"]);
  });
});

describe("typed table layout", () => {
  const field = (name: string, kind = "text", options: Record<string, unknown> = {}) =>
    ({
      name,
      kind,
      label: name,
      helpText: "",
      defaultValue: null,
      maxLength: 0,
      options,
      isRequired: false,
      isPrivate: false,
      isVisible: true,
      isMulti: false,
    }) as any;

  it("bounds columns at D1's 100 per table and indexes per table, whatever the module", () => {
    const fields = [
      ...Array.from({ length: 50 }, (_, i) => field(`n${i}`, "number")),
      ...Array.from({ length: 50 }, (_, i) => field(`e${i}`, "enum", { options: ["a"] })),
    ];
    const layout = typedLayout(5, fields);
    expect(layout.columns).toHaveLength(MAX_TYPED_COLUMNS);
    expect(MAX_TYPED_COLUMNS + 4).toBe(100);
    expect(layout.byField.has("e45")).toBe(true);
    expect(layout.byField.has("e46")).toBe(false); // read from the document
    expect(layout.indexes).toHaveLength(MAX_TYPED_INDEXES);
  });

  it("rebuilds for a new column set, a rename in case or a kind change; not for options or labels", () => {
    const a = [field("Name"), field("stage", "enum", { options: ["a"] })];
    expect(sameColumns(1, a, [field("Name"), field("stage", "enum", { options: ["a", "b"] })])).toBe(true);
    expect(sameColumns(1, a, [{ ...field("Name"), label: "Other" }, a[1]])).toBe(true);
    expect(sameColumns(1, a, [field("name"), a[1]])).toBe(false);
    expect(sameColumns(1, a, [field("Name"), field("stage", "text")])).toBe(false);
    expect(sameColumns(1, a, [field("Name"), { ...a[1], isMulti: true }])).toBe(false);
    expect(sameColumns(1, a, [a[0]])).toBe(false);
  });

  it("answers fields past the typed columns from the document: filter, sort and charts agree", async () => {
    const fields = Array.from({ length: 100 }, (_, i) => ({ name: `f${i}`, kind: i === 99 ? "number" : "text" }));
    const m = await makeModule("Wide", fields);
    for (const v of [3, 1, 2]) await add(m, { f0: `x${v}`, f99: v });
    const res = await call(`${items(m)}?${new URLSearchParams({ filter: "f99 ge 2", sort: "f99 desc" })}`);
    expect(res.status, res.text).toBe(200);
    expect(res.json.response.meta.count).toBe(2);
    expect(res.json.response.contents.map((c: any) => c.fields.find((f: any) => f.name === "f0").value)).toEqual(["x3", "x2"]);
    const chart = await call(`/module/${m.moduleID}/chart?${new URLSearchParams({ kind: "bar", groupBy: "f0", sum: "f99", filter: "f99 le 2" })}`);
    expect(chart.status, chart.text).toBe(200);
    expect(chart.json.response.data).toEqual([
      ["x1", 1],
      ["x2", 2],
    ]);
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

describe("modules written before typed tables", () => {
  it("are converted on first use: typed rows built from their items, the old JSON indexes dropped, answers unchanged", async () => {
    const m = await makeModule("Legacy", [
      { name: "name", kind: "text" },
      { name: "n", kind: "number" },
      { name: "tags", kind: "text", isMulti: true },
    ]);
    for (const [name, n] of [
      ["b", 2],
      ["a", 1],
      ["c", 3],
    ] as const)
      await add(m, { name, n, tags: [name] });
    const gone = await add(m, { name: "deleted", n: 9 });
    await call(`${items(m)}/${gone}`, { method: "DELETE" });
    const before = (await call(`${items(m)}?sort=n%20desc&query=a`)).json.response;
    // As the JSON layout left it: no typed table, no search index, one expression index per field.
    const id = Number(m.moduleID);
    await env.DB.batch([
      env.DB.prepare(`drop table c_${id}`),
      env.DB.prepare(`drop table s_${id}`),
      env.DB.prepare(`create index cx_${id}_name_x on content (module_id, json_extract(data, '$.name'), id) where module_id = ${id} and deleted_at is null`),
      env.DB.prepare("update modules set typed_table = 0 where id = ?").bind(id),
    ]);
    const after = await call(`${items(m)}?sort=n%20desc&query=a`);
    expect(after.status, after.text).toBe(200);
    expect(after.json.response).toEqual(before);
    expect((await call(`${items(m)}?filter=${encodeURIComponent("n ge 2")}`)).json.response.meta.count).toBe(2);
    const names = ((await env.DB.prepare("select name from sqlite_master").all()).results as any[]).map((r) => r.name);
    expect(names).not.toContain(`cx_${id}_name_x`);
    expect(names).toEqual(expect.arrayContaining([`c_${id}`, `s_${id}`]));
    expect(((await env.DB.prepare("select typed_table from modules where id = ?").bind(id).first()) as any).typed_table).toBe(1);
    expect(((await env.DB.prepare(`select count(*) as n from c_${id}`).first()) as any).n).toBe(3);
  });

  it("converts once when many requests race to do it", async () => {
    const m = await makeModule("LegacyRace", [{ name: "name", kind: "text" }]);
    for (const name of ["a", "b"]) await add(m, { name });
    await env.DB.prepare("update modules set typed_table = 0 where id = ?").bind(Number(m.moduleID)).run();
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? call(items(m)) : add(m, { name: `r${i}` }).then(() => ({ status: 201 })))));
    expect(results.every((r: any) => r.status === 200 || r.status === 201)).toBe(true);
    const count = (await call(items(m))).json.response.meta.count;
    expect(count).toBe(5);
    expect(((await env.DB.prepare(`select count(*) as n from c_${m.moduleID}`).first()) as any).n).toBe(5);
  });
});

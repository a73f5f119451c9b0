import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, makeModule, token } from "./helpers";
import { childIDs, expectRefused, makePage } from "./pages-helpers";

describe("POST /page/ and GET /page/{pageID}", () => {
  it("creates a page in the contract's shape with block defaults filled in", async () => {
    const res = await call("/page/", {
      body: { title: "Sales", blocks: [{ kind: "Chart", title: "Leads by country", width: 6, height: 4 }] },
    });
    expect(res.status, res.text).toBe(201);
    const page = res.json.response;
    expect(Object.keys(page)).toEqual(["pageID", "selfID", "moduleID", "title", "description", "visible", "weight", "blocks", "createdAt", "updatedAt"]);
    expect(page).toEqual({
      pageID: expect.stringMatching(/^[1-9][0-9]*$/),
      selfID: "0",
      moduleID: "0",
      title: "Sales",
      description: "",
      visible: true,
      weight: expect.any(Number),
      blocks: [{ kind: "Chart", title: "Leads by country", description: "", options: {}, x: 0, y: 0, width: 6, height: 4 }],
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      updatedAt: page.createdAt,
    });
    const read = await call(`/page/${page.pageID}`);
    expect(read.status).toBe(200);
    expect(read.json).toEqual({ response: page });
  });

  it("stores blocks in order, with every given attribute and unknown keys dropped", async () => {
    const blocks = [
      { kind: "Text", x: 0, y: 0, width: 12, height: 1, options: { text: "Hello", nested: { a: [1, 2] } } },
      { kind: "Chart", title: "T", description: "D", x: 3, y: 1, color: "red" },
      { kind: "List" },
    ];
    const page = await makePage({ blocks });
    expect(page.blocks).toEqual([
      { kind: "Text", title: "", description: "", options: { text: "Hello", nested: { a: [1, 2] } }, x: 0, y: 0, width: 12, height: 1 },
      { kind: "Chart", title: "T", description: "D", options: {}, x: 3, y: 1, width: 3, height: 3 },
      { kind: "List", title: "", description: "", options: {}, x: 0, y: 0, width: 3, height: 3 },
    ]);
    expect((await call(`/page/${page.pageID}`)).json.response.blocks).toEqual(page.blocks);
  });

  it("accepts IDs as numbers or strings, description and visible", async () => {
    const parent = await makePage({ title: "Parent" });
    const child = await makePage({ title: "Child", selfID: Number(parent.pageID), description: "About", visible: false });
    expect(child).toMatchObject({ selfID: parent.pageID, description: "About", visible: false, weight: 1 });
    const other = await makePage({ title: "Other", selfID: parent.pageID, moduleID: "0" });
    expect(other).toMatchObject({ selfID: parent.pageID, moduleID: "0", weight: 2 });
  });

  it("accepts urlencoded forms with blocks as a JSON string and visible as text", async () => {
    const res = await call("/page/", {
      form: { title: "Form page", blocks: JSON.stringify([{ kind: "Chart", x: 1 }]), visible: "false", description: "via form" },
    });
    expect(res.status, res.text).toBe(201);
    expect(res.json.response).toMatchObject({
      title: "Form page",
      visible: false,
      description: "via form",
      blocks: [{ kind: "Chart", x: 1, y: 0, width: 3, height: 3, title: "", description: "", options: {} }],
    });
    const shown = await call("/page/", { form: { title: "Shown", blocks: "[]", visible: "true" } });
    expect(shown.json.response.visible).toBe(true);
  });

  it("accepts multipart forms", async () => {
    const form = new FormData();
    form.set("title", "Multipart");
    form.set("blocks", JSON.stringify([{ kind: "Text" }]));
    const res = await exports.default.fetch(
      new Request("http://api.test/page/", { method: "POST", body: form, headers: { authorization: `Bearer ${await token()}` } }),
    );
    expect(res.status).toBe(201);
    const page = ((await res.json()) as any).response;
    expect(page.blocks[0].kind).toBe("Text");
  });

  it("answers 400 for malformed and 404 for unknown page IDs", async () => {
    for (const bad of ["abc", "0", "-1", "1.5", "01", "9007199254740993"]) {
      const res = await call(`/page/${bad}`);
      expect(res.status, bad).toBe(400);
      expect(res.json.error.code).toBe("invalid_id");
    }
    const missing = await call("/page/999999");
    expect(missing.status).toBe(404);
    expect(missing.json.error.code).toBe("not_found");
  });
});

describe("refused creates change nothing", () => {
  const create = (body: unknown) => () => call("/page/", { body });
  const form = (f: Record<string, string>) => () => call("/page/", { form: f });

  it("requires title and blocks", async () => {
    const noTitle = await expectRefused(create({ blocks: [] }), 400, { code: "invalid_input", path: "title" });
    expect(noTitle.json.error.details).toContainEqual({ path: "title", message: "is required" });
    const noBlocks = await expectRefused(create({ title: "X" }), 400, { path: "blocks" });
    expect(noBlocks.json.error.details).toContainEqual({ path: "blocks", message: "is required" });
    const neither = await expectRefused(create({}), 400);
    expect(neither.json.error.details.map((d: any) => d.path).sort()).toEqual(["blocks", "title"]);
    await expectRefused(create({ title: "   ", blocks: [] }), 400, { path: "title" });
    await expectRefused(create({ title: 5, blocks: [] }), 400, { path: "title" });
    await expectRefused(create({ title: "x".repeat(201), blocks: [] }), 400, { path: "title" });
    await expectRefused(create({ title: "X", blocks: [], description: 3 }), 400, { path: "description" });
    await expectRefused(form({ blocks: "[]" }), 400, { path: "title" });
    await expectRefused(form({ title: "X" }), 400, { path: "blocks" });
  });

  it("refuses malformed blocks, naming the block and attribute", async () => {
    const cases: [unknown, string][] = [
      [{}, "blocks"],
      [[{}], "blocks[0].kind"],
      [[{ kind: "" }], "blocks[0].kind"],
      [[{ kind: "  " }], "blocks[0].kind"],
      [[{ kind: 7 }], "blocks[0].kind"],
      [[{ kind: "A" }, "Chart"], "blocks[1]"],
      [[{ kind: "A" }, null], "blocks[1]"],
      [[{ kind: "A", x: -1 }], "blocks[0].x"],
      [[{ kind: "A", y: 1.5 }], "blocks[0].y"],
      [[{ kind: "A", x: "1" }], "blocks[0].x"],
      [[{ kind: "A", x: 1e20 }], "blocks[0].x"],
      [[{ kind: "A", width: 0 }], "blocks[0].width"],
      [[{ kind: "A", height: -3 }], "blocks[0].height"],
      [[{ kind: "A", title: 1 }], "blocks[0].title"],
      [[{ kind: "A", description: null }], "blocks[0].description"],
      [[{ kind: "A", options: [] }], "blocks[0].options"],
      [[{ kind: "A", options: "x" }], "blocks[0].options"],
      [Array.from({ length: 101 }, () => ({ kind: "A" })), "blocks"],
    ];
    for (const [blocks, path] of cases) {
      await expectRefused(create({ title: "X", blocks }), 400, { path });
    }
    await expectRefused(form({ title: "X", blocks: "not json" }), 400, { path: "blocks" });
    await expectRefused(form({ title: "X", blocks: '{"kind":"A"}' }), 400, { path: "blocks" });
    await expectRefused(form({ title: "X", blocks: '[{"kind":"A","width":0}]' }), 400, { path: "blocks[0].width" });
    // exactly 100 blocks is fine
    const hundred = await call("/page/", { body: { title: "Many", blocks: Array.from({ length: 100 }, (_, i) => ({ kind: `K${i}` })) } });
    expect(hundred.status).toBe(201);
    expect(hundred.json.response.blocks).toHaveLength(100);
    expect(hundred.json.response.blocks[99].kind).toBe("K99");
  });

  it("refuses visible that is not a boolean", async () => {
    await expectRefused(create({ title: "X", blocks: [], visible: "yes" }), 400, { path: "visible" });
    await expectRefused(create({ title: "X", blocks: [], visible: 1 }), 400, { path: "visible" });
    await expectRefused(form({ title: "X", blocks: "[]", visible: "1" }), 400, { path: "visible" });
    await expectRefused(form({ title: "X", blocks: "[]", visible: "" }), 400, { path: "visible" });
  });

  it("refuses a missing or malformed parent", async () => {
    const missing = await expectRefused(create({ title: "X", blocks: [], selfID: "999999" }), 400, { path: "selfID" });
    expect(missing.json.error.details[0].message).toContain("does not exist");
    for (const selfID of ["abc", -1, 1.5, "01", "", true]) {
      await expectRefused(create({ title: "X", blocks: [], selfID }), 400, { path: "selfID" });
    }
    await expectRefused(form({ title: "X", blocks: "[]", selfID: "nope" }), 400, { path: "selfID" });
  });

  it("refuses an unknown or malformed module", async () => {
    await expectRefused(create({ title: "X", blocks: [], moduleID: "999999" }), 400, { path: "moduleID" });
    await expectRefused(create({ title: "X", blocks: [], moduleID: "x" }), 400, { path: "moduleID" });
  });
});

describe("record pages", () => {
  it("makes a page a module's record page, at most one per module", async () => {
    const mod = await makeModule("RecordMod");
    const page = await makePage({ title: "Lead record", moduleID: mod.moduleID });
    expect(page.moduleID).toBe(mod.moduleID);
    const dup = await expectRefused(() => call("/page/", { body: { title: "Again", blocks: [], moduleID: Number(mod.moduleID) } }), 409, {
      path: "moduleID",
    });
    expect(dup.json.error.message).toContain(`page ${page.pageID}`);
    // moving another page onto the module by edit is refused the same way
    const other = await makePage({ title: "Other" });
    await expectRefused(() => call(`/page/${other.pageID}`, { body: { moduleID: mod.moduleID } }), 409, { path: "moduleID" });
    // the record page itself may be edited keeping its module
    const edit = await call(`/page/${page.pageID}`, { body: { moduleID: mod.moduleID, title: "Renamed" } });
    expect(edit.status).toBe(200);
    expect(edit.json.response).toMatchObject({ moduleID: mod.moduleID, title: "Renamed" });
  });

  it("blocks deleting a module while a record page points at it", async () => {
    const mod = await makeModule("Guarded");
    const page = await makePage({ title: "Guarded record", moduleID: mod.moduleID });
    const res = await call(`/module/${mod.moduleID}`, { method: "DELETE" });
    expect(res.status).toBe(409);
    expect(res.json.error.code).toBe("module_in_use");
    expect((await call(`/module/${mod.moduleID}`)).status).toBe(200);
    // once the page lets go of the module, the module can go
    const released = await call(`/page/${page.pageID}`, { body: { moduleID: "0" } });
    expect(released.json.response.moduleID).toBe("0");
    expect((await call(`/module/${mod.moduleID}`, { method: "DELETE" })).status).toBe(200);
    // and after deleting the record page instead
    const mod2 = await makeModule("Guarded2");
    const page2 = await makePage({ title: "Guarded2 record", moduleID: mod2.moduleID });
    expect((await call(`/module/${mod2.moduleID}`, { method: "DELETE" })).status).toBe(409);
    expect((await call(`/page/${page2.pageID}`, { method: "DELETE" })).status).toBe(200);
    expect((await call(`/module/${mod2.moduleID}`, { method: "DELETE" })).status).toBe(200);
  });

  it("keeps record pages out of the tree but lists them among their parent's children", async () => {
    const mod = await makeModule("TreeMod");
    const parent = await makePage({ title: "Has a record page" });
    const normal = await makePage({ title: "Normal child", selfID: parent.pageID });
    const record = await makePage({ title: "Record child", selfID: parent.pageID, moduleID: mod.moduleID });
    expect(await childIDs(parent.pageID)).toEqual([normal.pageID, record.pageID]);
    const tree = (await call("/page/tree")).json.response;
    const node = tree.find((n: any) => n.pageID === parent.pageID);
    expect(node.children.map((c: any) => c.pageID)).toEqual([normal.pageID]);
    expect(JSON.stringify(tree)).not.toContain(`"moduleID":"${mod.moduleID}"`);
  });

  it("gives record pages no children", async () => {
    const mod = await makeModule("Leafy");
    const record = await makePage({ title: "Leafy record", moduleID: mod.moduleID });
    await expectRefused(() => call("/page/", { body: { title: "Under record", blocks: [], selfID: record.pageID } }), 400, { path: "selfID" });
    const loose = await makePage({ title: "Loose" });
    await expectRefused(() => call(`/page/${loose.pageID}`, { body: { selfID: record.pageID } }), 400, { path: "selfID" });
    // a page with children cannot become a record page
    const mod2 = await makeModule("Leafy2");
    const parent = await makePage({ title: "Parent" });
    await makePage({ title: "Kid", selfID: parent.pageID });
    await expectRefused(() => call(`/page/${parent.pageID}`, { body: { moduleID: mod2.moduleID } }), 409, {
      code: "page_has_children",
      path: "moduleID",
    });
  });
});

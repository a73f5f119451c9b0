import { describe, expect, it } from "vitest";
import { call } from "./helpers";
import { childIDs, expectRefused, makePage, snapshot } from "./pages-helpers";

const edit = (pageID: string, body: Record<string, unknown>) => call(`/page/${pageID}`, { body });
const reorder = (selfID: string | number, pageIDs: unknown) => call(`/page/${selfID}/reorder`, { body: { pageIDs } });
const weights = async (selfID: string) => (await call(`/page/?selfID=${selfID}`)).json.response.map((p: any) => p.weight);

/** A parent with `n` children titled c0..c(n-1); answers the parent's ID and the children's IDs. */
async function family(n: number, title = "Family") {
  const parent = await makePage({ title });
  const kids: string[] = [];
  for (let i = 0; i < n; i++) kids.push((await makePage({ title: `c${i}`, selfID: parent.pageID })).pageID);
  return { parent: parent.pageID, kids };
}

describe("ordering", () => {
  it("makes each new page its parent's last child", async () => {
    const { parent, kids } = await family(4);
    expect(await childIDs(parent)).toEqual(kids);
    expect(await weights(parent)).toEqual([1, 2, 3, 4]);
    const top = await childIDs(0);
    expect(top.at(-1)).toBe(parent);
    const next = await makePage({ title: "Later top" });
    expect((await childIDs(0)).at(-1)).toBe(next.pageID);
  });

  it("lists children by weight then pageID, top level by default", async () => {
    const { parent } = await family(2);
    const res = await call(`/page/?selfID=${parent}`);
    expect(res.json.response.every((p: any) => p.selfID === parent)).toBe(true);
    expect((await call("/page/")).json.response.every((p: any) => p.selfID === "0")).toBe(true);
    expect(await childIDs("0")).toEqual((await call("/page")).json.response.map((p: any) => p.pageID));
    const leaf = await makePage({ title: "Leaf" });
    expect(await childIDs(leaf.pageID)).toEqual([]);
  });

  it("answers 400 for a malformed selfID and 404 for an unknown one", async () => {
    for (const bad of ["abc", "-1", "1.5", "01"]) {
      const res = await call(`/page/?selfID=${bad}`);
      expect(res.status, bad).toBe(400);
      expect(res.json.error.details[0].path).toBe("selfID");
    }
    expect((await call("/page/?selfID=999999")).status).toBe(404);
  });

  it("reorders children and keeps the order on later reads", async () => {
    const { parent, kids } = await family(4);
    const order = [kids[2], kids[0], kids[3], kids[1]];
    const res = await reorder(parent, order);
    expect(res.status, res.text).toBe(200);
    expect(res.json).toEqual({ success: { message: "OK" } });
    expect(await childIDs(parent)).toEqual(order);
    expect(await weights(parent)).toEqual([1, 2, 3, 4]);
    // numbers as well as strings; a form sends the list as a JSON string
    expect((await reorder(parent, order.map(Number).reverse())).status).toBe(200);
    expect(await childIDs(parent)).toEqual([...order].reverse());
    const form = await call(`/page/${parent}/reorder`, { form: { pageIDs: JSON.stringify(kids) } });
    expect(form.status, form.text).toBe(200);
    expect(await childIDs(parent)).toEqual(kids);
    // a new child still lands last after a reorder
    const late = await makePage({ title: "late", selfID: parent });
    expect(await childIDs(parent)).toEqual([...kids, late.pageID]);
  });

  it("touches updatedAt only of pages whose weight changed", async () => {
    const { parent, kids } = await family(3);
    const before = (await call(`/page/?selfID=${parent}`)).json.response;
    await new Promise((r) => setTimeout(r, 5));
    expect((await reorder(parent, [kids[0], kids[2], kids[1]])).status).toBe(200);
    const after = (await call(`/page/?selfID=${parent}`)).json.response;
    const byId = (list: any[], id: string) => list.find((p) => p.pageID === id);
    expect(byId(after, kids[0]).updatedAt).toBe(byId(before, kids[0]).updatedAt);
    expect(byId(after, kids[1]).updatedAt > byId(before, kids[1]).updatedAt).toBe(true);
  });

  it("reorders the top level with selfID 0", async () => {
    const top = await childIDs(0);
    const reversed = [...top].reverse();
    const res = await reorder(0, reversed);
    expect(res.status, res.text).toBe(200);
    expect(await childIDs(0)).toEqual(reversed);
  });

  it("reorders many children at once (more than D1's 100 bound parameters)", async () => {
    const parent = await makePage({ title: "Crowd" });
    const kids: string[] = [];
    for (let i = 0; i < 120; i++) kids.push((await makePage({ title: `k${i}`, selfID: parent.pageID })).pageID);
    const shuffled = [...kids].sort((a, b) => ((Number(a) * 7919) % 127) - ((Number(b) * 7919) % 127));
    const res = await reorder(parent.pageID, shuffled);
    expect(res.status, res.text).toBe(200);
    expect(await childIDs(parent.pageID)).toEqual(shuffled);
  });

  it("keeps the order of the remaining children after a delete", async () => {
    const { parent, kids } = await family(4);
    expect((await call(`/page/${kids[1]}`, { method: "DELETE" })).json).toEqual({ success: { message: "OK" } });
    expect((await call(`/page/${kids[1]}`)).status).toBe(404);
    expect(await childIDs(parent)).toEqual([kids[0], kids[2], kids[3]]);
    expect((await reorder(parent, [kids[3], kids[0], kids[2]])).status).toBe(200);
    expect((await call(`/page/${kids[0]}`, { method: "DELETE" })).status).toBe(200);
    expect(await childIDs(parent)).toEqual([kids[3], kids[2]]);
    const late = await makePage({ title: "late", selfID: parent });
    expect(await childIDs(parent)).toEqual([kids[3], kids[2], late.pageID]);
  });
});

describe("reorder refusals change nothing", () => {
  it("refuses missing, extra, foreign, unknown and duplicate IDs", async () => {
    const { parent, kids } = await family(3, "Strict");
    const other = await family(1, "Elsewhere");
    const missing = await expectRefused(() => reorder(parent, [kids[0], kids[1]]), 400, { path: "pageIDs" });
    expect(missing.json.error.details[0].message).toContain(`page ${kids[2]} is missing`);
    const foreign = await expectRefused(() => reorder(parent, [...kids, other.kids[0]]), 400, { path: "pageIDs[3]" });
    expect(foreign.json.error.details[0].message).toContain(`is a child of page ${other.parent}`);
    const topLevel = await expectRefused(() => reorder(parent, [...kids, other.parent]), 400, { path: "pageIDs[3]" });
    expect(topLevel.json.error.details[0].message).toContain("is a top-level page");
    const unknown = await expectRefused(() => reorder(parent, [...kids, "999999"]), 400, { path: "pageIDs[3]" });
    expect(unknown.json.error.details[0].message).toContain("does not exist");
    const swapped = await expectRefused(() => reorder(parent, [kids[0], kids[1], other.kids[0]]), 400, { path: "pageIDs[2]" });
    expect(swapped.json.error.details.map((d: any) => d.path)).toEqual(["pageIDs[2]", "pageIDs"]);
    await expectRefused(() => reorder(parent, [kids[0], kids[1], kids[2], kids[1]]), 400, { path: "pageIDs[3]" });
    await expectRefused(() => reorder(parent, [kids[0], kids[1], kids[1]]), 400, { path: "pageIDs[2]" });
    await expectRefused(() => reorder(parent, [kids[0], parent, kids[1], kids[2]]), 400, { path: "pageIDs[1]" });
    await expectRefused(() => reorder(parent, []), 400, { path: "pageIDs" });
    // the top level takes exactly the top-level pages
    const top = await childIDs(0);
    const notTop = await expectRefused(() => reorder(0, [...top, kids[0]]), 400, { path: `pageIDs[${top.length}]` });
    expect(notTop.json.error.details[0].message).toBe(`page ${kids[0]} is a child of page ${parent}, not a top-level page`);
    await expectRefused(() => reorder(0, top.slice(1)), 400, { path: "pageIDs" });
  });

  it("refuses malformed pageIDs and selfID", async () => {
    const { parent, kids } = await family(2, "Typed");
    await expectRefused(() => call(`/page/${parent}/reorder`, { body: {} }), 400, { path: "pageIDs" });
    await expectRefused(() => reorder(parent, kids.join(",")), 400, { path: "pageIDs" });
    await expectRefused(() => reorder(parent, { a: kids[0] }), 400, { path: "pageIDs" });
    await expectRefused(() => reorder(parent, [kids[0], "x"]), 400, { path: "pageIDs[1]" });
    await expectRefused(() => reorder(parent, [kids[0], 0]), 400, { path: "pageIDs[1]" });
    await expectRefused(() => reorder(parent, [kids[0], -4]), 400, { path: "pageIDs[1]" });
    await expectRefused(() => call(`/page/${parent}/reorder`, { form: { pageIDs: "not json" } }), 400, { path: "pageIDs" });
    for (const bad of ["abc", "-1", "1.5", "01", "00"]) {
      await expectRefused(() => reorder(bad, kids), 400, { code: "invalid_id", path: "selfID" });
    }
    await expectRefused(() => reorder("999999", []), 404, { code: "not_found" });
  });

  it("accepts an empty list for a page without children", async () => {
    const leaf = await makePage({ title: "Childless" });
    expect((await reorder(leaf.pageID, [])).status).toBe(200);
  });
});

describe("edit", () => {
  it("changes only the parameters given and keeps the weight", async () => {
    const { parent, kids } = await family(3, "Editing");
    const before = (await call(`/page/${kids[1]}`)).json.response;
    await new Promise((r) => setTimeout(r, 5));
    const res = await edit(kids[1], { title: "Renamed", blocks: [{ kind: "Text", options: { text: "hi" } }] });
    expect(res.status, res.text).toBe(200);
    const after = res.json.response;
    expect(after).toMatchObject({ title: "Renamed", selfID: parent, weight: before.weight, description: "", visible: true });
    expect(after.blocks).toEqual([{ kind: "Text", title: "", description: "", options: { text: "hi" }, x: 0, y: 0, width: 3, height: 3 }]);
    expect(after.createdAt).toBe(before.createdAt);
    expect(after.updatedAt > before.updatedAt).toBe(true);
    expect(await childIDs(parent)).toEqual(kids);
    // weight is not a parameter: ignored like any unknown one
    const ignored = await edit(kids[1], { weight: 99, color: "red" });
    expect(ignored.status).toBe(200);
    expect(ignored.json.response.weight).toBe(before.weight);
    const made = await call("/page/", { body: { title: "w", blocks: [], selfID: parent, weight: 0 } });
    expect(made.json.response.weight).toBe(4);
    await call(`/page/${made.json.response.pageID}`, { method: "DELETE" });
    // naming the current parent again is not a move
    const same = await edit(kids[1], { selfID: parent, description: "d" });
    expect(same.json.response).toMatchObject({ weight: before.weight, description: "d", title: "Renamed" });
    expect(await childIDs(parent)).toEqual(kids);
    // a form edit
    const form = await call(`/page/${kids[1]}`, { form: { visible: "false", blocks: "[]" } });
    expect(form.status, form.text).toBe(200);
    expect(form.json.response).toMatchObject({ visible: false, blocks: [], title: "Renamed" });
  });

  it("moves a page to be its new parent's last child", async () => {
    const a = await family(3, "A");
    const b = await family(2, "B");
    const moved = await edit(a.kids[0], { selfID: b.parent });
    expect(moved.status, moved.text).toBe(200);
    expect(moved.json.response.selfID).toBe(b.parent);
    expect(await childIDs(b.parent)).toEqual([...b.kids, a.kids[0]]);
    expect(await childIDs(a.parent)).toEqual([a.kids[1], a.kids[2]]);
    // after a reorder that gives high weights to early IDs, the moved page still lands last
    await reorder(b.parent, [a.kids[0], b.kids[1], b.kids[0]]);
    const back = await edit(b.kids[0], { selfID: Number(a.parent) });
    expect(back.status).toBe(200);
    expect(await childIDs(a.parent)).toEqual([a.kids[1], a.kids[2], b.kids[0]]);
    // to the top level and back
    const top = await edit(b.kids[1], { selfID: "0" });
    expect(top.json.response.selfID).toBe("0");
    expect((await childIDs(0)).at(-1)).toBe(b.kids[1]);
    await edit(b.kids[1], { selfID: b.parent });
    expect(await childIDs(b.parent)).toEqual([a.kids[0], b.kids[1]]);
  });

  it("refuses a page becoming its own ancestor, at any depth", async () => {
    // root > l1 > l2 > l3 > l4
    const root = await makePage({ title: "root" });
    const chain = [root.pageID];
    for (let i = 1; i <= 4; i++) chain.push((await makePage({ title: `l${i}`, selfID: chain[i - 1] })).pageID);
    const self = await expectRefused(() => edit(root.pageID, { selfID: root.pageID }), 400, { path: "selfID" });
    expect(self.json.error.details[0].message).toContain("own parent");
    for (const below of chain.slice(1)) {
      const res = await expectRefused(() => edit(root.pageID, { selfID: below }), 400, { path: "selfID" });
      expect(res.json.error.details[0].message).toContain("own ancestor");
    }
    await expectRefused(() => edit(chain[2], { selfID: chain[4] }), 400, { path: "selfID" });
    await expectRefused(() => call(`/page/${chain[1]}`, { form: { selfID: chain[3] } }), 400, { path: "selfID" });
    // moving a subtree up or sideways is fine and carries its descendants
    const ok = await edit(chain[3], { selfID: root.pageID });
    expect(ok.status).toBe(200);
    expect(await childIDs(root.pageID)).toEqual([chain[1], chain[3]]);
    expect(await childIDs(chain[3])).toEqual([chain[4]]);
    // and the former descendant can now take in its former ancestor
    expect((await edit(chain[2], { selfID: chain[4] })).status).toBe(200);
    expect(await childIDs(chain[4])).toEqual([chain[2]]);
  });

  it("refuses bad edits and changes nothing", async () => {
    const { kids } = await family(1, "Careful");
    const id = kids[0];
    await expectRefused(() => edit(id, { selfID: "999999" }), 400, { path: "selfID" });
    await expectRefused(() => edit(id, { selfID: "x" }), 400, { path: "selfID" });
    await expectRefused(() => edit(id, { moduleID: "999999" }), 400, { path: "moduleID" });
    await expectRefused(() => edit(id, { title: "" }), 400, { path: "title" });
    await expectRefused(() => edit(id, { title: null }), 400, { path: "title" });
    await expectRefused(() => edit(id, { visible: "maybe" }), 400, { path: "visible" });
    await expectRefused(() => edit(id, { blocks: [{ kind: "A", width: 0 }] }), 400, { path: "blocks[0].width" });
    await expectRefused(() => edit(id, { blocks: null }), 400, { path: "blocks" });
    await expectRefused(() => call(`/page/${id}`, { form: { blocks: "[{}]" } }), 400, { path: "blocks[0].kind" });
    // a valid title next to a bad parent is not applied either
    await expectRefused(() => edit(id, { title: "Half", selfID: "999999" }), 400, { path: "selfID" });
    await expectRefused(() => edit("999999", { title: "Ghost" }), 404, { code: "not_found" });
    await expectRefused(() => edit("0", { title: "Zero" }), 400, { code: "invalid_id" });
  });
});

describe("delete", () => {
  it("refuses a page with children until they are gone", async () => {
    const { parent, kids } = await family(2, "Doomed");
    const res = await expectRefused(() => call(`/page/${parent}`, { method: "DELETE" }), 409, { code: "page_has_children" });
    expect(res.json.error.details[0].message).toContain(kids.join(", "));
    await call(`/page/${kids[0]}`, { method: "DELETE" });
    await expectRefused(() => call(`/page/${parent}`, { method: "DELETE" }), 409);
    await edit(kids[1], { selfID: 0 });
    expect((await call(`/page/${parent}`, { method: "DELETE" })).status).toBe(200);
    expect((await call(`/page/${parent}`)).status).toBe(404);
    await expectRefused(() => call(`/page/${parent}`, { method: "DELETE" }), 404);
  });
});

describe("GET /page/tree", () => {
  it("nests every non-record page with ordered children, top level first", async () => {
    // a fresh subtree four levels deep: T > (T1 > (T11 > T111), T2)
    const t = await makePage({ title: "T" });
    const t1 = await makePage({ title: "T1", selfID: t.pageID });
    const t2 = await makePage({ title: "T2", selfID: t.pageID });
    const t11 = await makePage({ title: "T11", selfID: t1.pageID });
    const t111 = await makePage({ title: "T111", selfID: t11.pageID, blocks: [{ kind: "Deep" }] });
    await reorder(t.pageID, [t2.pageID, t1.pageID]);

    const res = await call("/page/tree");
    expect(res.status).toBe(200);
    const tree = res.json.response;
    expect(tree.map((n: any) => n.pageID)).toEqual(await childIDs(0));
    const node = tree.find((n: any) => n.pageID === t.pageID);
    expect(Object.keys(node)).toEqual([
      "pageID",
      "selfID",
      "moduleID",
      "title",
      "description",
      "visible",
      "weight",
      "blocks",
      "createdAt",
      "updatedAt",
      "children",
    ]);
    const titles = (n: any): unknown => ({ [n.title]: n.children.map(titles) });
    expect(titles(node)).toEqual({ T: [{ T2: [] }, { T1: [{ T11: [{ T111: [] }] }] }] });
    expect(node.children[1].children[0].children[0]).toMatchObject({
      pageID: t111.pageID,
      selfID: t11.pageID,
      blocks: [{ kind: "Deep", title: "", description: "", options: {}, x: 0, y: 0, width: 3, height: 3 }],
      children: [],
    });
    // every non-record page appears exactly once
    const all: string[] = [];
    const walk = (n: any) => {
      all.push(n.pageID);
      n.children.forEach(walk);
    };
    tree.forEach(walk);
    const rows = (await snapshot()).filter((r: any) => r.module_id === null).map((r: any) => String(r.id));
    expect(all.sort()).toEqual(rows.sort());

    // moves show up in the tree: T111 to the top level
    await edit(t111.pageID, { selfID: 0 });
    const after = (await call("/page/tree")).json.response;
    expect(after.at(-1).pageID).toBe(t111.pageID);
    expect(titles(after.find((n: any) => n.pageID === t.pageID))).toEqual({ T: [{ T2: [] }, { T1: [{ T11: [] }] }] });
  });

  it("answers 405 for other methods on /page/tree", async () => {
    const res = await call("/page/tree", { method: "POST", body: { title: "x", blocks: [] } });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toContain("GET");
    expect((await call("/page/tree", { method: "DELETE" })).status).toBe(405);
  });
});

describe("documentation", () => {
  it("lists the page routes in /openapi.json", async () => {
    const res = await call("/openapi.json", { token: null });
    expect(res.status).toBe(200);
    expect(Object.keys(res.json.paths)).toEqual(expect.arrayContaining(["/page/", "/page/tree", "/page/{pageID}", "/page/{selfID}/reorder"]));
    expect(res.json.paths["/page/"].post.requestBody.content).toHaveProperty("application/x-www-form-urlencoded");
    expect(res.json.components.schemas).toHaveProperty("Page");
  });
});

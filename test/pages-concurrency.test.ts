// Requests racing each other: each write repeats its checks inside its own statement, so whatever
// the interleaving, the tree never gains a cycle, an orphan, a duplicate record page or a mixed order.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, makeModule } from "./helpers";
import { childIDs, makePage } from "./pages-helpers";

const edit = (pageID: string, body: Record<string, unknown>) => call(`/page/${pageID}`, { body });

async function rows() {
  return (
    await env.DB.prepare("select id, self_id, module_id, weight from pages").all<{ id: number; self_id: number; module_id: number | null; weight: number }>()
  ).results;
}

/** No page is its own ancestor and every parent exists. */
async function assertSoundTree() {
  const all = await rows();
  const parent = new Map(all.map((r) => [r.id, r.self_id]));
  for (const r of all) {
    if (r.self_id !== 0) expect(parent.has(r.self_id), `page ${r.id} has a missing parent ${r.self_id}`).toBe(true);
    const seen = new Set<number>();
    for (let at = r.id; at !== 0 && at !== undefined; at = parent.get(at)!) {
      expect(seen.has(at), `cycle through page ${r.id}`).toBe(false);
      seen.add(at);
    }
  }
}

describe("concurrent requests", () => {
  it("never build a cycle from two crossing moves", async () => {
    for (let round = 0; round < 8; round++) {
      const a = await makePage({ title: `A${round}` });
      const b = await makePage({ title: `B${round}` });
      const [ab, ba] = await Promise.all([edit(a.pageID, { selfID: b.pageID }), edit(b.pageID, { selfID: a.pageID })]);
      const statuses = [ab.status, ba.status].sort();
      expect(statuses[0], `${ab.text} ${ba.text}`).toBe(200);
      expect([400, 409]).toContain(statuses[1]);
      await assertSoundTree();
    }
  });

  it("never leave an orphan when a child is created while its parent is deleted", async () => {
    for (let round = 0; round < 8; round++) {
      const parent = await makePage({ title: `P${round}` });
      const [created, deleted] = await Promise.all([
        call("/page/", { body: { title: "child", blocks: [], selfID: parent.pageID } }),
        call(`/page/${parent.pageID}`, { method: "DELETE" }),
      ]);
      if (created.status === 201) expect(deleted.status).toBe(409);
      else {
        expect(created.status, created.text).toBe(400);
        expect(deleted.status).toBe(200);
      }
      await assertSoundTree();
    }
  });

  it("give concurrent new children distinct weights in arrival order", async () => {
    const parent = await makePage({ title: "Busy" });
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => call("/page/", { body: { title: `n${i}`, blocks: [], selfID: parent.pageID } })));
    expect(results.map((r) => r.status)).toEqual(Array(10).fill(201));
    const weights = results.map((r) => r.json.response.weight).sort((x, y) => x - y);
    expect(weights).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const ids = await childIDs(parent.pageID);
    expect(new Set(ids).size).toBe(10);
  });

  it("create one record page per module even when two requests race", async () => {
    for (let round = 0; round < 5; round++) {
      const mod = await makeModule(`Race${round}`);
      const results = await Promise.all([1, 2, 3].map((i) => call("/page/", { body: { title: `record ${i}`, blocks: [], moduleID: mod.moduleID } })));
      expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409]);
      const pages = (await rows()).filter((r) => r.module_id === Number(mod.moduleID));
      expect(pages).toHaveLength(1);
    }
  });

  it("apply a reorder whole or not at all while children come and go", async () => {
    for (let round = 0; round < 6; round++) {
      const parent = await makePage({ title: `R${round}` });
      const kids: string[] = [];
      for (let i = 0; i < 4; i++) kids.push((await makePage({ title: `k${i}`, selfID: parent.pageID })).pageID);
      const before = (await rows()).filter((r) => r.self_id === Number(parent.pageID));
      const order = [...kids].reverse();
      const [reordered, added] = await Promise.all([
        call(`/page/${parent.pageID}/reorder`, { body: { pageIDs: order } }),
        call("/page/", { body: { title: "intruder", blocks: [], selfID: parent.pageID } }),
      ]);
      expect(added.status).toBe(201);
      const after = (await rows()).filter((r) => r.self_id === Number(parent.pageID) && kids.includes(String(r.id)));
      if (reordered.status === 200) {
        expect((await childIDs(parent.pageID)).slice(0, 4)).toEqual(order);
      } else {
        expect([400, 409]).toContain(reordered.status);
        expect(after.map((r) => r.weight).sort()).toEqual(before.map((r) => r.weight).sort());
        expect((await childIDs(parent.pageID)).slice(0, 4)).toEqual(kids);
      }
    }
  });
});

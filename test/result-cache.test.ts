// Listing counts and chart aggregates are cached per module content version: every write must
// show up in the very next answer.
import { describe, expect, it } from "vitest";
import { call, makeModule } from "./helpers";

const countOf = async (moduleId: string, q = "") => (await call(`/module/${moduleId}/content?perPage=2${q}`)).json.response.meta.count;
const chartOf = async (moduleId: string) => (await call(`/module/${moduleId}/chart?kind=bar&groupBy=stage&sum=value`)).json.response.data;

describe("cached counts and aggregates", () => {
  it("follow every create, edit and delete at once", async () => {
    const m = await makeModule("Cached", [
      { name: "stage", kind: "enum", options: { options: ["Open", "Won"] } },
      { name: "value", kind: "number" },
    ]);
    const add = async (stage: string, value: number) =>
      (await call(`/module/${m.moduleID}/content`, { body: { fields: { stage, value } } })).json.response.contentID;

    const a = await add("Open", 10);
    await add("Won", 5);
    expect(await countOf(m.moduleID)).toBe(2);
    expect(await chartOf(m.moduleID)).toEqual([
      ["Open", 10],
      ["Won", 5],
    ]);

    const c = await add("Open", 1);
    expect(await countOf(m.moduleID)).toBe(3);
    expect(await countOf(m.moduleID, "&filter=stage%20eq%20'Open'")).toBe(2);
    expect(await chartOf(m.moduleID)).toEqual([
      ["Open", 11],
      ["Won", 5],
    ]);

    await call(`/module/${m.moduleID}/content/${a}`, { body: { fields: { stage: "Won", value: 100 } } });
    expect(await countOf(m.moduleID, "&filter=stage%20eq%20'Open'")).toBe(1);
    expect(await chartOf(m.moduleID)).toEqual([
      ["Open", 1],
      ["Won", 105],
    ]);

    await call(`/module/${m.moduleID}/content/${c}`, { method: "DELETE" });
    expect(await countOf(m.moduleID)).toBe(2);
    expect(await chartOf(m.moduleID)).toEqual([["Won", 105]]);

    // A module edit that removes a field drops its values: the aggregate follows.
    await call(`/module/${m.moduleID}`, { body: { name: "Cached", fields: [{ name: "stage", kind: "enum", options: { options: ["Open", "Won"] } }] } });
    const counted = await call(`/module/${m.moduleID}/chart?kind=bar&groupBy=stage`);
    expect(counted.json.response.data).toEqual([["Won", 2]]);
  });

  it("serves every page of a listing with the same count and the right rows", async () => {
    const m = await makeModule("Paged", [{ name: "n", kind: "number" }]);
    for (let i = 1; i <= 5; i++) await call(`/module/${m.moduleID}/content`, { body: { fields: { n: i } } });
    const pages = [];
    for (let page = 0; page < 3; page++) {
      const res = (await call(`/module/${m.moduleID}/content?sort=n&perPage=2&page=${page}`)).json.response;
      expect(res.meta.count).toBe(5);
      pages.push(...res.contents.map((item: any) => item.fields[0].value));
    }
    expect(pages).toEqual([1, 2, 3, 4, 5]);
    const past = (await call(`/module/${m.moduleID}/content?sort=n&perPage=2&page=7`)).json.response;
    expect(past).toMatchObject({ meta: { count: 5 }, contents: [] });
  });
});

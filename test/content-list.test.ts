// Listing: filter language, sort, paging and search, all run in D1.
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { sql, type SQL } from "drizzle-orm";
import { call, createItem, makeModule } from "./helpers";
import { getDb } from "../src/db/client";
import { toQuery } from "../src/db/raw";
import { getModule } from "../src/module-model/module";
import { listingCountSql, listingPageSql } from "../src/content/service";
import { compareExpr, layoutOf } from "../src/content/storage";
import { itemsFrom } from "../src/module-model/typed-table";

let deal: any;
let acct: any;
let acmeId: string;
const ids: Record<string, string> = {};

const rows: Record<string, Record<string, unknown>> = {
  Alpha: { country: "France", value: 1200, stage: "Won", closeDate: "2026-12-01", won: true, tags: ["hot", "eu"], at: "2026-01-01T10:00:00Z" },
  beta: { country: "Slovenia", value: 300, stage: "Open", closeDate: "2027-02-01", won: false, tags: ["cold"] },
  Gamma: { country: "France", value: 50.5, stage: "Lost", closeDate: "2027-01-01", tags: [] },
  delta: { stage: "Open", won: true },
  "Épée 100%": { country: "Slovenia", value: 1000, stage: "Won", note: "Crème BRÛLÉE_x" },
  "O'Brien": { country: "France", value: -5, stage: "Open", closeDate: "2026-06-15" },
  zeta: {},
};
const names = Object.keys(rows);

const list = (params: Record<string, string>) => call(`/module/${deal.moduleID}/content?${new URLSearchParams(params)}`);

/** Names of the items a listing answers, in order. */
async function listNames(params: Record<string, string>) {
  const res = await list({ perPage: "100", ...params });
  expect(res.status, res.text).toBe(200);
  return res.json.response.contents.map((c: any) => c.fields.find((f: any) => f.name === "name")?.value);
}

const filtered = async (filter: string) => (await listNames({ filter, sort: "id asc" })).sort();
const expectNames = (...n: string[]) => [...n].sort();

beforeAll(async () => {
  acct = await makeModule("Acct", [{ name: "name", kind: "text" }]);
  acmeId = (await call(`/module/${acct.moduleID}/content`, { body: { fields: { name: "Acme" } } })).json.response.contentID;
  deal = await makeModule("Deal", [
    { name: "name", kind: "text" },
    { name: "country", kind: "enum", options: { options: ["France", "Slovenia"] } },
    { name: "value", kind: "number" },
    { name: "stage", kind: "enum", options: { options: ["Open", "Won", "Lost"] } },
    { name: "closeDate", kind: "date" },
    { name: "at", kind: "stamp" },
    { name: "won", kind: "bool" },
    { name: "tags", kind: "text", isMulti: true },
    { name: "note", kind: "textarea" },
    { name: "owner", kind: "related", options: { moduleID: acct.moduleID } },
  ]);
  for (const name of names) {
    const fields = { name, ...rows[name], ...(name === "beta" ? { owner: acmeId } : {}) };
    ids[name] = await createItem(deal.moduleID, fields);
  }
  // An item of another module that must never show up.
  await call(`/module/${acct.moduleID}/content`, { body: { fields: { name: "Alpha France" } } });
});

describe("filter", () => {
  const cases: [string, string[]][] = [
    ["country eq 'France'", ["Alpha", "Gamma", "O'Brien"]],
    ["country eq 'france'", ["Alpha", "Gamma", "O'Brien"]],
    ["country ne 'France'", ["beta", "delta", "Épée 100%", "zeta"]],
    ["value lt 300", ["Gamma", "O'Brien"]],
    ["value le 300", ["beta", "Gamma", "O'Brien"]],
    ["value gt 1000", ["Alpha"]],
    ["value ge 1000", ["Alpha", "Épée 100%"]],
    ["value gt 50", ["Alpha", "beta", "Gamma", "Épée 100%"]],
    ["value eq 50.5", ["Gamma"]],
    ["value eq -5", ["O'Brien"]],
    ["value in (300, 1000, 7)", ["beta", "Épée 100%"]],
    ["stage in ('Won','Open')", ["Alpha", "beta", "delta", "Épée 100%", "O'Brien"]],
    ["stage in ('won')", ["Alpha", "Épée 100%"]],
    ["name contains 'ET'", ["beta", "zeta"]],
    ["name contains '%'", ["Épée 100%"]],
    ["name contains '_'", []],
    ["note contains 'e_x'", ["Épée 100%"]],
    ["name startswith 'g'", ["Gamma"]],
    ["name startswith 'Épée 1'", ["Épée 100%"]],
    ["name startswith 'épée'", []], // ASCII-only case folding in filters, as for eq and sort
    ["name startswith '%'", []],
    ["name startswith '_'", []],
    ["name contains '0%'", ["Épée 100%"]],
    ["note contains 'brûlée'", []],
    ["note contains 'BRÛLÉE'", ["Épée 100%"]],
    ["name startswith 'O''B'", ["O'Brien"]],
    ["name eq 'O''Brien'", ["O'Brien"]],
    ['name eq "O\'Brien"', ["O'Brien"]],
    ["closeDate lt '2027-01-01'", ["Alpha", "O'Brien"]],
    ["closeDate ge '2027-01-01'", ["beta", "Gamma"]],
    ["at ge '2026-01-01T11:00:00+02:00'", ["Alpha"]],
    ["at gt '2026-01-01T10:00:00Z'", []],
    ["at lt '2026-01-02'", ["Alpha"]],
    ["won eq true", ["Alpha", "delta"]],
    ["won eq false", ["beta"]],
    ["won ne true", ["beta", "Gamma", "Épée 100%", "O'Brien", "zeta"]],
    ["won is null", ["Gamma", "Épée 100%", "O'Brien", "zeta"]],
    ["country is null", ["delta", "zeta"]],
    ["country is not null", ["Alpha", "beta", "Gamma", "Épée 100%", "O'Brien"]],
    ["not (country eq 'France')", ["beta", "delta", "Épée 100%", "zeta"]],
    ["not country eq 'France' and value gt 0", ["beta", "Épée 100%"]],
    ["country eq 'France' and (value ge 1000 or stage in ('Won','Open')) and closeDate lt '2027-01-01'", ["Alpha", "O'Brien"]],
    ["country eq 'Slovenia' or country eq 'France' and value gt 1000", ["Alpha", "beta", "Épée 100%"]],
    ["(country eq 'Slovenia' or country eq 'France') and value gt 1000", ["Alpha"]],
    ["COUNTRY EQ 'France' AND Value GT 0", ["Alpha", "Gamma"]],
    ["country eq 'France' and name ge 'b'", ["Gamma", "O'Brien"]], // a steered text range keeps NOCASE
    ["country eq 'France' and closeDate ge '2026-07-01' and value gt 0", ["Alpha", "Gamma"]],
    ["country eq 'France' and value ge 0 and value le 100", ["Gamma"]],
    ["tags eq 'hot'", ["Alpha"]],
    ["tags eq 'HOT'", ["Alpha"]],
    ["tags ne 'hot'", ["beta", "Gamma", "delta", "Épée 100%", "O'Brien", "zeta"]],
    ["tags contains 'ol'", ["beta"]],
    ["tags in ('eu', 'cold')", ["Alpha", "beta"]],
    ["tags is null", ["Gamma", "delta", "Épée 100%", "O'Brien", "zeta"]],
    ["tags is not null", ["Alpha", "beta"]],
    ["userID eq '7'", names],
    ["userID ne 7", []],
    ["createdAt ge '2000-01-01' and updatedAt le '2999-01-01'", names],
    ["createdAt lt '2000-01-01'", []],
  ];
  for (const [filter, expected] of cases) {
    it(filter, async () => {
      expect(await filtered(filter)).toEqual(expectNames(...expected));
    });
  }

  it("filters by id and by related IDs", async () => {
    expect(await filtered(`id eq ${ids.beta}`)).toEqual(["beta"]);
    expect(await filtered(`id in ('${ids.beta}', ${ids.zeta})`)).toEqual(expectNames("beta", "zeta"));
    expect(await filtered(`id gt ${ids["O'Brien"]}`)).toEqual(["zeta"]);
    expect(await filtered(`owner eq '${acmeId}'`)).toEqual(["beta"]);
    expect(await filtered(`owner is null`)).toHaveLength(names.length - 1);
  });

  it("echoes the filter in meta with the count", async () => {
    const res = await list({ filter: "country eq 'France'" });
    expect(res.json.response.meta).toEqual({ query: "", filter: "country eq 'France'", sort: "id desc", page: 0, perPage: 50, count: 3 });
  });

  const errors: [string, number][] = [
    ["country eq", 11],
    ["nope eq 1", 1],
    ["country eq 'France", 12],
    ["value eq 'abc'", 10],
    ["country eq 'France' and", 24],
    ["(country eq 'France'", 21],
    ["country eq 'France')", 20],
    ["value contains 'x'", 16],
    ["country eq null", 12],
    ["won lt true", 8],
    ["closeDate lt '2027-13-01'", 14],
    ["at gt 'soon'", 7],
    ["country eq 'France' xyz", 21],
    ["value eq 1 # 2", 12],
    ["value eq 1e999", 10],
    ["value eq 12abc", 10],
    ["country is 'x'", 12],
    ["country in 'France'", 12],
    ["country in ('France' 'Slovenia')", 22],
    ["country eqq 'France'", 9],
    ["id eq 'abc'", 7],
    ["id eq 0", 7],
    ["country eq France", 12],
    ["and", 1],
    ["()", 2],
  ];
  for (const [filter, pos] of errors) {
    it(`refuses ${JSON.stringify(filter)} at position ${pos}`, async () => {
      const res = await list({ filter });
      expect(res.status).toBe(400);
      expect(res.json.error.code).toBe("invalid_filter");
      expect(res.json.error.message).toContain(`position ${pos}`);
      expect(res.json.error.details).toEqual([{ path: "filter", message: expect.stringMatching(new RegExp(`^position ${pos}: `)) }]);
    });
  }

  it("refuses filters over the bound-parameter budget, and accepts long in-lists", async () => {
    const many = Array.from({ length: 61 }, (_, i) => `value eq ${i}`).join(" or ");
    expect((await list({ filter: many })).status).toBe(400);
    const sixty = Array.from({ length: 60 }, (_, i) => `value eq ${i}`).join(" or ");
    expect((await list({ filter: sixty })).status).toBe(200);
    const longIn = `value in (${Array.from({ length: 500 }, (_, i) => i).join(",")})`;
    expect(await filtered(longIn)).toEqual(expectNames("beta"));
  });

  it("contains and startswith take long values (over D1's 50-byte LIKE limit) and special characters literally", async () => {
    const m = await makeModule("LongText", [{ name: "t", kind: "textarea" }]);
    const long = `Ünïcode ${"100% _literal_ back\\slash ".repeat(3)}`;
    const other = long.replace("%", "x");
    for (const t of [long, other, "short"]) await call(`/module/${m.moduleID}/content`, { body: { fields: { t } } });
    const count = async (filter: string) => {
      const res = await call(`/module/${m.moduleID}/content?${new URLSearchParams({ filter })}`);
      expect(res.status, res.text).toBe(200);
      return res.json.response.meta.count;
    };
    const quoted = (v: string) => `'${v.replace(/'/g, "''")}'`;
    const ascii = long.slice(8); // from "100% ..." on: ASCII only, over 50 bytes
    expect(new TextEncoder().encode(`%${ascii}%`).length).toBeGreaterThan(50);
    expect(await count(`t contains ${quoted(ascii.toUpperCase())}`)).toBe(1);
    expect(await count(`t contains ${quoted(long.toUpperCase())}`)).toBe(0); // ï/Ï do not fold
    expect(await count(`t contains ${quoted(long)}`)).toBe(1);
    expect(await count(`t startswith ${quoted(long.slice(0, 70))}`)).toBe(1);
    expect(await count(`t startswith ${quoted(long.slice(0, 11))}`)).toBe(2);
    expect(await count(`t startswith ${quoted(long.slice(0, 12))}`)).toBe(1);
    expect(await count(`t startswith ${quoted(ascii.slice(0, 60))}`)).toBe(0);
    expect(await count("t contains '\\slash'")).toBe(2);
    expect(await count("t contains '_l'")).toBe(2);
    expect(await count("t contains 'x_'")).toBe(0);
    expect(await count("t startswith 'SHO'")).toBe(1);
  });

  it("refuses deep nesting with a 400, not a database error", async () => {
    const deep = `${"(".repeat(40)}value eq 1${")".repeat(40)}`;
    const res = await list({ filter: deep });
    expect(res.status).toBe(400);
    expect(res.json.error.message).toContain("position 33");
    const nots = await list({ filter: `${"not ".repeat(2000)}value eq 1` });
    expect(nots.status).toBe(400);
    const ok = await list({ filter: `${"(".repeat(20)}value eq 300${")".repeat(20)}` });
    expect(ok.json.response.meta.count).toBe(1);
    const tooLong = await list({ filter: `name eq '${"x".repeat(10001)}'` });
    expect(tooLong.status).toBe(400);
  });

  it("stays within D1's 100 bound parameters at the limits of filter and query together", async () => {
    const filter = Array.from({ length: 60 }, (_, i) => `name startswith 'n${i}'`).join(" or ");
    const query = Array.from({ length: 20 }, (_, i) => `w${i}`).join(" ");
    const res = await list({ filter, query, page: "1", perPage: "10", sort: "value desc, name asc" });
    expect(res.status, res.text).toBe(200);
    expect(res.json.response.meta.count).toBe(0);
  });

  it("treats a blank filter as none", async () => {
    expect(await filtered("  ")).toHaveLength(names.length);
  });
});

describe("sort", () => {
  it("defaults to id desc", async () => {
    expect(await listNames({})).toEqual([...names].reverse());
  });
  it("sorts numbers numerically with missing values last, both ways", async () => {
    expect(await listNames({ sort: "value asc" })).toEqual(["O'Brien", "Gamma", "beta", "Épée 100%", "Alpha", "delta", "zeta"]);
    expect(await listNames({ sort: "value" })).toEqual(["O'Brien", "Gamma", "beta", "Épée 100%", "Alpha", "delta", "zeta"]);
    expect(await listNames({ sort: "value desc" })).toEqual(["Alpha", "Épée 100%", "beta", "Gamma", "O'Brien", "zeta", "delta"]);
  });
  it("sorts text case-insensitively", async () => {
    expect(await listNames({ sort: "name asc" })).toEqual(["Alpha", "beta", "delta", "Gamma", "O'Brien", "zeta", "Épée 100%"]);
    expect(await listNames({ sort: "NAME DESC" })).toEqual(["Épée 100%", "zeta", "O'Brien", "Gamma", "delta", "beta", "Alpha"]);
  });
  it("sorts dates chronologically and by several keys", async () => {
    expect(await listNames({ sort: "closeDate desc" })).toEqual(["beta", "Gamma", "Alpha", "O'Brien", "zeta", "Épée 100%", "delta"]);
    expect(await listNames({ sort: "country asc, value desc" })).toEqual(["Alpha", "Gamma", "O'Brien", "Épée 100%", "beta", "zeta", "delta"]);
    expect(await listNames({ sort: "won desc, name asc" })).toEqual(["Alpha", "delta", "beta", "Gamma", "O'Brien", "zeta", "Épée 100%"]);
    expect(await listNames({ sort: "id asc" })).toEqual(names);
    expect(await listNames({ sort: "createdAt asc, id asc" })).toEqual(names);
  });
  it("combines with a filter", async () => {
    expect(await listNames({ filter: "country eq 'France'", sort: "value asc" })).toEqual(["O'Brien", "Gamma", "Alpha"]);
  });
  const errors: [string, number][] = [
    ["nope", 1],
    ["value sideways", 7],
    ["value,", 7],
    ["tags", 1],
    ["value asc, value desc", 12],
    ["value asc name", 11],
    [",", 1],
  ];
  for (const [sort, pos] of errors) {
    it(`refuses sort ${JSON.stringify(sort)} at position ${pos}`, async () => {
      const res = await list({ sort });
      expect(res.status).toBe(400);
      expect(res.json.error.code).toBe("invalid_sort");
      expect(res.json.error.details[0]).toEqual({ path: "sort", message: expect.stringMatching(new RegExp(`^position ${pos}: `)) });
    });
  }
});

describe("paging", () => {
  it("pages through in order with the total count", async () => {
    const seen: string[] = [];
    for (let page = 0; page < 4; page++) {
      const res = await list({ perPage: "2", page: String(page), sort: "id asc" });
      expect(res.json.response.meta).toMatchObject({ page, perPage: 2, count: 7 });
      seen.push(...res.json.response.contents.map((c: any) => c.fields[0].value));
      expect(res.json.response.contents).toHaveLength(page < 3 ? 2 : 1);
    }
    expect(seen).toEqual(names);
  });
  it("answers an empty page past the end", async () => {
    const res = await list({ page: "50" });
    expect(res.json.response.contents).toEqual([]);
    expect(res.json.response.meta.count).toBe(7);
  });
  it("clamps perPage and page", async () => {
    expect((await list({ perPage: "0" })).json.response.meta.perPage).toBe(1);
    expect((await list({ perPage: "0" })).json.response.contents).toHaveLength(1);
    expect((await list({ perPage: "1000" })).json.response.meta.perPage).toBe(100);
    expect((await list({ page: "-3" })).json.response.meta.page).toBe(0);
    expect((await list({})).json.response.meta.perPage).toBe(50);
  });
  it("answers an empty page for a huge page number, not an error", async () => {
    const res = await list({ page: "999999999999999", perPage: "100" });
    expect(res.status).toBe(200);
    expect(res.json.response.contents).toEqual([]);
    expect(res.json.response.meta).toMatchObject({ page: 999999999999999, perPage: 100, count: 7 });
  });
  it("refuses non-integer paging", async () => {
    expect((await list({ page: "x" })).status).toBe(400);
    expect((await list({ perPage: "1.5" })).status).toBe(400);
  });
});

describe("query", () => {
  const q = async (query: string) => (await listNames({ query, sort: "id asc" })).sort();
  it("an empty or blank query matches everything", async () => {
    expect(await q("")).toHaveLength(7);
    expect(await q("   ")).toHaveLength(7);
  });
  it("matches case-insensitively, substrings, every word", async () => {
    expect(await q("alp")).toEqual(["Alpha"]);
    expect(await q("ALPHA")).toEqual(["Alpha"]);
    expect(await q("slovenia")).toEqual(expectNames("beta", "Épée 100%"));
    expect(await q("France alpha")).toEqual(["Alpha"]);
    expect(await q("France beta")).toEqual([]);
    expect(await q("hot")).toEqual(["Alpha"]); // a multi text value
  });
  it("folds Unicode case", async () => {
    expect(await q("ÉPÉE")).toEqual(["Épée 100%"]);
    expect(await q("crème brûlée")).toEqual(["Épée 100%"]);
    expect(await q("épée crème")).toEqual(["Épée 100%"]);
  });
  it("takes % and _ literally", async () => {
    expect(await q("%")).toEqual(["Épée 100%"]);
    expect(await q("0%")).toEqual(["Épée 100%"]);
    expect(await q("_")).toEqual(["Épée 100%"]);
    expect(await q("a_b")).toEqual([]);
    expect(await q("'")).toEqual(["O'Brien"]);
  });
  it("does not match field names, numbers or other kinds' values", async () => {
    expect(await q("country")).toEqual([]);
    expect(await q("name")).toEqual([]);
    expect(await q("1200")).toEqual([]);
    expect(await q("2026-12-01")).toEqual([]);
  });
  it("combines with filter and sort, echoing it in meta", async () => {
    const res = await list({ query: "a", filter: "value gt 0", sort: "value desc" });
    // "a" occurs in Alpha, beta, Gamma and in Épée's country (Slovenia); O'Brien fails the filter.
    expect(res.json.response.meta).toMatchObject({ query: "a", filter: "value gt 0", sort: "value desc", count: 4 });
    expect(res.json.response.contents.map((c: any) => c.fields[0].value)).toEqual(["Alpha", "Épée 100%", "beta", "Gamma"]);
  });
  it("refuses too many words", async () => {
    const res = await list({ query: Array.from({ length: 21 }, (_, i) => `w${i}`).join(" ") });
    expect(res.status).toBe(400);
    expect(res.json.error.details[0].path).toBe("query");
  });
});

describe("storage", () => {
  const explain = async (q: SQL) => {
    const { sql, params } = toQuery(q);
    return (
      (
        await env.DB.prepare(`explain query plan ${sql}`)
          .bind(...params)
          .all()
      ).results as any[]
    )
      .map((r) => r.detail)
      .join(" | ");
  };
  const moduleNow = () => getModule(getDb(env), Number(deal.moduleID));
  /** The query plan of the listing's page query exactly as the service compiles it. */
  const plan = async (filter: string, sort: string) => explain(listingPageSql(await moduleNow(), { filter, sort }, { page: 1, perPage: 50, offset: 0 }));
  const table = () => `c_${deal.moduleID}`;

  it("keeps a typed table with a column per field and an index per single-valued field", async () => {
    const indexes = (await env.DB.prepare("select name from sqlite_master where type = 'index' and tbl_name = ?").bind(table()).all()).results as any[];
    const single = indexes.map((i) => i.name.slice(table().length + 2)).filter((n: string) => !n.includes("__"));
    // not the multi `tags`, nor the textarea `note`
    expect(single.sort()).toEqual(["at", "closedate", "country", "created_at", "name", "owner", "stage", "updated_at", "value", "won"]);
    // dimension × number pairs, which cover grouped sums and `eq` + range pages
    expect(indexes.map((i) => i.name)).toContain(`${table()}__stage__value`);
    const columns = (await env.DB.prepare(`select name, type from pragma_table_info(?)`).bind(table()).all()).results as any[];
    expect(columns.map((c) => `${c.name} ${c.type}`)).toEqual([
      "id INTEGER",
      "user_id TEXT",
      "created_at TEXT",
      "updated_at TEXT",
      "f_name TEXT",
      "f_country TEXT",
      "f_value REAL",
      "f_stage TEXT",
      "f_closedate TEXT",
      "f_at TEXT",
      "f_won INTEGER",
      "f_tags TEXT",
      "f_note TEXT",
      "f_owner INTEGER",
    ]);
    // one row per live item, holding the item's values
    const n = (await env.DB.prepare(`select count(*) as n from ${table()}`).first()) as any;
    const live = (await env.DB.prepare(`select count(*) as n from content where module_id = ? and deleted_at is null`)
      .bind(Number(deal.moduleID))
      .first()) as any;
    expect(n.n).toBe(live.n);
  });

  it("answers filters and sorts from those indexes, without sorting in a temporary b-tree", async () => {
    const index = (field: string) => `${table()}__${field}`;
    expect(await plan("country eq 'France'", "id desc")).toContain(`INDEX ${index("country")}`);
    for (const sort of ["value desc", "value asc"]) {
      const p = await plan("", sort);
      expect(p).toContain(`INDEX ${index("value")}`);
      expect(p).not.toMatch(/TEMP B-TREE FOR (ORDER|LAST)/);
    }
    const ranged = await plan("value ge 100 and value lt 2000", "value desc");
    expect(ranged).toContain(`INDEX ${index("value")}`);
    expect(await plan("name startswith 'gam'", "id desc")).toContain(`INDEX ${index("name")}`);
    const text = await plan("", "name asc");
    expect(text).toContain(`INDEX ${index("name")}`);
  });

  it("counts through an equality's index, and pages an equality plus a range through their pair", async () => {
    const module = await moduleNow();
    const filter = "country eq 'France' and value ge 1";
    expect(await explain(listingCountSql(module, { filter }))).toMatch(new RegExp(`COVERING INDEX ${table()}__country`));
    expect(await plan(filter, "value desc")).toContain(`INDEX ${table()}__country__value`);
    // Both bounds on one field: an index stays usable.
    expect(await explain(listingCountSql(module, { filter: "country eq 'France' and value ge 1 and value le 2" }))).toMatch(/INDEX c_/);
  });

  it("finds words of three characters or more through the module's full-text index, shorter ones by scanning", async () => {
    const module = await moduleNow();
    const long = await explain(listingCountSql(module, { query: "gamma" }));
    expect(long).toMatch(new RegExp(`SCAN s_${deal.moduleID} VIRTUAL TABLE`));
    expect(long).not.toContain("content");
    expect(await explain(listingCountSql(module, { query: "ga" }))).toMatch(/SEARCH doc USING INTEGER PRIMARY KEY/);
    // The index follows every write: a renamed item is found by its new name only, a deleted one not at all.
    const id = ids.Gamma;
    const renamed = await call(`/module/${deal.moduleID}/content/${id}`, { body: { fields: { name: "Gammaray", ...rows.Gamma } } });
    expect(renamed.status).toBe(200);
    expect((await list({ query: "gammaray" })).json.response.meta.count).toBe(1);
    const other = await call(`/module/${deal.moduleID}/content/${id}`, { body: { fields: { name: "Gamma", ...rows.Gamma } } });
    expect(other.status).toBe(200);
    expect((await list({ query: "gammaray" })).json.response.meta.count).toBe(0);
    const spare = (await call(`/module/${deal.moduleID}/content`, { body: { fields: { name: "Quokkafish" } } })).json.response.contentID;
    expect((await list({ query: "quokka" })).json.response.meta.count).toBe(1);
    await call(`/module/${deal.moduleID}/content/${spare}`, { method: "DELETE" });
    expect((await list({ query: "quokka" })).json.response.meta.count).toBe(0);
  });

  it("lets a group-by over a field read only its index (what charts do)", async () => {
    const module = await moduleNow();
    const field = module.fields.find((f) => f.name === "country")!;
    const q = sql`select ${compareExpr(module, field)} as v, count(*) as n from ${itemsFrom(layoutOf(module), false)} group by ${compareExpr(module, field)}`;
    const detail = await explain(q);
    expect(detail).toMatch(new RegExp(`COVERING INDEX ${table()}__country`));
    expect(detail).not.toContain("TEMP B-TREE");
    const { sql: text, params } = toQuery(q);
    const result = (
      await env.DB.prepare(text)
        .bind(...params)
        .all()
    ).results as any[];
    expect(result.map((r) => Object.values(r))).toEqual([
      [null, 2],
      ["France", 3],
      ["Slovenia", 2],
    ]);
  });
});

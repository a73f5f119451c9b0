// Export: GET /module/{moduleID}/export streams every matching item as CSV, JSON or NDJSON, in the
// listing's order, page by page (keyset paging in D1).
import { env, exports } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { call, createItem, makeModule, rederiveTypedRows, token } from "./helpers";
import { csvCell, csvRecords, neutraliseFormula } from "../src/bulk/csv";
import { exportLimits, openExport, pageStatement } from "../src/bulk/export";
import { getDb } from "../src/db/client";

const defaults = { ...exportLimits };
afterEach(() => {
  Object.assign(exportLimits, defaults);
  vi.restoreAllMocks();
});

/** The export's answer, body unread. */
async function fetchExport(moduleID: string, params: Record<string, string> = {}, scope: string | null = "read") {
  const headers: Record<string, string> = scope === null ? {} : { authorization: `Bearer ${await token(scope)}` };
  return exports.default.fetch(new Request(`http://api.test/module/${moduleID}/export?${new URLSearchParams(params)}`, { headers }));
}

const bodyText = async (res: Response) => new TextDecoder().decode(await res.arrayBuffer());

async function exportText(moduleID: string, params: Record<string, string> = {}) {
  const res = await fetchExport(moduleID, params);
  const text = await bodyText(res);
  expect(res.status, text).toBe(200);
  return { res, text };
}

async function exportJson(moduleID: string, params: Record<string, string> = {}) {
  return JSON.parse((await exportText(moduleID, { ...params, format: "json" })).text) as any[];
}

/** RFC 4180, strictly: the reference the export's CSV is read back with here. */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let cell = "";
  let i = 0;
  while (i < text.length) {
    if (text[i] === '"' && cell === "") {
      i++;
      for (;;) {
        if (i >= text.length) throw new Error("unterminated quote");
        if (text[i] === '"' && text[i + 1] === '"') {
          cell += '"';
          i += 2;
        } else if (text[i] === '"') {
          i++;
          break;
        } else cell += text[i++];
      }
      if (text[i] !== "," && text[i] !== "\r") throw new Error(`text after a closing quote at ${i}`);
    } else if (text[i] === ",") {
      record.push(cell);
      cell = "";
      i++;
    } else if (text[i] === "\r") {
      if (text[i + 1] !== "\n") throw new Error(`a bare CR outside quotes at ${i}`);
      record.push(cell);
      records.push(record);
      record = [];
      cell = "";
      i += 2;
    } else if (text[i] === "\n" || text[i] === '"') {
      throw new Error(`${JSON.stringify(text[i])} outside quotes at ${i}`);
    } else cell += text[i++];
  }
  if (cell !== "" || record.length) throw new Error("the last record has no CRLF");
  return records;
}

/** Every item of a listing, page after page (the reference order). */
async function listingItems(moduleID: string, params: Record<string, string>) {
  const items: any[] = [];
  for (let page = 0; page < 100; page++) {
    const res = await call(`/module/${moduleID}/content?${new URLSearchParams({ ...params, perPage: "100", page: String(page) })}`);
    expect(res.status, res.text).toBe(200);
    items.push(...res.json.response.contents);
    if (res.json.response.contents.length < 100) return items;
  }
  throw new Error("listing too long for the test");
}

// ------------------------------------------------------------------------------------------------

describe("CSV writing", () => {
  it("quotes commas, quotes, CR and LF (RFC 4180) and ends every record with CRLF", () => {
    const text = csvRecords([
      ["plain", "a,b", 'say "hi"', "line1\nline2", "cr\rhere", "crlf\r\nhere", ""],
      ["x", "", "", "", "", "", "y"],
    ]);
    expect(text).toBe('plain,"a,b","say ""hi""","line1\nline2","cr\rhere","crlf\r\nhere",\r\nx,,,,,,y\r\n');
    expect(parseCsv(text)).toEqual([
      ["plain", "a,b", 'say "hi"', "line1\nline2", "cr\rhere", "crlf\r\nhere", ""],
      ["x", "", "", "", "", "", "y"],
    ]);
  });

  it("neutralises text that a spreadsheet would read as a formula, and only that", () => {
    for (const text of ["=SUM(A1)", "+1 555", "-minus", "@at", "\tTab", "\rCR"]) {
      expect(neutraliseFormula(text)).toBe(`'${text}`);
    }
    // Already starting with quotes before a trigger: one more, so stripping one gives it back.
    expect(neutraliseFormula("'=x")).toBe("''=x");
    expect(neutraliseFormula("''+x")).toBe("'''+x");
    for (const text of ["plain", "'plain", "a=b", " =x", "", "1-2", "é=1"]) expect(neutraliseFormula(text)).toBe(text);
  });

  it("writes values as the content API accepts them back; numbers are never prefixed", () => {
    expect(csvCell(-5)).toBe("-5");
    expect(csvCell(-0.25)).toBe("-0.25");
    expect(csvCell(1e21)).toBe("1e+21");
    expect(csvCell("-5")).toBe("'-5"); // text that looks like a number is text
    expect(csvCell(true)).toBe("true");
    expect(csvCell(false)).toBe("false");
    expect(csvCell(["=a", "b,c"])).toBe('["=a","b,c"]');
    expect(csvCell(["3", "5"])).toBe('["3","5"]');
    expect(csvCell(undefined)).toBe("");
    expect(csvCell(null)).toBe("");
  });
});

// ------------------------------------------------------------------------------------------------

let acct: any;
let deal: any;
const acctIds: string[] = [];
const dealFields = [
  { name: "name", kind: "text" },
  { name: "country", kind: "enum", options: { options: ["France", "Slovenia", "=Evil"] } },
  { name: "value", kind: "number" },
  { name: "closeDate", kind: "date" },
  { name: "at", kind: "stamp" },
  { name: "won", kind: "bool" },
  { name: "tags", kind: "text", isMulti: true },
  { name: "note", kind: "textarea" },
  { name: "site", kind: "url" },
  { name: "owner", kind: "related" },
  { name: "owners", kind: "related_multi" },
];
const dealRows: Record<string, unknown>[] = [
  {
    name: "Alpha",
    country: "France",
    value: 1200,
    closeDate: "2026-12-01",
    at: "2026-01-01T10:00:00+02:00",
    won: true,
    tags: ["hot", "eu"],
    note: "line1\nline2",
    owner: 0,
  },
  { name: "Comma, Inc.", country: "Slovenia", value: -5, won: false, note: 'He said "hi"', owners: [0, 1] },
  { name: '=HYPERLINK("http://evil.example","x")', country: "=Evil", value: 0, tags: ["=1+1", "@x"] },
  { name: "+1 555 0100", value: 1200, closeDate: "2027-01-01", site: "https://example.com/a?b=c,d" },
  { name: "-minus", value: 50.5, won: true },
  { name: "@mention", country: "France", closeDate: "2026-06-15" },
  { name: "\tTab start", value: 3 },
  { name: "\rCR start", value: 3, note: "x\r\ny" },
  { name: "'=already quoted", value: 3 },
  { name: "'plain quote", country: "France" },
  { name: "Crème brûlée à l'été", value: 7, tags: [] },
  { name: "alpha", value: 1200, country: "France" },
  { value: 9 },
  {},
];

beforeAll(async () => {
  acct = await makeModule("Acct", [{ name: "name", kind: "text" }]);
  for (const name of ["Acme", "Globex"]) {
    acctIds.push((await call(`/module/${acct.moduleID}/content`, { body: { fields: { name } } })).json.response.contentID);
  }
  deal = await makeModule(
    'Deals "2026" / Q1 é',
    dealFields.map((f) => (f.kind.startsWith("related") ? { ...f, options: { moduleID: acct.moduleID } } : f)),
  );
  for (const row of dealRows) {
    const fields = { ...row } as Record<string, unknown>;
    if (fields.owner !== undefined) fields.owner = acctIds[fields.owner as number];
    if (fields.owners !== undefined) fields.owners = (fields.owners as number[]).map((i) => acctIds[i]);
    await createItem(deal.moduleID, fields);
  }
  // A deleted item never appears.
  const gone = await call(`/module/${deal.moduleID}/content`, { body: { fields: { name: "Deleted deal", value: 1200 } } });
  expect((await call(`/module/${deal.moduleID}/content/${gone.json.response.contentID}`, { method: "DELETE" })).status).toBe(200);
});

describe("formats", () => {
  it("json: one array of the items exactly as the listing answers them, in its order, with the download headers", async () => {
    const res = await call(`/module/${deal.moduleID}/export?format=json`); // also checked against /openapi.json
    expect(res.status, res.text).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
    const date = new Date().toISOString().slice(0, 10);
    expect(res.headers.get("content-disposition")).toBe(
      `attachment; filename="Deals_2026_Q1-${date}.json"; filename*=UTF-8''Deals%20%222026%22%20%2F%20Q1%20%C3%A9-${date}.json`,
    );
    expect(res.headers.get("x-total-count")).toBe(String(dealRows.length));
    expect(res.json).toEqual(await listingItems(deal.moduleID, {}));
    expect(res.json.map((i: any) => i.fields.find((f: any) => f.name === "name")?.value)).not.toContain("Deleted deal");
  });

  it("ndjson: one item per line, the same items", async () => {
    const { res, text } = await exportText(deal.moduleID, { format: "ndjson" });
    expect(res.headers.get("content-type")).toBe("application/x-ndjson; charset=utf-8");
    expect(res.headers.get("content-disposition")).toMatch(/filename="Deals_2026_Q1-\d{4}-\d\d-\d\d\.ndjson"/);
    expect(text.endsWith("\n")).toBe(true);
    const lines = text
      .slice(0, -1)
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines).toEqual(await listingItems(deal.moduleID, {}));
  });

  it("csv (the default): header, then one record per item, values as the API has them, text neutralised", async () => {
    const { res, text } = await exportText(deal.moduleID);
    expect(res.headers.get("content-type")).toBe("text/csv; charset=utf-8; header=present");
    expect(res.headers.get("content-disposition")).toMatch(/filename="Deals_2026_Q1-\d{4}-\d\d-\d\d\.csv"/);
    const [header, ...records] = parseCsv(text);
    expect(header).toEqual(["contentID", ...dealFields.map((f) => f.name), "createdAt", "updatedAt", "userID"]);
    const items = await listingItems(deal.moduleID, {});
    expect(records.map((r) => r[0])).toEqual(items.map((i) => i.contentID));
    const row = (name: string) => {
      const r = records.find((rec) => rec[1] === name);
      if (!r) throw new Error(`no record named ${JSON.stringify(name)}`);
      return Object.fromEntries(header.map((h, i) => [h, r[i]]));
    };
    const alpha = row("Alpha");
    expect(alpha).toMatchObject({
      country: "France",
      value: "1200",
      closeDate: "2026-12-01",
      at: "2026-01-01T08:00:00.000Z",
      won: "true",
      tags: '["hot","eu"]',
      note: "line1\nline2",
      owner: acctIds[0],
      owners: "",
      userID: "7",
    });
    expect(alpha.createdAt).toBe(items.find((i) => i.contentID === alpha.contentID).createdAt);
    expect(row("Comma, Inc.")).toMatchObject({ value: "-5", won: "false", note: 'He said "hi"', owners: JSON.stringify(acctIds) });
    expect(row(`'=HYPERLINK("http://evil.example","x")`)).toMatchObject({ country: "'=Evil", value: "0", tags: '["=1+1","@x"]' });
    expect(row("'+1 555 0100")).toMatchObject({ site: "https://example.com/a?b=c,d" });
    for (const name of ["'-minus", "'@mention", "'\tTab start", "''=already quoted", "'plain quote", "Crème brûlée à l'été"]) row(name);
    expect(row("'\rCR start").note).toBe("x\r\ny");
    expect(
      records
        .filter((r) => r[1] === "")
        .map((r) => r[header.indexOf("value")])
        .sort(),
    ).toEqual(["", "9"]);
    // The raw text: quoting as RFC 4180 has it.
    expect(text).toContain(`"'=HYPERLINK(""http://evil.example"",""x"")"`);
    expect(text).toContain(`"Comma, Inc."`);
    expect(text.startsWith("contentID,name,")).toBe(true);
  });

  it("csv with bom=true starts with a UTF-8 byte order mark", async () => {
    const res = await fetchExport(deal.moduleID, { bom: "true" });
    const bytes = new Uint8Array(await res.arrayBuffer());
    expect([...bytes.slice(0, 4)]).toEqual([0xef, 0xbb, 0xbf, "c".charCodeAt(0)]);
  });

  it("a CSV export goes back into the content API as the same records", async () => {
    const copy = await makeModule(
      "Deals copy",
      dealFields.map((f) => (f.kind.startsWith("related") ? { ...f, options: { moduleID: acct.moduleID } } : f)),
    );
    const { text } = await exportText(deal.moduleID, { sort: "id asc" });
    const [header, ...records] = parseCsv(text);
    const kinds = new Map(dealFields.map((f) => [f.name, f]));
    const textKinds = new Set(["text", "textarea", "email", "url", "enum", "hidden"]);
    const originals = await exportJson(deal.moduleID, { sort: "id asc" });
    expect(records).toHaveLength(originals.length);
    for (const [n, record] of records.entries()) {
      // The import's reading of a cell, as docs/api/import-export.md states it.
      const fields: Record<string, unknown> = {};
      header.forEach((name, i) => {
        const field = kinds.get(name) as any;
        const cell = record[i];
        if (!field || cell === "") return;
        if (field.isMulti || field.kind === "related_multi") fields[name] = JSON.parse(cell);
        else if (field.kind === "number") fields[name] = Number(cell);
        else if (field.kind === "bool") fields[name] = cell === "true";
        else if (textKinds.has(field.kind) && /^'+[=+\-@\t\r]/.test(cell)) fields[name] = cell.slice(1);
        else fields[name] = cell;
      });
      const res = await call(`/module/${copy.moduleID}/content`, { body: { fields } });
      expect(res.status, res.text).toBe(201);
      expect(res.json.response.fields, `record ${n}`).toEqual(originals[n].fields);
    }
  });

  it("fields: a chosen subset in the chosen order (names case-insensitive); system columns always there", async () => {
    const { text } = await exportText(deal.moduleID, { fields: "VALUE, name,createdAt", sort: "id asc" });
    const [header, ...records] = parseCsv(text);
    expect(header).toEqual(["contentID", "value", "name", "createdAt", "updatedAt", "userID"]);
    expect(records[0].slice(1, 3)).toEqual(["1200", "Alpha"]);
    const json = await exportJson(deal.moduleID, { fields: "value,name", sort: "id asc" });
    expect(json[0].fields).toEqual([
      { name: "value", value: 1200 },
      { name: "name", value: "Alpha" },
    ]);
    expect(Object.keys(json[0])).toEqual(["contentID", "moduleID", "userID", "fields", "createdAt", "updatedAt"]);
  });
});

// ------------------------------------------------------------------------------------------------

describe("the listing's filter, query and sort, across pages", () => {
  const cases: Record<string, string>[] = [
    {},
    { sort: "id asc" },
    { sort: "value asc" },
    { sort: "value desc" },
    { sort: "name" },
    { sort: "name desc" },
    { sort: "closeDate desc, name" },
    { sort: "won, value desc" },
    { sort: "country asc, value asc, closeDate desc" },
    { sort: "owner desc" },
    { sort: "at asc" },
    { sort: "createdAt desc" },
    { sort: "userID, id asc" },
    { sort: "id desc, value asc" },
    { filter: "value ge 0", sort: "value desc" },
    { filter: "country eq 'France' or value is null", sort: "country desc, name" },
    { filter: "tags eq 'hot' or value lt 10", sort: "value" },
    { query: "alp", sort: "value" },
    { query: "a", sort: "name desc" },
    { query: "quote", filter: "value is not null or country is not null", sort: "value desc" },
    { filter: "value eq 12345" },
  ];
  for (const params of cases) {
    it(`${JSON.stringify(params)}: the listing's items in the listing's order, pages of 2`, async () => {
      exportLimits.pageRows = 2;
      const expected = await listingItems(deal.moduleID, params);
      expect(await exportJson(deal.moduleID, params)).toEqual(expected);
      const { text } = await exportText(deal.moduleID, { ...params, format: "csv" });
      expect(
        parseCsv(text)
          .slice(1)
          .map((r) => r[0]),
      ).toEqual(expected.map((i) => i.contentID));
    });
  }

  it("pages of 1 and 3 agree with pages of 500", async () => {
    const params = { sort: "country desc, value asc" };
    const expected = await exportJson(deal.moduleID, params);
    for (const rows of [1, 3]) {
      exportLimits.pageRows = rows;
      expect(await exportJson(deal.moduleID, params)).toEqual(expected);
    }
  });
});

// ------------------------------------------------------------------------------------------------

describe("keyset paging over many pages", () => {
  let big: any;
  const N = 1200;

  beforeAll(async () => {
    big = await makeModule("Big", [
      { name: "name", kind: "text" },
      { name: "value", kind: "number" },
    ]);
    // 1,100 items share three values (hundreds of equal sort keys per page); 100 have none.
    await env.DB.prepare(
      `with recursive n(i) as (select 1 union all select i + 1 from n where i < ${N})
       insert into content (module_id, user_id, data, search, created_at, updated_at)
       select ?, '7', json_object('name', 'Item ' || (i % 7), 'value', case when i > 1100 then null else (i % 3) + 1 end), '',
         '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z' from n`,
    )
      .bind(Number(big.moduleID))
      .run();
    await rederiveTypedRows(big.moduleID);
  });

  it("1,200 items in pages of 500, equal sort keys broken by id: each item once, in the listing's order", async () => {
    const logs: string[] = [];
    vi.spyOn(console, "log").mockImplementation((line: unknown) => void logs.push(String(line)));
    for (const sort of ["value asc", "value desc", "name desc, value"]) {
      const items = await exportJson(big.moduleID, { sort });
      expect(items).toHaveLength(N);
      expect(new Set(items.map((i) => i.contentID)).size).toBe(N);
      expect(items).toEqual(await listingItems(big.moduleID, { sort }));
    }
    // `value asc`: 500 + 500 + 100 items with a value, then the 100 without, in a segment of their own.
    const done = logs.map((l) => JSON.parse(l)).filter((l) => l.msg === "export");
    expect(done[0]).toMatchObject({ moduleID: big.moduleID, format: "json", rows: N, total: N, queries: 4 });
  });

  it("the D1 queries grow with the pages: ceil(items / pageRows)", async () => {
    for (const rows of [500, 100, 7]) {
      exportLimits.pageRows = rows;
      const opened = await openExport(getDb(env), Number(big.moduleID), { format: "ndjson", sort: "id asc" });
      const text = await new Response(opened.body).text();
      expect(text.split("\n").length - 1).toBe(N);
      // A last page shorter than pageRows ends the export; a full one needs one more (empty) read.
      expect(opened.progress()).toEqual({ rows: N, queries: Math.floor(N / rows) + 1 });
    }
  });

  it("a page stops at pageBytes of documents (the first item always goes), so no page holds more", async () => {
    // Documents here are {"name":"Item 3","value":2}: 27 bytes (30 with "value":null). A page
    // takes items while the bytes before them stay under 200: at most 8.
    exportLimits.pageBytes = 200;
    const opened = await openExport(getDb(env), Number(big.moduleID), { format: "ndjson", sort: "value desc" });
    const reader = opened.body.getReader();
    const lines: any[] = [];
    let chunks = 0;
    for (let i = 0; i < 2000; i++) {
      const chunk = await reader.read();
      if (chunk.done) break;
      const text = new TextDecoder().decode(chunk.value);
      const items = text
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l));
      expect(items.length).toBeGreaterThan(0);
      expect(items.length).toBeLessThanOrEqual(8);
      lines.push(...items);
      chunks++;
    }
    expect(chunks).toBeGreaterThanOrEqual(N / 8);
    expect(lines).toEqual(await listingItems(big.moduleID, { sort: "value desc" }));
  });

  it("the page statement seeks the sort key's index after the cursor instead of walking from the start", async () => {
    const db = getDb(env);
    const module = (await call(`/module/${big.moduleID}`)).json.response;
    expect(module.moduleID).toBe(big.moduleID);
    const { getModule } = await import("../src/module-model/module");
    const { sortPlan } = await import("../src/content/listing");
    const { listingWhere } = await import("../src/content/service");
    const m = await getModule(db, Number(big.moduleID));
    const order = sortPlan(m, "value desc");
    const plan = { module: m, where: listingWhere(m, {}, order.firstField), terms: order.terms, keys: order.keys, whereParams: 0 };
    const statement = pageStatement(plan, { at: "after", values: [2, 600] });
    const rows = await env.DB.prepare(`explain query plan ${statement.sql}`)
      .bind(...statement.params)
      .all<{ detail: string }>();
    const detail = rows.results.map((r) => r.detail).join(" | ");
    expect(detail).toMatch(new RegExp(`SEARCH item USING (COVERING )?INDEX c_${big.moduleID}__value \\(f_value<\\?\\)`));
    const missing = pageStatement(plan, { at: "missing" });
    const plan2 = await env.DB.prepare(`explain query plan ${missing.sql}`)
      .bind(...missing.params)
      .all<{ detail: string }>();
    expect(plan2.results.map((r) => r.detail).join(" | ")).toMatch(/SEARCH item USING (COVERING )?INDEX c_\d+__value \(f_value=\?\)/);
  });
});

// ------------------------------------------------------------------------------------------------

describe("streaming: pages are read as the client takes them", () => {
  it("a page is read only when the previous one was taken; a cancelled export reads no more", async () => {
    exportLimits.pageRows = 2;
    const logs: string[] = [];
    vi.spyOn(console, "log").mockImplementation((line: unknown) => void logs.push(String(line)));
    const opened = await openExport(getDb(env), Number(deal.moduleID), { format: "ndjson", sort: "id asc" });
    expect(opened.count).toBe(dealRows.length);
    expect(opened.progress()).toEqual({ rows: 0, queries: 1 }); // the first page, read before answering
    const reader = opened.body.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(first.split("\n").filter(Boolean)).toHaveLength(2);
    expect(opened.progress()).toEqual({ rows: 2, queries: 1 });
    await reader.read();
    expect(opened.progress()).toEqual({ rows: 4, queries: 2 });
    await reader.cancel("client gone");
    expect(opened.progress()).toEqual({ rows: 4, queries: 2 });
    const lines = logs.map((l) => JSON.parse(l));
    expect(lines.find((l) => l.msg === "export cancelled")).toMatchObject({ rows: 4, queries: 2, reason: "client gone" });
    expect(lines.find((l) => l.msg === "export")).toBeUndefined();
  });

  it("writes during an export: items still ahead of the cursor show their latest state; none is sent twice", async () => {
    exportLimits.pageRows = 2;
    const m = await makeModule("Moving", [{ name: "name", kind: "text" }]);
    const ids: string[] = [];
    for (const name of ["a", "b", "c", "d", "e", "f"]) {
      ids.push((await call(`/module/${m.moduleID}/content`, { body: { fields: { name } } })).json.response.contentID);
    }
    const opened = await openExport(getDb(env), Number(m.moduleID), { format: "ndjson", sort: "id asc" });
    const reader = opened.body.getReader();
    const seen: any[] = [];
    const take = async () => {
      const chunk = await reader.read();
      if (!chunk.done)
        seen.push(
          ...new TextDecoder()
            .decode(chunk.value)
            .split("\n")
            .filter(Boolean)
            .map((l) => JSON.parse(l)),
        );
      return chunk.done;
    };
    await take(); // a, b
    // An item already sent is edited, one ahead is deleted, one ahead is edited, one is created.
    await call(`/module/${m.moduleID}/content/${ids[0]}`, { body: { fields: { name: "a2" } } });
    await call(`/module/${m.moduleID}/content/${ids[3]}`, { method: "DELETE" });
    await call(`/module/${m.moduleID}/content/${ids[4]}`, { body: { fields: { name: "e2" } } });
    await call(`/module/${m.moduleID}/content`, { body: { fields: { name: "g" } } });
    for (let i = 0; i < 10 && !(await take()); i++);
    expect(seen.map((i) => i.fields[0].value)).toEqual(["a", "b", "c", "e2", "f", "g"]);
  });
});

// ------------------------------------------------------------------------------------------------

describe("refusals: JSON errors before anything is streamed", () => {
  const expectError = async (res: Response, status: number, code: string) => {
    const text = await bodyText(res);
    expect(res.status, text).toBe(status);
    expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(res.headers.get("content-disposition")).toBeNull();
    const body = JSON.parse(text);
    expect(body.error.code).toBe(code);
    return body.error;
  };

  it("bad format, filter, sort, query, fields: 400 with the listing's codes", async () => {
    const id = deal.moduleID;
    await expectError(await fetchExport(id, { format: "xlsx" }), 400, "invalid_input");
    expect((await expectError(await fetchExport(id, { filter: "nope eq 1" }), 400, "invalid_filter")).message).toContain("position 1");
    await expectError(await fetchExport(id, { filter: "value eq 'abc'" }), 400, "invalid_filter");
    await expectError(await fetchExport(id, { filter: "name eq" }), 400, "invalid_filter");
    await expectError(await fetchExport(id, { sort: "tags" }), 400, "invalid_sort");
    await expectError(await fetchExport(id, { sort: "value sideways" }), 400, "invalid_sort");
    await expectError(await fetchExport(id, { query: Array.from({ length: 21 }, (_, i) => `w${i}`).join(" ") }), 400, "invalid_query");
    const unknown = await expectError(await fetchExport(id, { fields: "name,nope" }), 400, "invalid_fields");
    expect(unknown.message).toContain("unknown field 'nope'");
    expect(unknown.details).toEqual([{ path: "fields", message: "unknown field 'nope'" }]);
    await expectError(await fetchExport(id, { fields: "name,NAME" }), 400, "invalid_fields");
    await expectError(await fetchExport(id, { bom: "yes" }), 400, "invalid_input");
  });

  it("too many items: 400 export_too_large, nothing streamed", async () => {
    exportLimits.maxRows = 3;
    const error = await expectError(await fetchExport(deal.moduleID), 400, "export_too_large");
    expect(error.message).toContain(`${dealRows.length} items match`);
    // A filter that narrows it is fine.
    expect((await fetchExport(deal.moduleID, { filter: "value eq 1200" })).status).toBe(200);
  });

  it("unknown module 404, malformed ID 400", async () => {
    await expectError(await fetchExport("999999"), 404, "not_found");
    await expectError(await fetchExport("abc"), 400, "invalid_id");
  });

  it("an export past its query budget is cut off as a failed transfer, never a short file that looks whole", async () => {
    exportLimits.pageRows = 2;
    exportLimits.maxQueries = 3;
    const errors: string[] = [];
    vi.spyOn(console, "error").mockImplementation((line: unknown) => void errors.push(String(line)));
    const res = await fetchExport(deal.moduleID, { format: "json" });
    expect(res.status).toBe(200);
    await expect(res.arrayBuffer()).rejects.toThrow();
    const aborted = errors.map((l) => JSON.parse(l)).find((l) => l.msg === "export aborted");
    expect(aborted).toMatchObject({ rows: 6, queries: 3, error: "the export needed more than 3 queries" });
  });
});

describe("documentation", () => {
  it("/openapi.json documents the three content types and the download headers", async () => {
    const doc = (await call("/openapi.json", { token: null })).json;
    const op = doc.paths["/module/{moduleID}/export"].get;
    expect(Object.keys(op.responses["200"].content).sort()).toEqual(["application/json", "application/x-ndjson", "text/csv"]);
    expect(Object.keys(op.responses["200"].headers)).toEqual(["Content-Disposition", "X-Total-Count"]);
    expect(op.parameters.map((p: any) => p.name).sort()).toEqual(["bom", "fields", "filter", "format", "moduleID", "query", "sort"]);
    expect(op.responses["400"]).toBeDefined();
  });
});

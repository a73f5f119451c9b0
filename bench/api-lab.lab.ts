// See api-lab.config.ts. Prints `API_LAB_RESULT {json}`: p50/min/max ms per scenario and size,
// and the query plans of the chart and listing statements.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, makeModule, rederiveTypedRows } from "../test/helpers";
import { searchMarker } from "../src/content/storage";
import { COUNTRIES, MODULE_FIELDS, STAGES } from "./scenarios.mjs";

const SIZES = ((import.meta as any).env?.VITE_API_LAB_SIZES ?? "1000,10000,100000").split(",").map(Number);
const SAMPLES = 15;
const WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"];

/** Items from..to (ids = i + base) written straight into `content`, as bench/scenarios.mjs item(i). */
async function seed(moduleId: number, from: number, to: number) {
  const w = (e: string) => `json_extract(?3, '$[' || (${e}) || ']')`;
  const m = (n: string) => searchMarker(n);
  for (let lo = from; lo <= to; lo += 10_000) {
    const hi = Math.min(to, lo + 9_999);
    await env.DB.prepare(
      `INSERT INTO content (module_id, user_id, data, search, created_at, updated_at)
       WITH RECURSIVE n(i) AS (SELECT CAST(?1 AS INTEGER) UNION ALL SELECT i + 1 FROM n WHERE i < ?2),
       s AS (SELECT i, ${w("i % 8")} || ' ' || ${w("(i * 7) % 8")} || ' ' || i AS name, 'user' || i || '@example.com' AS email,
             json_extract(?4, '$[' || (i % 5) || ']') AS country, json_extract(?5, '$[' || ((i * 3) % 4) || ']') AS stage,
             (i * 37) % 5000 AS value, i % 100 AS score,
             '2026-' || printf('%02d', (i % 12) + 1) || '-' || printf('%02d', (i % 28) + 1) AS closeDate,
             '2026-' || printf('%02d', (i % 12) + 1) || '-' || printf('%02d', (i % 28) + 1) || 'T10:00:00.000Z' AS seenAt,
             i % 2 = 0 AS active, 'note ' || ${w("(i * 3) % 8")} AS notes FROM n)
       SELECT ?6, '7', json_object('name', name, 'email', email, 'country', country, 'stage', stage, 'value', value,
           'score', score, 'closeDate', closeDate, 'seenAt', seenAt, 'active', json(case when active then 'true' else 'false' end), 'notes', notes),
         ?7 || lower(name) || ?8 || lower(email) || ?9 || lower(country) || ?10 || lower(stage) || ?11 || lower(notes),
         seenAt, seenAt
       FROM s`,
    )
      .bind(
        lo,
        hi,
        JSON.stringify(WORDS),
        JSON.stringify(COUNTRIES),
        JSON.stringify(STAGES),
        moduleId,
        m("name"),
        m("email"),
        m("country"),
        m("stage"),
        m("notes"),
      )
      .run();
  }
}

const q = (params: Record<string, string>) => new URLSearchParams(params).toString();
const bound = () => (1000 + Math.random()).toFixed(9);

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  for (let i = 0; i < 3; i++) await fn();
  return (performance.now() - t) / 3;
}

describe.skipIf(!(import.meta as any).env?.VITE_API_LAB)("API lab", () => {
  it("measures", async () => {
    const mod = await makeModule("Lab", MODULE_FIELDS);
    const id = Number(mod.moduleID);
    const base = `/module/${id}`;
    const ok = async (path: string, init?: any) => {
      const res = await call(path, init);
      expect(res.status, `${path}: ${res.text}`).toBeLessThan(300);
      return res;
    };
    const scenarios: Record<string, () => Promise<unknown>> = {
      "list eq+range sort (varying)": () =>
        ok(`${base}/content?${q({ filter: `country eq 'France' and value ge ${bound()}`, sort: "value desc", perPage: "50" })}`),
      "list eq+range sort+query (varying)": () =>
        ok(`${base}/content?${q({ filter: `country eq 'France' and value ge ${bound()}`, sort: "value desc", query: "alpha", perPage: "50" })}`),
      "search selective (varying)": () => ok(`${base}/content?${q({ query: String(1000 + Math.floor(Math.random() * 8000)), perPage: "50" })}`),
      "grouped count range (varying)": () => ok(`${base}/chart?${q({ kind: "bar", groupBy: "stage", filter: `value ge ${bound()}` })}`),
      "grouped sum range (varying)": () => ok(`${base}/chart?${q({ kind: "bar", groupBy: "stage", sum: "value", filter: `value ge ${bound()}` })}`),
      "monthly sum all (varying)": () =>
        ok(`${base}/chart?${q({ kind: "bar", xAxis: "closeDate:month", sum: "value", filter: `id ne ${1e12 + Math.floor(Math.random() * 1e9)}` })}`),
      "create": () =>
        ok(`${base}/content`, {
          body: { fields: { name: "new one", country: "France", stage: "Open", value: 5, score: 1, closeDate: "2026-01-01", active: true } },
        }),
      "update": () =>
        ok(`${base}/content/${1 + Math.floor(Math.random() * 900)}`, {
          body: { fields: { name: "changed", country: "Spain", stage: "Won", value: Math.random() * 5000, score: 2, closeDate: "2026-02-01", active: false } },
        }),
    };
    const rebuildMs: Record<number, number> = {};
    const sizes: Record<number, Record<string, number>> = {};
    const results: Record<string, Record<number, { p50: number; min: number; max: number }>> = {};
    let have = 0;
    for (const size of SIZES) {
      await seed(id, have + 1, size);
      have = size;
      await rederiveTypedRows(id);
      const t = performance.now();
      await ok(`${base}/content?perPage=1`); // converts: builds the typed table and the search index
      rebuildMs[size] = performance.now() - t;
      // What the database holds per item: the whole file (D1's size_after) and the document columns.
      const fileBytes = (await env.DB.prepare("select 1").run()).meta.size_after as number;
      const doc = (await env.DB.prepare("select avg(length(data)) as data, avg(length(search)) as search from content where module_id = ?")
        .bind(id)
        .first()) as any;
      sizes[size] = { fileBytes, bytesPerItem: Math.round(fileBytes / size), dataBytes: Math.round(doc.data), searchBytes: Math.round(doc.search) };
      for (const [name, fn] of Object.entries(scenarios)) {
        await fn();
        const samples: number[] = [];
        for (let i = 0; i < SAMPLES; i++) samples.push(await timed(fn));
        samples.sort((a, b) => a - b);
        (results[name] ??= {})[size] = { p50: samples[SAMPLES >> 1], min: samples[0], max: samples[SAMPLES - 1] };
      }
      console.log(
        `API_LAB_SIZE ${size} rebuild ${Math.round(rebuildMs[size])} ms ${JSON.stringify(Object.fromEntries(Object.entries(results).map(([k, v]) => [k, v[size].p50])))}`,
      );
    }
    console.log(`API_LAB_RESULT ${JSON.stringify({ results, rebuildMs, sizes })}`);
  });
});

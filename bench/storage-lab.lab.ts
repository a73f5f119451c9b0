// Storage lab (issue 13, first step): measures storage layouts for content side by side, inside
// workerd against the local D1, on the benchmark's ten-field module (bench/scenarios.mjs) at
// 10,000 and 100,000 items. Not part of the regular suite: it runs only with VITE_STORAGE_LAB=1 (sizes: VITE_STORAGE_LAB_SIZES=10000,100000)
//
//   VITE_STORAGE_LAB=1 npm run bench:storage
//
// and prints its results as one line `STORAGE_LAB_RESULT {json}` (docs/storage-alternatives.md
// has the method and the numbers). Alternatives, all in the one database of this file:
//   A  today: content.data JSON + the module's per-field partial expression indexes (module A,
//      created through the API, SQL compiled by the service's own compileFilter/sortPlan/charts)
//   D  A plus covering composite expression indexes (module D: a copy of A's rows)
//   B  a typed table per module, c_b (STRICT, one column per field, per-column partial indexes)
//   BX the same with composite covering indexes as well (c_bx)
//   C  typed value rows (EAV): content_values(module_id, field, content_id, num, txt)
//   E  FTS5 (trigram, case-sensitive over the pre-folded search text) vs instr() on `search`
// Every sample runs REP queries with a fresh random parameter each (nothing can be cached; D1
// has no result cache anyway) and takes the mean; the alternatives of a scenario run one after
// another, in a shuffled order, round after round, so that load from other work on the machine
// spreads over all of them.
import { env } from "cloudflare:workers";
import { SQLiteAsyncDialect } from "drizzle-orm/sqlite-core";
import { count as countFn, type SQL } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { call, makeModule } from "../test/helpers";
import { getDb } from "../src/db/client";
import { content } from "../src/db/schema";
import { getModule, type Module } from "../src/modules/service";
import { listingWhere } from "../src/content/service";
import { sortPlan } from "../src/content/listing";
import { searchMarker } from "../src/content/storage";
import { planChart } from "../src/charts/params";
import { runAggregate } from "../src/charts/query";

const RUN = (import.meta as any).env?.VITE_STORAGE_LAB === "1";
const SIZES = ((import.meta as any).env?.VITE_STORAGE_LAB_SIZES ?? "10000,100000").split(",").map(Number);
const ROUNDS = 9; // samples per alternative and scenario (p50 over these)
const REP = 3; // queries per sample, each with its own parameter

// The benchmark's module (bench/scenarios.mjs MODULE_FIELDS), copied so this stays TypeScript.
const COUNTRIES = ["France", "Slovenia", "Germany", "Italy", "Spain"];
const STAGES = ["Open", "Won", "Lost", "Stalled"];
const WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"];
const FIELDS = [
  { name: "name", kind: "text" },
  { name: "email", kind: "email" },
  { name: "country", kind: "enum", options: { options: COUNTRIES } },
  { name: "stage", kind: "enum", options: { options: STAGES } },
  { name: "value", kind: "number" },
  { name: "score", kind: "number" },
  { name: "closeDate", kind: "date" },
  { name: "seenAt", kind: "stamp" },
  { name: "active", kind: "bool" },
  { name: "notes", kind: "textarea" },
];

const MOD_B = 9002; // content rows that B and BX writes register
const MOD_C = 9003; // content rows of C (presentation JSON; no per-field indexes)
const D_OFFSET = 1_000_000; // D's copies of A's rows
const WRITES_FROM = 5_000_000; // rows written by the create scenarios get IDs above this, and are removed after each size
const dialect = new SQLiteAsyncDialect();
const q = (s: SQL) => dialect.sqlToQuery(s);

type Stmt = { sql: string; params: unknown[] };
const db = () => env.DB;
const prep = (s: Stmt) => db().prepare(s.sql).bind(...s.params);
const st = (sql: string, ...params: unknown[]): Stmt => ({ sql, params });
const replaceParam = (s: Stmt, from: unknown, to: unknown): Stmt => {
  if (!s.params.includes(from)) throw new Error(`sentinel ${from} not in ${s.sql}`);
  return { sql: s.sql, params: s.params.map((p) => (p === from ? to : p)) };
};

const rnd = () => 1000 + Math.random(); // the benchmark's cache-defeating bound (value ge 1000.x)
const SENTINEL = 1000.123456;

/** What runAggregate would run: a db whose all/get record the SQL instead of running it. */
async function chartSql(module: Module, query: Record<string, string>): Promise<Stmt> {
  let captured: Stmt | undefined;
  const fake = {
    all: async (s: SQL) => ((captured = q(s)), []),
    get: async (s: SQL) => ((captured = q(s)), undefined),
  };
  await runAggregate(fake as any, module, planChart(module, query as any));
  return captured!;
}

function listingStmts(module: Module, filter: string, sort: string, query?: string): { page: Stmt; count: Stmt } {
  const d = getDb(env);
  const plan = sortPlan(module, sort);
  const cols = { id: content.id, moduleId: content.moduleId, userId: content.userId, data: content.data, createdAt: content.createdAt, updatedAt: content.updatedAt };
  const page = d.select(cols).from(content).where(listingWhere(module, { filter, query }, plan.firstField)).orderBy(...plan.terms).limit(50).toSQL();
  const count = d.select({ n: countFn() }).from(content).where(listingWhere(module, { filter, query })).toSQL();
  return { page: { sql: page.sql, params: page.params }, count: { sql: count.sql, params: count.params } };
}

// ------------------------------------------------------------------------------------------
// Schema of B, BX, C, E

function typedTableDdl(t: string, composites: boolean): string[] {
  const out = [
    `CREATE TABLE ${t} (id INTEGER PRIMARY KEY, user_id TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, deleted_at TEXT,
      "name" TEXT COLLATE NOCASE, "email" TEXT COLLATE NOCASE, "country" TEXT COLLATE NOCASE, "stage" TEXT COLLATE NOCASE,
      "value" REAL, "score" REAL, "closeDate" TEXT, "seenAt" TEXT, "active" INTEGER, "notes" TEXT COLLATE NOCASE,
      search TEXT NOT NULL DEFAULT '') STRICT`,
  ];
  for (const f of ["name", "email", "country", "stage", "value", "score", "closeDate", "seenAt", "active"]) {
    out.push(`CREATE INDEX ${t}_${f} ON ${t} ("${f}", id) WHERE deleted_at IS NULL`);
  }
  if (composites) {
    out.push(`CREATE INDEX ${t}_country_value ON ${t} ("country", "value", id) WHERE deleted_at IS NULL`);
    out.push(`CREATE INDEX ${t}_stage_value ON ${t} ("stage", "value") WHERE deleted_at IS NULL`);
    out.push(`CREATE INDEX ${t}_month_value ON ${t} (substr("closeDate", 1, 7), "value") WHERE deleted_at IS NULL`);
  }
  return out;
}

const EAV_DDL = [
  `CREATE TABLE content_values (content_id INTEGER NOT NULL, field TEXT NOT NULL, module_id INTEGER NOT NULL,
     num REAL, txt TEXT COLLATE NOCASE, PRIMARY KEY (content_id, field)) WITHOUT ROWID`,
  `CREATE INDEX cv_num ON content_values (module_id, field, num, content_id) WHERE num IS NOT NULL`,
  `CREATE INDEX cv_txt ON content_values (module_id, field, txt, content_id) WHERE txt IS NOT NULL`,
];

function dIndexes(moduleId: number): string[] {
  const j = (f: string) => `json_extract("data", '$.${f}')`;
  const where = `WHERE "module_id" = ${moduleId} AND "deleted_at" IS NULL`;
  return [
    `CREATE INDEX dx_country_value ON content ("module_id", ${j("country")} COLLATE NOCASE, ${j("value")}, "id") ${where}`,
    `CREATE INDEX dx_stage_value ON content ("module_id", ${j("stage")} COLLATE NOCASE, ${j("value")}) ${where}`,
    `CREATE INDEX dx_month_value ON content ("module_id", substr(${j("closeDate")}, 1, 7), ${j("value")}) ${where}`,
  ];
}

// ------------------------------------------------------------------------------------------
// Seeding (INSERT ... SELECT over a recursive CTE; item(i) of bench/scenarios.mjs in SQL)

async function seed(A: Module, D: Module, from: number, to: number) {
  const words = JSON.stringify(WORDS);
  const w = (e: string) => `json_extract(?3, '$[' || (${e}) || ']')`;
  const CHUNK = 10_000;
  for (let lo = from; lo <= to; lo += CHUNK) {
    const hi = Math.min(to, lo + CHUNK - 1);
    const m = (n: string) => searchMarker(n);
    await db().batch([
      db()
        .prepare(
          `INSERT INTO seed WITH RECURSIVE n(i) AS (SELECT CAST(?1 AS INTEGER) UNION ALL SELECT i + 1 FROM n WHERE i < ?2)
           SELECT i, ${w("i % 8")} || ' ' || ${w("(i * 7) % 8")} || ' ' || i, 'user' || i || '@example.com',
             json_extract(?4, '$[' || (i % 5) || ']'), json_extract(?5, '$[' || ((i * 3) % 4) || ']'),
             (i * 37) % 5000, i % 100,
             '2026-' || printf('%02d', (i % 12) + 1) || '-' || printf('%02d', (i % 28) + 1),
             '2026-' || printf('%02d', (i % 12) + 1) || '-' || printf('%02d', (i % 28) + 1) || 'T10:00:00.000Z',
             i % 2 = 0, 'note ' || ${w("(i * 3) % 8")}
           FROM n`,
        )
        .bind(lo, hi, words, JSON.stringify(COUNTRIES), JSON.stringify(STAGES)),
      db()
        .prepare(
          `INSERT INTO content (id, module_id, user_id, data, search, created_at, updated_at)
           SELECT i, ?1, '7', json_object('name', name, 'email', email, 'country', country, 'stage', stage, 'value', value,
               'score', score, 'closeDate', closeDate, 'seenAt', seenAt, 'active', json(case when active then 'true' else 'false' end), 'notes', notes),
             ?2 || lower(name) || ?3 || lower(email) || ?4 || lower(country) || ?5 || lower(stage) || ?6 || lower(notes),
             seenAt, seenAt
           FROM seed WHERE i BETWEEN ?7 AND ?8`,
        )
        .bind(A.id, m("name"), m("email"), m("country"), m("stage"), m("notes"), lo, hi),
      db()
        .prepare(
          `INSERT INTO content (id, module_id, user_id, data, search, created_at, updated_at)
           SELECT id + ${D_OFFSET}, ?1, user_id, data, search, created_at, updated_at FROM content WHERE module_id = ?2 AND id BETWEEN ?3 AND ?4`,
        )
        .bind(D.id, A.id, lo, hi),
      ...["c_b", "c_bx"].map((t) =>
        db()
          .prepare(
            `INSERT INTO ${t} (id, user_id, created_at, updated_at, name, email, country, stage, value, score, closeDate, seenAt, active, notes, search)
             SELECT s.i, '7', s.seenAt, s.seenAt, name, email, country, stage, value, score, closeDate, seenAt, active, notes, c.search
             FROM seed s JOIN content c ON c.id = s.i WHERE s.i BETWEEN ?1 AND ?2`,
          )
          .bind(lo, hi),
      ),
      ...FIELDS.map((f) => {
        const num = ["value", "score", "active"].includes(f.name);
        return db()
          .prepare(
            `INSERT INTO content_values (content_id, field, module_id, num, txt)
             SELECT i, ?1, ?2, ${num ? `"${f.name}"` : "NULL"}, ${num ? "NULL" : `"${f.name}"`} FROM seed WHERE i BETWEEN ?3 AND ?4`,
          )
          .bind(f.name, MOD_C, lo, hi);
      }),
      db().prepare(`INSERT INTO s_a (rowid, search) SELECT id, search FROM content WHERE module_id = ?1 AND id BETWEEN ?2 AND ?3`).bind(A.id, lo, hi),
    ]);
  }
}

// ------------------------------------------------------------------------------------------
// Writes

let writeSeq = 0;
const pad = (n: number) => String(n).padStart(2, "0");
/** item(i) exactly as the seed SQL writes it (updates write an item's own values back, so every
 * alternative keeps the same data and the cross-checks stay exact); no argument: a new item. */
function newItem(seedIndex?: number) {
  const i = seedIndex ?? 500_000 + ++writeSeq;
  const date = `2026-${pad((i % 12) + 1)}-${pad((i % 28) + 1)}`;
  const data = {
    name: `${WORDS[i % 8]} ${WORDS[(i * 7) % 8]} ${i}`,
    email: `user${i}@example.com`,
    country: COUNTRIES[i % 5],
    stage: STAGES[(i * 3) % 4],
    value: (i * 37) % 5000,
    score: i % 100,
    closeDate: date,
    seenAt: `${date}T10:00:00.000Z`,
    active: i % 2 === 0,
    notes: `note ${WORDS[(i * 3) % 8]}`,
  };
  const search = ["name", "email", "country", "stage", "notes"].map((n) => searchMarker(n) + String((data as any)[n]).toLowerCase()).join("");
  return { data, json: JSON.stringify(data), search, now: new Date().toISOString() };
}

const contentInsert = (moduleId: number, it: ReturnType<typeof newItem>) =>
  db()
    .prepare(`INSERT INTO content (module_id, user_id, data, search, created_at, updated_at) VALUES (?1, '7', ?2, ?3, ?4, ?4) RETURNING id`)
    .bind(moduleId, it.json, it.search, it.now);

const typedInsert = (t: string, it: ReturnType<typeof newItem>) => {
  const d = it.data;
  return db()
    .prepare(
      `INSERT INTO ${t} (id, user_id, created_at, updated_at, name, email, country, stage, value, score, closeDate, seenAt, active, notes, search)
       VALUES (last_insert_rowid(), '7', ?1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)`,
    )
    .bind(it.now, d.name, d.email, d.country, d.stage, d.value, d.score, d.closeDate, d.seenAt, d.active ? 1 : 0, d.notes, it.search);
};

const typedUpdate = (t: string, id: number, it: ReturnType<typeof newItem>) => {
  const d = it.data;
  return db()
    .prepare(
      `UPDATE ${t} SET updated_at = ?1, name = ?2, email = ?3, country = ?4, stage = ?5, value = ?6, score = ?7, closeDate = ?8,
         seenAt = ?9, active = ?10, notes = ?11, search = ?12 WHERE id = ?13 AND deleted_at IS NULL`,
    )
    .bind(it.now, d.name, d.email, d.country, d.stage, d.value, d.score, d.closeDate, d.seenAt, d.active ? 1 : 0, d.notes, it.search, id);
};

/** EAV rows of an item from its JSON, in one statement (`cid`: SQL for the item's ID). */
const eavInsert = (cid: string, json: string, ...extra: unknown[]) =>
  db()
    .prepare(
      `INSERT INTO content_values (content_id, field, module_id, num, txt)
       SELECT ${cid}, key, ${MOD_C}, case when type in ('integer', 'real', 'true', 'false') then value end, case when type = 'text' then value end
       FROM json_each(?1)`,
    )
    .bind(json, ...extra);

// ------------------------------------------------------------------------------------------
// Measurement

type Sample = { alt: string; scenario: string; size: number; ms: number[] };
const samples = new Map<string, Sample>();
const plans: Record<string, string[]> = {};

function record(alt: string, scenario: string, size: number, ms: number) {
  const key = `${size}|${scenario}|${alt}`;
  if (!samples.has(key)) samples.set(key, { alt, scenario, size, ms: [] });
  samples.get(key)!.ms.push(ms);
}

async function plan(label: string, s: Stmt) {
  const rows = await db().prepare(`EXPLAIN QUERY PLAN ${s.sql}`).bind(...s.params).all<{ detail: string }>();
  plans[label] = rows.results.map((r) => r.detail);
}

const shuffle = <T>(xs: T[]) => xs.map((x) => [Math.random(), x] as const).sort((a, b) => a[0] - b[0]).map((p) => p[1]);
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
};

type Alt = Record<string, () => Promise<unknown>>;
type Scenario = { name: string; alts: Alt };

async function runScenarios(size: number, scenarios: Scenario[]) {
  // Warm up once (page cache, statement compile), then ROUNDS interleaved rounds.
  for (const sc of scenarios) for (const fn of Object.values(sc.alts)) await fn();
  for (let r = 0; r < ROUNDS; r++) {
    for (const sc of scenarios) {
      for (const [alt, fn] of shuffle(Object.entries(sc.alts))) {
        const t0 = performance.now();
        for (let k = 0; k < REP; k++) await fn();
        record(alt, sc.name, size, (performance.now() - t0) / REP);
      }
    }
  }
}

const it_ = RUN ? it : it.skip;

describe("storage lab", () => {
  it_(
    "measures A/B/BX/C/D/E at 10,000 and 100,000 items",
    async () => {
      const A = await getModule(getDb(env), Number((await makeModule("LabA", FIELDS)).moduleID));
      const D = await getModule(getDb(env), Number((await makeModule("LabD", FIELDS)).moduleID));
      const ddl = [
        `CREATE TABLE seed (i INTEGER PRIMARY KEY, name TEXT, email TEXT, country TEXT, stage TEXT, value INTEGER, score INTEGER,
           closeDate TEXT, seenAt TEXT, active INTEGER, notes TEXT)`,
        ...typedTableDdl("c_b", false),
        ...typedTableDdl("c_bx", true),
        ...EAV_DDL,
        ...dIndexes(D.id),
        `CREATE VIRTUAL TABLE s_a USING fts5(search, tokenize = 'trigram case_sensitive 1', content = '', contentless_delete = 1)`,
      ];
      for (const s of ddl) await db().prepare(s).run();
      // AUTOINCREMENT continues above the largest ID ever used: new items get IDs > WRITES_FROM.
      await db().prepare(`INSERT INTO content (id, module_id, user_id, created_at, updated_at, deleted_at) VALUES (${WRITES_FROM}, 0, '7', '', '', 'x')`).run();

      // The SQL each alternative runs (A and D: exactly what the service compiles).
      const F = "France";
      const listA = listingStmts(A, `country eq 'France' and value ge ${SENTINEL}`, "value desc");
      const listD = listingStmts(D, `country eq 'France' and value ge ${SENTINEL}`, "value desc");
      // D: the count written without the planner steering (it would hide the composite index).
      const listDcount = listingStmts(D, `country eq 'France' and value ge ${SENTINEL}`, "value desc");
      listDcount.count = (() => {
        const d = getDb(env);
        const c = d.select({ n: countFn() }).from(content).where(listingWhere(D, { filter: `country eq 'France' and value ge ${SENTINEL}` }, "value")).toSQL();
        return { sql: c.sql, params: c.params };
      })();
      const typedCols = `id, user_id, created_at, updated_at, name, email, country, stage, value, score, closeDate, seenAt, active, notes`;
      const listB = (t: string) => ({
        page: st(`SELECT ${typedCols} FROM ${t} WHERE deleted_at IS NULL AND country = ?1 AND value >= ?2 ORDER BY value DESC NULLS LAST, id DESC LIMIT 50`, F, SENTINEL),
        count: st(`SELECT count(*) AS n FROM ${t} WHERE deleted_at IS NULL AND country = ?1 AND value >= ?2`, F, SENTINEL),
      });
      // B without composites, written so that the page walks the sort field's index (the eq made
      // unindexable with a unary +) and the count scans the table in rowid order (NOT INDEXED).
      const listBscan = {
        page: st(`SELECT ${typedCols} FROM c_b WHERE deleted_at IS NULL AND +country = ?1 AND value >= ?2 ORDER BY value DESC NULLS LAST, id DESC LIMIT 50`, F, SENTINEL),
        count: st(`SELECT count(*) AS n FROM c_b NOT INDEXED WHERE deleted_at IS NULL AND country = ?1 AND value >= ?2`, F, SENTINEL),
      };
      const listC = {
        page: st(
          `SELECT c.id, c.module_id, c.user_id, c.data, c.created_at, c.updated_at
           FROM content_values v JOIN content_values k ON k.content_id = v.content_id AND k.field = 'country'
           JOIN content c ON c.id = v.content_id
           WHERE v.module_id = ${MOD_C} AND v.field = 'value' AND v.num >= ?2 AND k.txt = ?1
           ORDER BY v.num DESC, v.content_id DESC LIMIT 50`,
          F,
          SENTINEL,
        ),
        count: st(
          `SELECT count(*) AS n FROM content_values k JOIN content_values v ON v.content_id = k.content_id AND v.field = 'value'
           WHERE k.module_id = ${MOD_C} AND k.field = 'country' AND k.txt = ?1 AND v.num >= ?2`,
          F,
          SENTINEL,
        ),
      };
      const grp = (agg: "count" | "sum") => ({
        A: null as any,
        D: null as any,
        B: st(`SELECT stage AS cat, ${agg === "sum" ? "total(value)" : "count(*)"} AS val FROM c_b WHERE deleted_at IS NULL AND value >= ?1 GROUP BY stage ORDER BY stage IS NULL, stage LIMIT 10001`, SENTINEL),
        "B scan": st(`SELECT stage AS cat, ${agg === "sum" ? "total(value)" : "count(*)"} AS val FROM c_b NOT INDEXED WHERE deleted_at IS NULL AND value >= ?1 GROUP BY stage ORDER BY stage IS NULL, stage LIMIT 10001`, SENTINEL),
        BX: st(`SELECT stage AS cat, ${agg === "sum" ? "total(value)" : "count(*)"} AS val FROM c_bx WHERE deleted_at IS NULL AND value >= ?1 GROUP BY stage ORDER BY stage IS NULL, stage LIMIT 10001`, SENTINEL),
        C: st(
          `SELECT s.txt AS cat, ${agg === "sum" ? "total(v.num)" : "count(*)"} AS val FROM content_values v
           JOIN content_values s ON s.content_id = v.content_id AND s.field = 'stage'
           WHERE v.module_id = ${MOD_C} AND v.field = 'value' AND v.num >= ?1 GROUP BY s.txt ORDER BY s.txt IS NULL, s.txt LIMIT 10001`,
          SENTINEL,
        ),
      });
      const gCount = grp("count");
      const gSum = grp("sum");
      gCount.A = await chartSql(A, { kind: "bar", groupBy: "stage", filter: `value ge ${SENTINEL}` });
      gCount.D = await chartSql(D, { kind: "bar", groupBy: "stage", filter: `value ge ${SENTINEL}` });
      gSum.A = await chartSql(A, { kind: "bar", groupBy: "stage", sum: "value", filter: `value ge ${SENTINEL}` });
      gSum.D = await chartSql(D, { kind: "bar", groupBy: "stage", sum: "value", filter: `value ge ${SENTINEL}` });
      // D with the range written so that no index serves it (unary +): the planner then walks the
      // (stage, value) composite instead of the value index (what compileFilter would have to do).
      const steerD = (x: Stmt): Stmt => {
        const v = `json_extract("content"."data", '$.value')`;
        const sql = x.sql.split(`${v} >= ?`).join(`(+${v}) >= ?`).split(`likely(${v} < '')`).join(`likely((+${v}) < '')`);
        if (sql === x.sql) throw new Error(`could not steer ${x.sql}`);
        return { sql, params: x.params };
      };
      (gCount as any)["D steered"] = steerD(gCount.D);
      (gSum as any)["D steered"] = steerD(gSum.D);
      const monthly: Record<string, Stmt> = {
        A: await chartSql(A, { kind: "bar", groupBy: "closeDate:month", sum: "value" }),
        D: await chartSql(D, { kind: "bar", groupBy: "closeDate:month", sum: "value" }),
        B: st(`SELECT substr(closeDate, 1, 7) AS cat, total(value) AS val FROM c_b WHERE deleted_at IS NULL GROUP BY substr(closeDate, 1, 7) ORDER BY cat IS NULL, cat LIMIT 10001`),
        "B scan": st(`SELECT substr(closeDate, 1, 7) AS cat, total(value) AS val FROM c_b NOT INDEXED WHERE deleted_at IS NULL GROUP BY substr(closeDate, 1, 7) ORDER BY cat IS NULL, cat LIMIT 10001`),
        BX: st(`SELECT substr(closeDate, 1, 7) AS cat, total(value) AS val FROM c_bx WHERE deleted_at IS NULL GROUP BY substr(closeDate, 1, 7) ORDER BY cat IS NULL, cat LIMIT 10001`),
        C: st(
          `SELECT substr(d.txt, 1, 7) AS cat, total(v.num) AS val FROM content_values d
           LEFT JOIN content_values v ON v.content_id = d.content_id AND v.field = 'value'
           WHERE d.module_id = ${MOD_C} AND d.field = 'closeDate' GROUP BY substr(d.txt, 1, 7) ORDER BY cat IS NULL, cat LIMIT 10001`,
        ),
      };
      // Search: `query=alpha` (common: ~1/4 of items), `query=4242` (selective), and the benchmark's
      // full listing (filter + sort + query=alpha).
      const WORD = "zzsearchword";
      const searchA = (word: string) => listingStmts(A, "", "id desc", word);
      const ftsList = (extraWhere = "", order = "c.id DESC") => ({
        page: st(
          `SELECT c.id, c.module_id, c.user_id, c.data, c.created_at, c.updated_at FROM content c
           WHERE c.module_id = ${A.id} AND c.deleted_at IS NULL ${extraWhere} AND c.id IN (SELECT rowid FROM s_a WHERE s_a MATCH ?1)
           ORDER BY ${order} LIMIT 50`,
          WORD,
        ),
        count: st(`SELECT count(*) AS n FROM content c WHERE c.module_id = ${A.id} AND c.deleted_at IS NULL ${extraWhere} AND c.id IN (SELECT rowid FROM s_a WHERE s_a MATCH ?1)`, WORD),
      });
      const searchB = (extra = "", order = "id DESC") => ({
        page: st(`SELECT ${typedCols} FROM c_b WHERE deleted_at IS NULL ${extra} AND instr(search, ?1) > 0 ORDER BY ${order} LIMIT 50`, WORD),
        count: st(`SELECT count(*) AS n FROM c_b WHERE deleted_at IS NULL ${extra} AND instr(search, ?1) > 0`, WORD),
      });
      const fullA = listingStmts(A, `country eq 'France' and value ge ${SENTINEL}`, "value desc", WORD);
      const fullFts = ftsList(
        `AND json_extract(c.data, '$.country') COLLATE NOCASE = 'France' AND (+json_extract(c.data, '$.value')) >= ${SENTINEL}`,
        `json_extract(c.data, '$.value') DESC NULLS LAST, c.id DESC`,
      );
      const fullB = searchB(`AND country = 'France' AND value >= ${SENTINEL}`, "value DESC NULLS LAST, id DESC");

      const pair = (l: { page: Stmt; count: Stmt }, n: number) => [prep(replaceParam(l.page, SENTINEL, n)), prep(replaceParam(l.count, SENTINEL, n))];
      const pairW = (l: { page: Stmt; count: Stmt }, w: string) => [prep(replaceParam(l.page, WORD, w)), prep(replaceParam(l.count, WORD, w))];
      const fts = (w: string) => `"${w.replace(/"/g, '""')}"`;
      const one = (s: Stmt) => () => prep(replaceParam(s, SENTINEL, rnd())).all();
      const both = (l: { page: Stmt; count: Stmt }) => () => db().batch(pair(l, rnd()));
      const common = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"];
      const pick = <T>(xs: T[]) => xs[Math.floor(Math.random() * xs.length)];
      const selective = () => String(1000 + Math.floor(Math.random() * 8999)); // in ~1-2 names and emails per 10,000
      const firstMod = (s: Stmt) => s;

      // Sanity: every alternative answers the same.
      async function checkSame(size: number) {
        const n = 1000.5;
        const counts: Record<string, unknown> = {};
        for (const [alt, l] of Object.entries({ A: listA, D: listDcount, B: listB("c_b"), "B scan": listBscan, BX: listB("c_bx"), C: listC })) {
          const [page, cnt] = await db().batch(pair(l, n));
          counts[alt] = [Object.values(cnt.results[0] as any)[0], (page.results as any[]).slice(0, 3).map((r) => r.id % D_OFFSET)];
        }
        const sums: Record<string, unknown> = {};
        for (const alt of ["A", "D", "D steered", "B", "B scan", "BX", "C"]) {
          if (!monthly[alt]) {
            sums[alt] = JSON.stringify((await prep(replaceParam((gSum as any)[alt], SENTINEL, n)).all()).results.map((r: any) => [String(r.cat).toLowerCase(), r.val]));
            sums[`m_${alt}`] = sums.m_A;
            continue;
          }
          sums[alt] = JSON.stringify((await prep(replaceParam((gSum as any)[alt], SENTINEL, n)).all()).results.map((r: any) => [String(r.cat).toLowerCase(), r.val]));
          sums[`m_${alt}`] = JSON.stringify((await prep(monthly[alt]).all()).results.map((r: any) => [r.cat, r.val]));
        }
        const sA = (await db().batch(pairW(searchA(WORD), "alpha")))[1].results[0] as any;
        const sF = (await db().batch(pairW(ftsList(), fts("alpha"))))[1].results[0] as any;
        const sB = (await db().batch(pairW(searchB(), "alpha")))[1].results[0] as any;
        const expectCount = Math.round(size / 5) - 0; // France: i % 5 == 0
        console.log(`check ${size}`, JSON.stringify({ counts, sums: Object.keys(sums).length, search: [sA, sF, sB].map((r) => Object.values(r)[0]), expectCount }));
        expect(new Set(Object.values(counts).map((c) => JSON.stringify(c))).size).toBe(1);
        for (const alt of ["D", "D steered", "B", "B scan", "BX", "C"]) {
          expect(sums[alt]).toBe(sums.A);
          expect(sums[`m_${alt}`]).toBe(sums.m_A);
        }
        const n0 = (r: any) => Object.values(r)[0];
        expect(n0(sF)).toBe(n0(sA));
        expect(n0(sB)).toBe(n0(sA));
      }

      const sizesDone: Record<number, number> = {};
      let have = 0;
      const seedMs: Record<number, number> = {};
      let cUpdateId = 0;
      for (const size of SIZES) {
        const t0 = Date.now();
        await seed(A, D, have + 1, size);
        seedMs[size] = Date.now() - t0;
        have = size;
        sizesDone[size] = size;
        await checkSame(size);
        // A C-owned item to update (its content row has no per-field indexes).
        {
          const it = newItem();
          const [[row]] = (await db().batch([contentInsert(MOD_C, it), eavInsert("last_insert_rowid()", it.json)])).map((r) => r.results as any[]);
          cUpdateId = row.id;
        }
        const rid = () => 1 + Math.floor(Math.random() * size);

        const scenarios: Scenario[] = [
          {
            name: "list: country eq France and value ge N, sort value desc, page 50 + count",
            alts: {
              A: both(listA),
              D: both({ page: listD.page, count: listDcount.count }),
              B: both(listB("c_b")),
              "B scan": both(listBscan),
              BX: both(listB("c_bx")),
              C: both(listC),
              "A via API (HTTP, whole request)": async () => {
                const res = await call(`/module/${A.id}/content?${new URLSearchParams({ filter: `country eq 'France' and value ge ${rnd()}`, sort: "value desc", perPage: "50" })}`);
                if (res.status !== 200) throw new Error(res.text);
              },
            },
          },
          {
            name: "chart: grouped count by stage, filter value ge N",
            alts: { A: one(gCount.A), D: one(gCount.D), "D steered": one((gCount as any)["D steered"]), B: one(gCount.B), "B scan": one((gCount as any)["B scan"]), BX: one(gCount.BX), C: one(gCount.C) },
          },
          {
            name: "chart: grouped sum of value by stage, filter value ge N",
            alts: {
              A: one(gSum.A),
              D: one(gSum.D),
              "D steered": one((gSum as any)["D steered"]),
              B: one(gSum.B),
              "B scan": one((gSum as any)["B scan"]),
              BX: one(gSum.BX),
              C: one(gSum.C),
              "A via API (HTTP, whole request)": async () => {
                const res = await call(`/module/${A.id}/chart?${new URLSearchParams({ kind: "bar", groupBy: "stage", sum: "value", filter: `value ge ${rnd()}` })}`);
                if (res.status !== 200) throw new Error(res.text);
              },
            },
          },
          {
            name: "chart: monthly sum of value by closeDate:month, all items",
            alts: Object.fromEntries(Object.entries(monthly).map(([k, s]) => [k, () => prep(firstMod(s)).all()])),
          },
          {
            name: "create one item (storage statements only)",
            alts: {
              A: () => contentInsert(A.id, newItem()).all(),
              D: () => contentInsert(D.id, newItem()).all(),
              B: () => {
                const it = newItem();
                return db().batch([contentInsert(MOD_B, it), typedInsert("c_b", it)]);
              },
              BX: () => {
                const it = newItem();
                return db().batch([contentInsert(MOD_B, it), typedInsert("c_bx", it)]);
              },
              C: () => {
                const it = newItem();
                return db().batch([contentInsert(MOD_C, it), eavInsert("last_insert_rowid()", it.json)]);
              },
              "A + FTS row (E)": () => {
                const it = newItem();
                return db().batch([
                  contentInsert(A.id, it),
                  db().prepare(`INSERT INTO s_a (rowid, search) VALUES (last_insert_rowid(), ?1)`).bind(it.search),
                ]);
              },
            },
          },
          {
            name: "update one item (all fields replaced)",
            alts: {
              A: () => {
                const i = rid();
                const it = newItem(i);
                return db().prepare(`UPDATE content SET data = ?1, search = ?2, updated_at = ?3 WHERE id = ?4 AND module_id = ?5 AND deleted_at IS NULL`).bind(it.json, it.search, it.now, i, A.id).run();
              },
              D: () => {
                const i = rid();
                const it = newItem(i);
                return db().prepare(`UPDATE content SET data = ?1, search = ?2, updated_at = ?3 WHERE id = ?4 AND module_id = ?5 AND deleted_at IS NULL`).bind(it.json, it.search, it.now, D_OFFSET + i, D.id).run();
              },
              B: () => {
                const i = rid();
                return typedUpdate("c_b", i, newItem(i)).run();
              },
              BX: () => {
                const i = rid();
                return typedUpdate("c_bx", i, newItem(i)).run();
              },
              C: () => {
                const it = newItem();
                return db().batch([
                  db().prepare(`UPDATE content SET data = ?1, search = ?2, updated_at = ?3 WHERE id = ?4`).bind(it.json, it.search, it.now, cUpdateId),
                  db().prepare(`DELETE FROM content_values WHERE content_id = ?1`).bind(cUpdateId),
                  eavInsert("?2", it.json, cUpdateId),
                ]);
              },
            },
          },
          {
            name: "search: query=<common word> (~1/4 of items), sort id desc, page 50 + count",
            alts: {
              "A instr (today)": () => {
                const w = pick(common);
                return db().batch(pairW(searchA(WORD), w));
              },
              "FTS5 trigram": () => db().batch(pairW(ftsList(), fts(pick(common)))),
              "B instr (typed table)": () => db().batch(pairW(searchB(), pick(common))),
            },
          },
          {
            name: "search: query=<4 digits> (selective), sort id desc, page 50 + count",
            alts: {
              "A instr (today)": () => db().batch(pairW(searchA(WORD), selective())),
              "FTS5 trigram": () => db().batch(pairW(ftsList(), fts(selective()))),
              "B instr (typed table)": () => db().batch(pairW(searchB(), selective())),
            },
          },
          {
            name: "search + filter: country eq France and value ge N, sort value desc, query=<common word>",
            alts: {
              "A instr (today)": () => {
                const l = fullA;
                const w = pick(common);
                const n = rnd();
                return db().batch([prep(replaceParam(replaceParam(l.page, SENTINEL, n), WORD, w)), prep(replaceParam(replaceParam(l.count, SENTINEL, n), WORD, w))]);
              },
              "FTS5 trigram": () => db().batch(pairW(fullFts, fts(pick(common)))),
              "B instr (typed table)": () => db().batch(pairW(fullB, pick(common))),
            },
          },
        ];
        // Plans, at each size.
        await plan(`${size} list A page`, replaceParam(listA.page, SENTINEL, 1000.5));
        await plan(`${size} list A count`, replaceParam(listA.count, SENTINEL, 1000.5));
        await plan(`${size} list D count`, replaceParam(listDcount.count, SENTINEL, 1000.5));
        for (const t of ["c_b", "c_bx"]) {
          await plan(`${size} list ${t} page`, replaceParam(listB(t).page, SENTINEL, 1000.5));
          await plan(`${size} list ${t} count`, replaceParam(listB(t).count, SENTINEL, 1000.5));
        }
        await plan(`${size} list C page`, replaceParam(listC.page, SENTINEL, 1000.5));
        await plan(`${size} list C count`, replaceParam(listC.count, SENTINEL, 1000.5));
        await plan(`${size} list B scan page`, replaceParam(listBscan.page, SENTINEL, 1000.5));
        await plan(`${size} list B scan count`, replaceParam(listBscan.count, SENTINEL, 1000.5));
        for (const alt of ["A", "D", "D steered", "B", "B scan", "BX", "C"]) {
          await plan(`${size} gsum ${alt}`, replaceParam((gSum as any)[alt], SENTINEL, 1000.5));
          await plan(`${size} gcount ${alt}`, replaceParam((gCount as any)[alt], SENTINEL, 1000.5));
          if (monthly[alt]) await plan(`${size} monthly ${alt}`, monthly[alt]);
        }
        await plan(`${size} fts count`, replaceParam(ftsList().count, WORD, '"alpha"'));
        await plan(`${size} full fts page`, replaceParam(fullFts.page, WORD, '"alpha"'));
        await runScenarios(size, scenarios);
        await db().batch([
          db().prepare(`DELETE FROM content WHERE id > ${WRITES_FROM}`),
          db().prepare(`DELETE FROM c_b WHERE id > ${WRITES_FROM}`),
          db().prepare(`DELETE FROM c_bx WHERE id > ${WRITES_FROM}`),
          db().prepare(`DELETE FROM content_values WHERE content_id > ${WRITES_FROM}`),
          db().prepare(`DELETE FROM s_a WHERE rowid > ${WRITES_FROM}`),
        ]);
      }

      // ---- Module edits and migration on the typed table, at the largest size (one-off timings).
      const ddlMs: Record<string, number | string> = {};
      const timed = async (label: string, fn: () => Promise<unknown>) => {
        const t0 = performance.now();
        try {
          await fn();
          ddlMs[label] = Math.round(performance.now() - t0);
        } catch (e) {
          ddlMs[label] = `error after ${Math.round(performance.now() - t0)} ms: ${String(e).slice(0, 160)}`;
        }
      };
      const last = SIZES[SIZES.length - 1];
      // A module-version guard that aborts the whole batch (DDL included) instead of filtering rows.
      const guard = (ok: boolean) => db().prepare(`SELECT CASE WHEN ?1 = 1 THEN 1 ELSE json('edit guard failed') END`).bind(ok ? 1 : 0);
      await timed("guard false: batch [guard, ADD COLUMN] (must fail)", () => db().batch([guard(false), db().prepare(`ALTER TABLE c_b ADD COLUMN f_guarded TEXT`)]));
      ddlMs["guard false: column added anyway?"] = String(
        ((await db().prepare(`SELECT count(*) AS n FROM pragma_table_info('c_b') WHERE name = 'f_guarded'`).first("n")) as number) > 0,
      );
      await timed(`isUnique on email: duplicate probe (GROUP BY ... HAVING count > 1) (${last} rows)`, () =>
        db().prepare(`SELECT email, group_concat(id) FROM c_b WHERE deleted_at IS NULL AND email IS NOT NULL GROUP BY email HAVING count(*) > 1 LIMIT 10`).all(),
      );
      await timed(`isUnique on email: CREATE UNIQUE INDEX (${last} rows)`, () =>
        db().prepare(`CREATE UNIQUE INDEX c_b_email_u ON c_b (email) WHERE deleted_at IS NULL AND email IS NOT NULL`).run(),
      );
      await timed("unique: insert of an existing email in another case (must fail)", () =>
        db().batch([contentInsert(MOD_B, newItem()), typedInsert("c_b", { ...newItem(), data: { ...newItem(1).data, email: "USER1@example.COM" } } as any)]),
      );
      await timed(`isUnique on name: CREATE UNIQUE INDEX over duplicates (must fail)`, async () => {
        await db().prepare(`UPDATE c_b SET name = 'dup' WHERE id IN (1, 2)`).run();
        await db().prepare(`CREATE UNIQUE INDEX c_b_name_u ON c_b (name) WHERE deleted_at IS NULL AND name IS NOT NULL`).run();
      });
      await timed(`add field: ADD COLUMN + CREATE INDEX (${last} rows)`, () =>
        db().batch([guard(true), db().prepare(`ALTER TABLE c_b ADD COLUMN f_new REAL`), db().prepare(`CREATE INDEX c_b_f_new ON c_b (f_new, id) WHERE deleted_at IS NULL`)]),
      );
      await timed(`retype score number->text: add, copy, drop index, drop column, index (${last} rows)`, () =>
        db().batch([
          guard(true),
          db().prepare(`ALTER TABLE c_b ADD COLUMN f_score2 TEXT COLLATE NOCASE`),
          db().prepare(`UPDATE c_b SET f_score2 = CAST(score AS TEXT) WHERE score IS NOT NULL`),
          db().prepare(`DROP INDEX c_b_score`),
          db().prepare(`ALTER TABLE c_b DROP COLUMN score`),
          db().prepare(`CREATE INDEX c_b_f_score2 ON c_b (f_score2, id) WHERE deleted_at IS NULL`),
        ]),
      );
      await timed(`remove field: DROP INDEX + DROP COLUMN (${last} rows)`, () => db().batch([guard(true), db().prepare(`DROP INDEX c_b_f_new`), db().prepare(`ALTER TABLE c_b DROP COLUMN f_new`)]));
      await timed(`isMulti on: single column -> JSON array column (${last} rows)`, () =>
        db().batch([
          guard(true),
          db().prepare(`ALTER TABLE c_b ADD COLUMN f_stage_m TEXT`),
          db().prepare(`UPDATE c_b SET f_stage_m = json_array(stage) WHERE stage IS NOT NULL`),
          db().prepare(`DROP INDEX c_b_stage`),
          db().prepare(`ALTER TABLE c_b DROP COLUMN stage`),
        ]),
      );
      await timed(`migration: CREATE typed table + INSERT ... SELECT json_extract(...) FROM content (${last} rows)`, async () => {
        for (const s of typedTableDdl("c_mig", false)) await db().prepare(s).run();
        const j = (f: string) => `json_extract(data, '$.${f}')`;
        await db()
          .prepare(
            `INSERT INTO c_mig (id, user_id, created_at, updated_at, deleted_at, name, email, country, stage, value, score, closeDate, seenAt, active, notes, search)
             SELECT id, user_id, created_at, updated_at, deleted_at, ${["name", "email", "country", "stage", "value", "score", "closeDate", "seenAt", "active", "notes"].map(j).join(", ")}, search
             FROM content WHERE module_id = ?1`,
          )
          .bind(A.id)
          .run();
      });
      ddlMs["c_mig rows"] = (await db().prepare(`SELECT count(*) AS n FROM c_mig`).first("n")) as number;

      const table = [...samples.values()].map((s) => ({
        size: s.size,
        scenario: s.scenario,
        alt: s.alt,
        p50: +pct(s.ms, 0.5).toFixed(2),
        min: +Math.min(...s.ms).toFixed(2),
        max: +Math.max(...s.ms).toFixed(2),
        n: s.ms.length,
      }));
      const indexes = await db().prepare(`SELECT tbl_name AS t, count(*) AS n FROM sqlite_master WHERE type = 'index' GROUP BY tbl_name`).all();
      console.log(`STORAGE_LAB_RESULT ${JSON.stringify({ rounds: ROUNDS, rep: REP, seedMs, ddlMs, table, plans, indexes: indexes.results })}`);
    },
    3_600_000,
  );
});

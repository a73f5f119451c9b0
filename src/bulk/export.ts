// Exporting a module's items: every item a listing with the same `filter`, `query` and `sort`
// would show, in the listing's order, streamed as CSV, a JSON array or NDJSON.
//
// Memory stays bounded whatever the module's size: the answer is a ReadableStream whose `pull`
// reads one page at a time from D1 (keyset paging: the items after the last one sent, by the
// listing's sort keys with the tie-break on id, never OFFSET), turns it into text and hands it on.
// A page is at most `exportLimits.pageRows` items and `exportLimits.pageBytes` of their
// documents, cut inside D1, so neither D1's answer nor the isolate ever holds more than that. The
// next page is only read when the client has taken the previous one (highWaterMark 0).
//
// Everything a client can get wrong (module, fields, filter, query, sort, size) is checked, and
// the first page read, before the answer starts: errors are the API's usual JSON 400s and 404s.
import { sql, type SQL } from "drizzle-orm";
import type { Db } from "../db/client";
import { toQuery } from "../db/raw";
import type { FieldDefinition } from "../fields/registry";
import { badRequest } from "../http/errors";
import { fieldNamed, getModule, type Module } from "../module-model/module";
import { sortPlan, orderTerms, type SortKey } from "../content/listing";
import { listingCountSql, listingWhere, presentContent, type ContentItem, type ContentRow, type ListParams } from "../content/service";
import { layoutOf } from "../content/storage";
import { DOC, ITEM, itemColumn, itemsFrom, needsDocument } from "../module-model/typed-table";
import { D1_MAX_BOUND_PARAMETERS, SUBREQUESTS_PER_INVOCATION } from "../platform/limits";
import { CSV_TYPE, csvCell, csvRecords, UTF8_BOM } from "./csv";

export const EXPORT_FORMATS = ["csv", "json", "ndjson"] as const;
type ExportFormat = (typeof EXPORT_FORMATS)[number];

export const CONTENT_TYPES: Record<ExportFormat, string> = {
  csv: CSV_TYPE,
  json: "application/json; charset=utf-8",
  ndjson: "application/x-ndjson; charset=utf-8",
};

/** The columns (CSV) an export always has besides the fields: the item's ID first, these last. */
const SYSTEM_COLUMNS_FIRST = ["contentID"] as const;
const SYSTEM_COLUMNS_LAST = ["createdAt", "updatedAt", "userID"] as const;
const SYSTEM_NAMES = new Set([...SYSTEM_COLUMNS_FIRST, ...SYSTEM_COLUMNS_LAST].map((n) => n.toLowerCase()));

/**
 * The bounds of one export (docs/api/import-export.md, "Export" → "Bounds"). Tests lower `pageRows` to cross many
 * pages with few items; nothing else writes these.
 */
export const exportLimits = {
  /** Items per page (one D1 query each). */
  pageRows: 500,
  /**
   * Bytes of documents per page: a page stops before the item that would pass it (the first item
   * of a page is always taken, so a page makes progress; an item holds at most MAX_ITEM_BYTES).
   */
  pageBytes: 4 * 1024 * 1024,
  /**
   * Queries of one export: each is a subrequest, and an invocation may make
   * SUBREQUESTS_PER_INVOCATION; the rest is left to authentication, the module and the count.
   */
  maxQueries: SUBREQUESTS_PER_INVOCATION - 100,
  /** Items one export may hold: checked before it starts (full pages: 500 queries at 500 items). */
  maxRows: 250_000,
  /**
   * Wall time of one export. The platform has no wall-time limit on a streamed answer while the
   * client stays connected, and CPU time (WORKER_CPU_TIME_MS, 30 s) does not count waiting on D1;
   * this bound keeps a stalled or very slow client from holding the stream open for ever.
   */
  maxMs: 10 * 60_000,
};

type ExportParams = ListParams & { format?: ExportFormat; fields?: string; bom?: boolean };

/** An export ready to stream: its answer's headers and body. */
type OpenedExport = {
  format: ExportFormat;
  /** Items matching when the export started. */
  count: number;
  /** The Content-Disposition header. */
  filename: string;
  body: ReadableStream<Uint8Array>;
  /** Items sent and D1 queries made so far (the first page's included). */
  progress(): { rows: number; queries: number };
};

type PageRow = ContentRow & { bytes: number; pageRows: number } & Record<`k${number}`, unknown>;

/** Where the next page starts. */
type Cursor =
  /** From the first item in the listing's order. */
  | { at: "start" }
  /** From the first item without a value in the first sort key (after every item with one). */
  | { at: "missing" }
  /** After the item whose sort-key values these are. */
  | { at: "after"; values: unknown[] };

// ---------------------------------------------------------------------------------------------
// Columns

/**
 * The fields an export holds, in order: `fields` is a comma-separated list of field names
 * (case-insensitive, as in `filter`); default every field in the module's order. The system
 * columns are always there: naming them is allowed and changes nothing.
 */
function exportFields(module: Module, fields: string | undefined): FieldDefinition[] {
  if (fields === undefined || fields.trim() === "") return module.fields;
  const chosen: FieldDefinition[] = [];
  const problems: { path: string; message: string }[] = [];
  const names = fields.split(",").map((n) => n.trim());
  if (names.length > module.fields.length + SYSTEM_NAMES.size) {
    const message = `at most ${module.fields.length + SYSTEM_NAMES.size} names (the module's fields and the system columns)`;
    throw badRequest(`Invalid fields: ${message}`, [{ path: "fields", message }], "invalid_fields");
  }
  for (const name of names) {
    if (name === "" || SYSTEM_NAMES.has(name.toLowerCase())) continue;
    const field = fieldNamed(module, name);
    if (!field) problems.push({ path: "fields", message: `unknown field '${name.slice(0, 64)}'` });
    else if (chosen.includes(field)) problems.push({ path: "fields", message: `'${field.name}' is named twice` });
    else chosen.push(field);
  }
  if (problems.length) {
    const known = module.fields.map((f) => f.name).join(", ");
    throw badRequest(`Invalid fields: ${problems[0].message}; this module has: ${known}`, problems, "invalid_fields");
  }
  return chosen;
}

/** The item with only the chosen fields, in the chosen order (the API's shape otherwise). */
function chosenItem(item: ContentItem, fields: FieldDefinition[], all: boolean): ContentItem {
  if (all) return item;
  const byName = new Map(item.fields.map((f) => [f.name, f]));
  return { ...item, fields: fields.flatMap((f) => byName.get(f.name) ?? []) };
}

// ---------------------------------------------------------------------------------------------
// Writers: the text of the head, of one page, and of the tail

type Writer = { head: string; page(items: ContentItem[], first: boolean): string; tail: string };

function writerFor(format: ExportFormat, fields: FieldDefinition[], bom: boolean): Writer {
  switch (format) {
    case "json":
      return { head: "[", page: (items, first) => (first ? "" : ",") + items.map((i) => JSON.stringify(i)).join(","), tail: "]\n" };
    case "ndjson":
      return { head: "", page: (items) => items.map((i) => `${JSON.stringify(i)}\n`).join(""), tail: "" };
    case "csv": {
      const header = [...SYSTEM_COLUMNS_FIRST, ...fields.map((f) => f.name), ...SYSTEM_COLUMNS_LAST];
      const record = (item: ContentItem) => {
        const values = new Map(item.fields.map((f) => [f.name, f.value]));
        return [item.contentID, ...fields.map((f) => csvCell(values.get(f.name))), item.createdAt, item.updatedAt, item.userID];
      };
      return { head: (bom ? UTF8_BOM : "") + csvRecords([header]), page: (items) => csvRecords(items.map(record)), tail: "" };
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The page query

const ID_SQL = toQuery(itemColumn("id")).sql;

/** The sort keys up to the first `id` (which no two items share, so later keys never decide). */
function keysetKeys(keys: SortKey[]): SortKey[] {
  const at = keys.findIndex((k) => toQuery(k.expr).sql === ID_SQL);
  if (at < 0) throw new Error("a listing's sort always ends its keys with id");
  return keys.slice(0, at + 1);
}

const op = (k: SortKey, strict: boolean) => sql.raw(k.dir === "asc" ? (strict ? ">" : ">=") : strict ? "<" : "<=");

/**
 * "After the cursor" in the listing's order, key by key from `i`: a key's later values, or (where
 * items may lack it) no value, which sorts last in either direction; on a tie the next key
 * decides, and the last key, `id`, always does. `p(i)` is the cursor's i-th value.
 */
function afterFrom(keys: SortKey[], values: unknown[], p: (i: number) => SQL, i: number): SQL {
  const k = keys[i];
  if (i === keys.length - 1) return sql`${k.expr} ${op(k, true)} ${p(i)}`;
  if (values[i] === null) return sql`(${k.expr} is null and ${afterFrom(keys, values, p, i + 1)})`;
  const later = k.missing ? sql`${k.expr} ${op(k, true)} ${p(i)} or ${k.expr} is null` : sql`${k.expr} ${op(k, true)} ${p(i)}`;
  return sql`(${later} or (${k.expr} = ${p(i)} and ${afterFrom(keys, values, p, i + 1)}))`;
}

/**
 * The condition of a page. After an item with a value in the first key, only items with a value
 * are read (a range on that key, which its index serves: `k0 >= v` for ascending); the items
 * without one follow as a segment of their own (`{ at: "missing" }`), an equality the same index
 * serves. Folding both into one condition (`k0 > v or k0 is null or ...`) makes SQLite walk the
 * index from its start on every page.
 */
function cursorCondition(keys: SortKey[], cursor: Cursor, p: (i: number) => SQL): SQL | undefined {
  if (cursor.at === "start") return undefined;
  const k0 = keys[0];
  if (cursor.at === "missing") return sql`${k0.expr} is null`;
  if (keys.length === 1 || cursor.values[0] === null) return afterFrom(keys, cursor.values, p, 0);
  return sql`(${k0.expr} ${op(k0, false)} ${p(0)} and (${k0.expr} ${op(k0, true)} ${p(0)} or (${k0.expr} = ${p(0)} and ${afterFrom(keys, cursor.values, p, 1)})))`;
}

type ExportQuery = { module: Module; where: SQL; terms: SQL[]; keys: SortKey[]; whereParams: number };

/** A page's statement: the listing's condition and order, after the cursor, cut at `pageRows` and `pageBytes`. */
export function pageStatement(plan: ExportQuery, cursor: Cursor): { sql: string; params: unknown[] } {
  const { keys } = plan;
  // The cursor's values are bound once each as numbered parameters after the condition's own
  // (`?N`), however often the condition names them: at most 11 keys, within
  // D1_MAX_BOUND_PARAMETERS beside a filter's 60 values and a query's 20 words.
  const p = (i: number) => sql.raw(`?${plan.whereParams + i + 1}`);
  const after = cursorCondition(keys, cursor, p);
  const selectKeys = keys.map((k, i) => sql`${k.expr} as ${sql.raw(`"k${i}"`)}`);
  const condition = after ? sql`(${plan.where}) and ${after}` : plan.where;
  // The page's ids and sort keys first, from the typed table alone where the condition and keys
  // allow (an index walk or a top-N sort over narrow rows); only then the page's documents.
  const inner = sql`select ${ITEM}."id" as "id", ${sql.join(selectKeys, sql`, `)}
    from ${itemsFrom(layoutOf(plan.module), needsDocument(sql`${condition} ${sql.join(selectKeys, sql`, `)}`))}
    where ${condition}
    order by ${sql.join(plan.terms, sql`, `)} limit ${sql.raw(String(exportLimits.pageRows))}`;
  const pageOrder = sql.join(
    orderTerms(keys, (i) => sql.raw(`"page"."k${i}"`)),
    sql`, `,
  );
  // The running total of the page's document bytes, in the page's order, keeps the items up to
  // the budget; D1 reads the cut ones again as the next page.
  const bytes = sql`length(cast(${DOC}."data" as blob))`;
  const statement = sql`select * from (
      select "page".*, ${DOC}."module_id" as "moduleId", ${DOC}."user_id" as "userId", ${DOC}."data" as "data",
        ${DOC}."created_at" as "createdAt", ${DOC}."updated_at" as "updatedAt", ${bytes} as "bytes",
        sum(${bytes}) over (order by ${pageOrder} rows between unbounded preceding and current row) as "running",
        count(*) over () as "pageRows"
      from (${inner}) as "page" cross join "content" as ${DOC} on ${DOC}."id" = "page"."id"
    ) as "sized" where "running" - "bytes" < ${sql.raw(String(exportLimits.pageBytes))} order by "running"`;
  const built = toQuery(statement);
  if (built.params.length !== plan.whereParams) throw new Error("the export's page binds parameters outside its condition");
  const params = [...built.params, ...(cursor.at === "after" ? cursor.values : [])];
  if (params.length > D1_MAX_BOUND_PARAMETERS) throw new Error(`an export page binds ${params.length} parameters`);
  return { sql: built.sql, params };
}

// ---------------------------------------------------------------------------------------------
// Opening and streaming

/** `<module name>-<YYYY-MM-DD>.<ext>`, in ASCII for `filename` (the module's ID when nothing is left). */
function exportFilename(module: Module, format: ExportFormat, now = new Date()): { ascii: string; utf8: string } {
  const date = now.toISOString().slice(0, 10);
  const name = [...module.name].slice(0, 64).join("");
  const ascii = name.replace(/[^A-Za-z0-9._-]+/g, "_").replace(/^[._-]+|[._-]+$/g, "") || `module-${module.id}`;
  return { ascii: `${ascii}-${date}.${format}`, utf8: `${name.trim() || `module-${module.id}`}-${date}.${format}` };
}

/** `attachment` with an ASCII `filename` and the exact name as RFC 5987 `filename*`. */
function contentDisposition(name: { ascii: string; utf8: string }): string {
  const encoded = encodeURIComponent(name.utf8).replace(/['()*]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${name.ascii}"; filename*=UTF-8''${encoded}`;
}

type Context = { requestId?: string };

/**
 * Checks everything, counts the items, reads the first page, and answers the stream of the rest.
 * Every query runs in `db`'s session (the request's), so the pages see D1 move only forward.
 */
export async function openExport(db: Db, moduleId: number, params: ExportParams, context: Context = {}): Promise<OpenedExport> {
  const module = await getModule(db, moduleId);
  const format = params.format ?? "csv";
  const fields = exportFields(module, params.fields);
  const order = sortPlan(module, params.sort);
  const where = listingWhere(module, params, order.firstField);
  const plan: ExportQuery = { module, where, terms: order.terms, keys: keysetKeys(order.keys), whereParams: toQuery(where).params.length };

  const count = toQuery(listingCountSql(module, params));
  const first = pageStatement(plan, { at: "start" });
  // biome-ignore lint/suspicious/noExplicitAny: D1/Drizzle batch types want a fixed tuple; these statements are built at run time
  const [counted, firstPage] = await db.$client.batch<any>([
    db.$client.prepare(count.sql).bind(...count.params),
    db.$client.prepare(first.sql).bind(...first.params),
  ]);
  const total = Number((counted.results?.[0] as { n: number } | undefined)?.n ?? 0);
  if (total > exportLimits.maxRows) {
    const message = `${total} items match; an export holds at most ${exportLimits.maxRows}: narrow it with filter (e.g. by createdAt or id ranges)`;
    throw badRequest(`Export too large: ${message}`, [{ path: "filter", message }], "export_too_large");
  }
  const { body, progress } = exportStream(db, plan, fields, format, params.bom === true, firstPage.results as PageRow[], { ...context, moduleId, total });
  return { format, count: total, filename: contentDisposition(exportFilename(module, format)), body, progress };
}

function exportStream(
  db: Db,
  plan: ExportQuery,
  fields: FieldDefinition[],
  format: ExportFormat,
  bom: boolean,
  firstRows: PageRow[],
  context: Context & { moduleId: number; total: number },
): Pick<OpenedExport, "body" | "progress"> {
  const started = Date.now();
  const writer = writerFor(format, fields, bom);
  const all = fields === plan.module.fields;
  const encoder = new TextEncoder();
  let cursor: Cursor = { at: "start" };
  let pending: PageRow[] | undefined = firstRows;
  let queries = 1;
  let rows = 0;
  let headSent = false;
  let done = false;

  const log = (level: "info" | "error", msg: string, extra: Record<string, unknown> = {}) =>
    console[level === "error" ? "error" : "log"](
      JSON.stringify({
        level,
        msg,
        moduleID: String(context.moduleId),
        format,
        rows,
        total: context.total,
        queries,
        durationMs: Date.now() - started,
        requestId: context.requestId,
        ...extra,
      }),
    );

  const readPage = async (): Promise<PageRow[]> => {
    if (queries >= exportLimits.maxQueries) throw new Error(`the export needed more than ${exportLimits.maxQueries} queries`);
    if (Date.now() - started > exportLimits.maxMs) throw new Error(`the export took longer than ${exportLimits.maxMs / 1000} s`);
    const statement = pageStatement(plan, cursor);
    queries++;
    const result = await db.$client
      .prepare(statement.sql)
      .bind(...statement.params)
      .all<PageRow>();
    return result.results ?? [];
  };

  /** Moves the cursor past a page; answers whether the listing's order has nothing after it. */
  const advance = (page: PageRow[]): boolean => {
    const fullPageRead = page.length > 0 && page[0].pageRows === exportLimits.pageRows;
    const cutByBytes = page.length > 0 && page.length < page[0].pageRows;
    const from = cursor;
    if (page.length > 0) cursor = { at: "after", values: plan.keys.map((_, i) => page[page.length - 1][`k${i}`] ?? null) };
    if (fullPageRead || cutByBytes) return false;
    // This segment is read to its end. After items with a value in the first key, the items
    // without one follow (when the key may be missing at all); otherwise the listing has ended.
    const inValues = from.at === "start" ? false : from.at === "after" && from.values[0] !== null;
    if (inValues && plan.keys.length > 1 && plan.keys[0].missing) {
      cursor = { at: "missing" };
      return false;
    }
    return true;
  };

  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          let text = headSent ? "" : writer.head;
          headSent = true;
          // A segment that ends empty moves on to the next one: at most two in a row.
          for (let step = 0; step < 3 && !done; step++) {
            const page = pending ?? (await readPage());
            pending = undefined;
            const items = page.map((row) => chosenItem(presentContent(plan.module, row), fields, all));
            if (items.length) text += writer.page(items, rows === 0);
            rows += items.length;
            done = advance(page);
            if (items.length) break;
          }
          if (done) text += writer.tail;
          if (text) controller.enqueue(encoder.encode(text));
          if (done) {
            controller.close();
            log("info", "export");
          }
        } catch (err) {
          log("error", "export aborted", { error: String((err as Error)?.message ?? err) });
          // The client sees a cut transfer, never a short file that looks whole.
          controller.error(err);
        }
      },
      cancel(reason) {
        log("info", "export cancelled", { reason: String(reason ?? "") });
      },
    },
    { highWaterMark: 0 },
  );
  return { body, progress: () => ({ rows, queries }) };
}

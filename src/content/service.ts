// The content service: what the routes and the job engine's content.* tasks call. Every write
// validates through `validateContentFields` and is one D1 batch (the item, its typed row, the
// version bump), so a refused request changes nothing. The item's statement commits only if what
// it was validated against still holds (`writeGuard`): D1 has no interactive transactions, so a
// module edit or a deleted related item landing between validation and write would otherwise
// leave a value its field rejects.
import { and, eq, exists, isNull, sql, type SQL } from "drizzle-orm";
import type { Db } from "../db/client";
import { content, modules } from "../db/schema";
import { badRequest, conflict, notFound } from "../http/errors";
import { idOut } from "../http/ids";
import { nowIso } from "../http/time";
import { allRows, rawStatement, toQuery } from "../db/raw";
import type { Paging } from "../http/paging";
import { getModule, type Module } from "../module-model/module";
import { recordedEffect, recordEffect } from "./effects";
import { recordedIds, recordEventsStatement, type WriteOptions } from "./events";
import { compileFilter } from "./filter";
import { compileQuery, DEFAULT_SORT, orderTerms, sortPlan } from "./listing";
import { bumpContentVersion, cachedResult } from "./result-cache";
import { isEmptyValue, layoutOf, searchText, toPresented } from "./storage";
import { DOC, dropItemStatements, itemsFrom, needsDocument, syncItemStatements } from "../module-model/typed-table";
import { isLiveItemOf, relatedRefs } from "./related";
import { validateContentFields } from "./validate";
import { uniqueConflict } from "./unique";
import type { z } from "@hono/zod-openapi";
import type { contentListSchema, contentSchema } from "./schemas";

/**
 * The columns an item is answered from: never `search` (a lower-cased copy of the item's text,
 * as large as the text itself), which only the `query` condition reads inside D1.
 */
const itemColumns = {
  id: content.id,
  moduleId: content.moduleId,
  userId: content.userId,
  data: content.data,
  createdAt: content.createdAt,
  updatedAt: content.updatedAt,
};

export type ContentRow = Pick<typeof content.$inferSelect, keyof typeof itemColumns>;

/** A content item as the API answers it. */
export type ContentItem = z.output<typeof contentSchema>;

function parseData(text: string): Record<string, unknown> {
  try {
    const value = JSON.parse(text);
    return value && typeof value === "object" && !Array.isArray(value) ? value : {};
  } catch {
    return {};
  }
}

/** The API form of a row: `fields` in the module's field order, only fields holding a value. */
export function presentContent(module: Module, row: ContentRow): ContentItem {
  const data = parseData(row.data);
  const fields: ContentItem["fields"] = [];
  for (const field of module.fields) {
    const value = Object.hasOwn(data, field.name) ? data[field.name] : undefined; // not inherited (`constructor`)
    if (!isEmptyValue(value)) fields.push({ name: field.name, value: toPresented(field, value) });
  }
  return {
    contentID: idOut(row.id),
    moduleID: idOut(row.moduleId),
    userID: row.userId,
    fields,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

const liveItem = (moduleId: number, contentId: number) => and(eq(content.id, contentId), eq(content.moduleId, moduleId), isNull(content.deletedAt));

async function findRow(db: Db, moduleId: number, contentId: number): Promise<ContentRow> {
  const row = await db.select(itemColumns).from(content).where(liveItem(moduleId, contentId)).get();
  if (!row) throw notFound(`Content ${contentId} of module ${moduleId}`);
  return row;
}

/** Accepts a module or its ID (the ID: 404 when the module does not exist). */
async function moduleOf(db: Db, module: Module | number): Promise<Module> {
  return typeof module === "number" ? getModule(db, module) : module;
}

/**
 * Most bytes of an item's values as stored (UTF-8 JSON): 128 KiB. Not D1's row limit
 * (D1_MAX_ROW_BYTES: the row also holds the lower-cased search copy, so at most about twice
 * this) but a listing page: up to 100 items are read, parsed and answered at once, and 100 of
 * these is 12.5 MiB of text, held a few times over in an isolate of WORKER_MEMORY_BYTES and well
 * within D1_MAX_RESULT_BYTES. (Salesforce's long text area holds 131,072 characters per field.)
 */
const MAX_ITEM_BYTES = 128 * 1024;

/** The `data` and `search` columns of an item; a 400 when its values exceed MAX_ITEM_BYTES. */
export function storedForm(module: Module, data: Record<string, unknown>): { data: string; search: string } {
  const stored = { data: JSON.stringify(data), search: searchText(module.fields, data) };
  const bytes = new TextEncoder().encode(stored.data).byteLength;
  if (bytes > MAX_ITEM_BYTES) {
    const message = `the item's values take ${bytes} bytes as JSON; at most ${MAX_ITEM_BYTES} (128 KiB)`;
    throw badRequest(`Invalid content: fields: ${message}`, [{ path: "fields", message }], "invalid_content");
  }
  return stored;
}

/**
 * How often a write is validated and attempted: each failed attempt means the module was edited
 * (or a related item deleted) between validation and write, and the next one validates again.
 */
const MAX_WRITE_TRIES = 3;

/**
 * The condition a write commits under: the module still has the definition (`fieldsVersion`)
 * `data` was validated against, and every item `data` points at is still a live item of its
 * target module. A condition on rows of `modules`.
 */
function writeGuard(module: Module, data: Record<string, unknown>): SQL {
  const parts = [eq(modules.id, module.id), eq(modules.fieldsVersion, module.fieldsVersion)];
  const refs = relatedRefs(module, data);
  if (refs.length) {
    // One bound JSON array of [id, module] pairs, whatever their number (D1_MAX_BOUND_PARAMETERS).
    parts.push(sql`not exists (select 1 from json_each(${JSON.stringify(refs)}) as wanted
      where not ${isLiveItemOf(sql`json_extract(wanted.value, '$[0]')`, sql`json_extract(wanted.value, '$[1]')`)})`);
  }
  return and(...parts)!;
}

/** The write's guard as a condition of another statement (the events of the write). */
const guardHolds = (db: Db, guard: SQL) => sql`exists ${db.select({ one: sql`1` }).from(modules).where(guard)}`;

/** The item's live row, as `"c"` (the events of an update or delete read it). */
const liveRow = (moduleId: number, contentId: number) => sql`"c"."id" = ${contentId} and "c"."module_id" = ${moduleId} and "c"."deleted_at" is null`;

/** `bumpContentVersion` under the write's guard, so a refused write changes nothing at all. */
const bumpIfWritten = (db: Db, guard: SQL) =>
  db
    .update(modules)
    .set({ contentVersion: sql`${modules.contentVersion} + 1` })
    .where(guard);

/**
 * Whether a write's batch failed because the module's typed table no longer has the columns the
 * write was built for: the module was edited meanwhile (its guard would refuse the write too).
 */
const isStaleLayout = (err: unknown) => {
  const text = `${(err as Error)?.message ?? err} ${((err as Error)?.cause as Error)?.message ?? ""}`;
  return /no such (column|table)|has no column named/i.test(text);
};

/**
 * Runs `attempt` (validate, then one guarded write) against the module, and again against the
 * module as it is now while the guard refuses the write; 404 once the module is gone, 409 when
 * it keeps changing. `attempt` answers undefined when its write was refused.
 */
async function writeValidated<T>(db: Db, moduleRef: number | Module, attempt: (module: Module) => Promise<T | undefined>): Promise<T> {
  let module = await moduleOf(db, moduleRef);
  for (let tries = 1; ; tries++) {
    const written = await attempt(module).catch((err) => {
      if (isStaleLayout(err)) return undefined;
      throw err;
    });
    if (written !== undefined) return written;
    module = await getModule(db, module.id); // deleted meanwhile: 404
    if (tries >= MAX_WRITE_TRIES) {
      throw conflict(
        `Module ${module.id} changed while the item was being written (${MAX_WRITE_TRIES} tries); nothing was written, send the request again`,
        undefined,
        "conflict",
      );
    }
  }
}

/**
 * Creates an item; `fieldsInput` is the `[{name, value}]` array or a name → value object.
 * `options.effectKey` (a workflow task's Idempotency-Key) makes a repeat answer the item already
 * created; `options.origin` says who writes, for the trigger events the write records (events.ts).
 */
export async function createContent(db: Db, moduleId: number | Module, userId: string, fieldsInput: unknown, options: WriteOptions = {}): Promise<ContentItem> {
  const { effectKey } = options;
  const done = effectKey === undefined ? undefined : await recordedEffect(db, effectKey);
  if (done !== undefined) return getContent(db, moduleId, done);
  return writeValidated(db, moduleId, async (module) => {
    const data = await validateContentFields(db, module, fieldsInput, "create");
    const stored = storedForm(module, data);
    const guard = writeGuard(module, data);
    const now = nowIso();
    // INSERT ... SELECT ... FROM modules WHERE <guard>: no row when the guard fails.
    const row = {
      id: sql<number>`null`.as("id"),
      moduleId: sql<number>`${module.id}`.as("module_id"),
      userId: sql<string>`${userId}`.as("user_id"),
      data: sql<string>`${stored.data}`.as("data"),
      search: sql<string>`${stored.search}`.as("search"),
      createdAt: sql<string>`${now}`.as("created_at"),
      updatedAt: sql<string>`${now}`.as("updated_at"),
      deletedAt: sql<string | null>`null`.as("deleted_at"),
    };
    const insert = db.insert(content).select(db.select(row).from(modules).where(guard)).returning(itemColumns);
    // The typed row is derived from the row just inserted (or, when the guard refused it, from
    // whatever row last_insert_rowid() names: derived again as it is, a no-op).
    const typed = syncItemStatements(module.id, layoutOf(module), sql`last_insert_rowid()`).map((q) => rawStatement(db, q, "run"));
    const record = effectKey === undefined ? [] : [recordEffect(db, effectKey, sql`last_insert_rowid()`)];
    // The events last but one: the statements before it may still read last_insert_rowid(), which
    // its own insert changes. AUTOINCREMENT makes the new item the highest id in `content`.
    const item = { contentId: sql`(select max("id") from ${content})`, userId, createdAt: now, updatedAt: now, data: stored.data, previous: null };
    const events = rawStatement(db, recordEventsStatement(module.id, ["content.created", "content.date"], item, guardHolds(db, guard), options.origin));
    const results = await db
      .batch([insert, ...typed, ...record, events, bumpIfWritten(db, guard)] as unknown as [typeof insert])
      .catch(async (err) => Promise.reject((await uniqueConflict(db, module, data, err)) ?? err));
    const rows = results[0];
    if (!rows[0]) return undefined;
    options.events?.push(...recordedIds(results[1 + typed.length + record.length]));
    return presentContent(module, rows[0]);
  });
}

/** Replaces an item's fields (no defaults applied); keeps `createdAt` and `userID`. `options`: as for create. */
export async function updateContent(
  db: Db,
  moduleId: number | Module,
  contentId: number,
  fieldsInput: unknown,
  options: WriteOptions = {},
): Promise<ContentItem> {
  const { effectKey } = options;
  if (effectKey !== undefined && (await recordedEffect(db, effectKey)) !== undefined) return getContent(db, moduleId, contentId);
  // The module and the item's existence in one round trip (404 before any validation error).
  let known = typeof moduleId === "number" ? await moduleWithLiveItem(db, moduleId, contentId) : undefined;
  return writeValidated(db, known ?? moduleId, async (module) => {
    if (module !== known) await findRow(db, module.id, contentId);
    known = undefined; // a retry reads both again
    const data = await validateContentFields(db, module, fieldsInput, "update");
    const guard = writeGuard(module, data);
    const stored = storedForm(module, data);
    const now = nowIso();
    const update = db
      .update(content)
      .set({ ...stored, updatedAt: now })
      .where(and(liveItem(module.id, contentId), exists(db.select({ one: sql`1` }).from(modules).where(guard))))
      .returning(itemColumns);
    const typed = syncItemStatements(module.id, layoutOf(module), contentId).map((q) => rawStatement(db, q, "run"));
    const record = effectKey === undefined ? [] : [recordEffect(db, effectKey, contentId)];
    // The events first: they read the values before the change, under the UPDATE's own condition.
    const item = { contentId, userId: sql`"c"."user_id"`, createdAt: sql`"c"."created_at"`, updatedAt: now, data: stored.data, previous: sql`"c"."data"` };
    const events = rawStatement(
      db,
      recordEventsStatement(
        module.id,
        ["content.updated", "content.date"],
        item,
        sql`${liveRow(module.id, contentId)} and ${guardHolds(db, guard)}`,
        options.origin,
        sql`${content} as "c"`,
      ),
    );
    const [eventRows, [row]] = (await db
      .batch([events, update, ...typed, ...record, bumpIfWritten(db, guard)] as unknown as [typeof update])
      .catch(async (err) => Promise.reject((await uniqueConflict(db, module, data, err, contentId)) ?? err))) as unknown as [unknown, ContentRow[]];
    if (row) {
      options.events?.push(...recordedIds(eventRows));
      return presentContent(module, row);
    }
    await findRow(db, module.id, contentId); // deleted meanwhile: 404, not a retry
    return undefined;
  });
}

/** Soft-deletes an item: it then answers 404 and drops out of listings and charts. `options`: as for create. */
export async function deleteContent(db: Db, moduleId: number | Module, contentId: number, options: WriteOptions = {}): Promise<void> {
  const { effectKey } = options;
  if (effectKey !== undefined && (await recordedEffect(db, effectKey)) !== undefined) return;
  const module = await moduleOf(db, moduleId);
  const now = nowIso();
  const softDelete = db.update(content).set({ deletedAt: now, updatedAt: now }).where(liveItem(module.id, contentId)).returning({ id: content.id });
  const record = effectKey === undefined ? [] : [recordEffect(db, effectKey, contentId)];
  const typed = dropItemStatements(module.id, layoutOf(module), contentId).map((q) => rawStatement(db, q, "run"));
  // The event first: it keeps the item's last values, under the soft delete's own condition.
  const item = { contentId, userId: sql`"c"."user_id"`, createdAt: sql`"c"."created_at"`, updatedAt: now, data: sql`"c"."data"`, previous: null };
  const events = rawStatement(
    db,
    recordEventsStatement(module.id, ["content.deleted"], item, liveRow(module.id, contentId), options.origin, sql`${content} as "c"`),
  );
  const [eventRows, [row]] = (await db.batch([events, softDelete, ...typed, ...record, bumpContentVersion(db, module.id)] as unknown as [
    typeof softDelete,
  ])) as unknown as [unknown, { id: number }[]];
  if (!row) throw notFound(`Content ${contentId} of module ${module.id}`);
  options.events?.push(...recordedIds(eventRows));
}

/** A module (converted to a typed table if need be) and its live item, read in one batch; 404 for either. */
async function moduleWithLiveItem(db: Db, moduleId: number, contentId: number): Promise<Module> {
  const [[module], [row]] = await db.batch([
    db.select().from(modules).where(eq(modules.id, moduleId)),
    db.select({ id: content.id }).from(content).where(liveItem(moduleId, contentId)),
  ]);
  if (!module) throw notFound(`Module ${moduleId}`);
  if (!row) throw notFound(`Content ${contentId} of module ${moduleId}`);
  return module.typedTable ? (module as Module) : getModule(db, moduleId);
}

export async function getContent(db: Db, moduleId: number | Module, contentId: number): Promise<ContentItem> {
  if (typeof moduleId !== "number") return presentContent(moduleId, await findRow(db, moduleId.id, contentId));
  // The module and the item in one round trip: this is the hottest read of the API.
  const [[module], [row]] = await db.batch([
    db.select().from(modules).where(eq(modules.id, moduleId)),
    db.select(itemColumns).from(content).where(liveItem(moduleId, contentId)),
  ]);
  if (!module) throw notFound(`Module ${moduleId}`);
  if (!row) throw notFound(`Content ${contentId} of module ${moduleId}`);
  return presentContent(module as Module, row);
}

export type ListParams = { query?: string; filter?: string; sort?: string };

type ContentList = z.output<typeof contentListSchema>;

/**
 * The SQL condition of a listing over the module's typed rows (filter and query words; `1` when
 * there are none). `orderedBy`: the field the page is sorted by first (it steers index choice
 * only; see `compileFilter`).
 */
export function listingWhere(module: Module, params: ListParams, orderedBy?: string): SQL {
  const parts: SQL[] = [];
  if (params.filter !== undefined && params.filter.trim() !== "") parts.push(compileFilter(module, params.filter, { orderedBy }));
  parts.push(...compileQuery(module, params.query));
  return parts.length ? sql.join(parts, sql` and `) : sql`1`;
}

/** The listing's count: over the typed rows alone unless the condition needs the documents. */
export function listingCountSql(module: Module, params: ListParams): SQL {
  const where = listingWhere(module, params);
  return sql`select count(*) as "n" from ${itemsFrom(layoutOf(module), needsDocument(where))} where ${where}`;
}

/**
 * The page: the inner query finds the page's items (and their sort keys) in the typed table,
 * walking an index where one serves the order; only those items' documents are then read.
 */
export function listingPageSql(module: Module, params: ListParams, paging: Paging): SQL {
  const order = sortPlan(module, params.sort);
  const where = listingWhere(module, params, order.firstField);
  const keys = order.keys.map((k, i) => sql`${k.expr} as ${sql.raw(`"k${i}"`)}`);
  const inner = sql`select ${sql.raw(`"item"."id"`)} as "id", ${sql.join(keys, sql`, `)}
    from ${itemsFrom(layoutOf(module), needsDocument(where))} where ${where}
    order by ${sql.join(order.terms, sql`, `)} limit ${paging.perPage} offset ${paging.offset}`;
  const outer = orderTerms(order.keys, (i) => sql.raw(`"page"."k${i}"`));
  return sql`select ${DOC}."id" as "id", ${DOC}."module_id" as "moduleId", ${DOC}."user_id" as "userId", ${DOC}."data" as "data",
      ${DOC}."created_at" as "createdAt", ${DOC}."updated_at" as "updatedAt"
    from (${inner}) as "page" cross join "content" as ${DOC} on ${DOC}."id" = "page"."id"
    order by ${sql.join(outer, sql`, `)}`;
}

/** Search, filter, sort and page in one D1 round trip (the page and the count in one batch). */
export async function listContent(db: Db, moduleId: number | Module, params: ListParams, paging: Paging): Promise<ContentList> {
  const module = await moduleOf(db, moduleId);
  const page = listingPageSql(module, params, paging);
  // The count of a listing only changes with the content: paging through it, or asking again,
  // reuses it (result-cache.ts), and only the page itself is read.
  const countSql = listingCountSql(module, params);
  const countQuery = toQuery(countSql);
  let rows: ContentRow[] | undefined;
  const counted = await cachedResult(module, `count:${countQuery.sql}:${JSON.stringify(countQuery.params)}`, async () => {
    // biome-ignore lint/suspicious/noExplicitAny: D1/Drizzle batch types want a fixed tuple; these statements are built at run time
    const [pageRows, total] = (await db.batch([rawStatement(db, page), rawStatement(db, countSql)] as [any, any])) as [ContentRow[], { n: number }[]];
    rows = pageRows; // one round trip on a miss
    return total[0]?.n ?? 0;
  });
  if (!rows) rows = counted > 0 ? await allRows<ContentRow>(db, page) : [];
  return {
    meta: {
      query: params.query ?? "",
      filter: params.filter ?? "",
      sort: params.sort === undefined || params.sort.trim() === "" ? DEFAULT_SORT : params.sort,
      page: paging.page,
      perPage: paging.perPage,
      count: counted,
    },
    contents: rows.map((r) => presentContent(module, r)),
  };
}

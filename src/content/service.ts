// The content service: what the routes and the job engine's content.* tasks call. Every write
// validates through `validateContentFields` and is one SQL statement, so a refused request
// changes nothing.
import { and, count, eq, isNull, sql, type SQL } from "drizzle-orm";
import type { Db } from "../db/client";
import { content, modules } from "../db/schema";
import { notFound } from "../http/errors";
import { idOut, nowIso } from "../http/ids";
import type { Paging } from "../http/paging";
import { getModule, type Module } from "../modules/service";
import { compileFilter } from "./filter";
import { compileQuery, DEFAULT_SORT, sortPlan } from "./listing";
import { bumpContentVersion, cachedResult } from "./result-cache";
import { isEmptyValue, liveContentWhere, searchText, toPresented } from "./storage";
import { validateContentFields } from "./validate";

export type ContentRow = typeof content.$inferSelect;

/** A content item as the API answers it. */
export type ContentItem = {
  contentID: string;
  moduleID: string;
  userID: string;
  fields: { name: string; value: unknown }[];
  createdAt: string;
  updatedAt: string;
};

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

const liveItem = (moduleId: number, contentId: number) =>
  and(eq(content.id, contentId), eq(content.moduleId, moduleId), isNull(content.deletedAt));

async function findRow(db: Db, moduleId: number, contentId: number): Promise<ContentRow> {
  const row = await db.select().from(content).where(liveItem(moduleId, contentId)).get();
  if (!row) throw notFound(`Content ${contentId} of module ${moduleId}`);
  return row;
}

/** Accepts a module or its ID (the ID: 404 when the module does not exist). */
async function moduleOf(db: Db, module: Module | number): Promise<Module> {
  return typeof module === "number" ? getModule(db, module) : module;
}

/** Creates an item; `fieldsInput` is the `[{name, value}]` array or a name → value object. */
export async function createContent(db: Db, moduleId: number | Module, userId: string, fieldsInput: unknown): Promise<ContentItem> {
  const module = await moduleOf(db, moduleId);
  const data = await validateContentFields(db, module, fieldsInput, "create");
  const now = nowIso();
  const insert = db
    .insert(content)
    .values({
      moduleId: module.id,
      userId,
      data: JSON.stringify(data),
      search: searchText(module.fields, data),
      createdAt: now,
      updatedAt: now,
    })
    .returning();
  const [rows] = await db.batch([insert, bumpContentVersion(db, module.id)]);
  return presentContent(module, rows[0]);
}

/** Replaces an item's fields (no defaults applied); keeps `createdAt` and `userID`. */
export async function updateContent(db: Db, moduleId: number | Module, contentId: number, fieldsInput: unknown): Promise<ContentItem> {
  const module = await moduleOf(db, moduleId);
  await findRow(db, module.id, contentId);
  const data = await validateContentFields(db, module, fieldsInput, "update");
  const update = db
    .update(content)
    .set({ data: JSON.stringify(data), search: searchText(module.fields, data), updatedAt: nowIso() })
    .where(liveItem(module.id, contentId))
    .returning();
  const [[row]] = await db.batch([update, bumpContentVersion(db, module.id)]);
  if (!row) throw notFound(`Content ${contentId} of module ${module.id}`); // deleted meanwhile
  return presentContent(module, row);
}

/** Soft-deletes an item: it then answers 404 and drops out of listings and charts. */
export async function deleteContent(db: Db, moduleId: number | Module, contentId: number): Promise<void> {
  const module = await moduleOf(db, moduleId);
  const now = nowIso();
  const softDelete = db
    .update(content)
    .set({ deletedAt: now, updatedAt: now })
    .where(liveItem(module.id, contentId))
    .returning({ id: content.id });
  const [[row]] = await db.batch([softDelete, bumpContentVersion(db, module.id)]);
  if (!row) throw notFound(`Content ${contentId} of module ${module.id}`);
}

export async function getContent(db: Db, moduleId: number | Module, contentId: number): Promise<ContentItem> {
  if (typeof moduleId !== "number") return presentContent(moduleId, await findRow(db, moduleId.id, contentId));
  // The module and the item in one round trip: this is the hottest read of the API.
  const [[module], [row]] = await db.batch([
    db.select().from(modules).where(eq(modules.id, moduleId)),
    db.select().from(content).where(liveItem(moduleId, contentId)),
  ]);
  if (!module) throw notFound(`Module ${moduleId}`);
  if (!row) throw notFound(`Content ${contentId} of module ${moduleId}`);
  return presentContent(module as Module, row);
}

export type ListParams = { query?: string; filter?: string; sort?: string };

export type ContentList = {
  meta: { query: string; filter: string; sort: string; page: number; perPage: number; count: number };
  contents: ContentItem[];
};

/**
 * The SQL condition of a listing (live items of the module, filter, query words). `orderedBy`:
 * the field the page is sorted by first (it steers index choice only; see `compileFilter`).
 */
export function listingWhere(module: Module, params: ListParams, orderedBy?: string): SQL {
  const parts: SQL[] = [liveContentWhere(module.id)];
  if (params.filter !== undefined && params.filter.trim() !== "") parts.push(compileFilter(module, params.filter, { orderedBy }));
  parts.push(...compileQuery(params.query));
  return sql.join(parts, sql` and `);
}

/** Search, filter, sort and page in one D1 round trip (the page and the count in one batch). */
export async function listContent(db: Db, moduleId: number | Module, params: ListParams, paging: Paging): Promise<ContentList> {
  const module = await moduleOf(db, moduleId);
  const order = sortPlan(module, params.sort);
  const page = db
    .select()
    .from(content)
    .where(listingWhere(module, params, order.firstField))
    .orderBy(...order.terms)
    .limit(paging.perPage)
    .offset(paging.offset);
  // The count of a listing only changes with the content: paging through it, or asking again,
  // reuses it (result-cache.ts), and only the page itself is read.
  const countQuery = db.select({ n: count() }).from(content).where(listingWhere(module, params));
  const { sql: countSql, params: countParams } = countQuery.toSQL();
  let rows = undefined as ContentRow[] | undefined;
  const counted = await cachedResult(module, `count:${countSql}:${JSON.stringify(countParams)}`, async () => {
    const [pageRows, total] = await db.batch([page, countQuery]); // one round trip on a miss
    rows = pageRows;
    return total[0]?.n ?? 0;
  });
  rows ??= counted > 0 ? await page.all() : [];
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

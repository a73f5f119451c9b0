// Pages: a tree (selfID = parent, 0 = top level) ordered by weight then ID within each parent.
//
// Checks run first so a refused request names what is wrong; every write then repeats the checks
// it depends on inside its own single SQL statement (parent exists, no cycle, no children, ...),
// so a concurrent request can never leave an orphan, a cycle or a half-applied reorder. When such
// a guard stops a write, the checks run again on the fresh state to report why.
import { and, asc, count, eq, isNull, sql } from "drizzle-orm";
import type { z } from "@hono/zod-openapi";
import type { Db } from "../db/client";
import { modules, pages } from "../db/schema";
import { conflict, notFound, type ErrorDetail } from "../http/errors";
import { idOut } from "../http/ids";
import { nowIso } from "../http/time";
import type { createPageBody, pageSchema, updatePageBody } from "./schemas";
import { throwIfDetails } from "../http/details";

type PageRow = typeof pages.$inferSelect;
type CreateInput = z.output<typeof createPageBody>;
type UpdateInput = z.output<typeof updatePageBody>;

/** A page as the API answers it. */
type Page = z.output<typeof pageSchema>;

export const presentPage = (p: PageRow): Page => ({
  pageID: idOut(p.id),
  selfID: idOut(p.selfId),
  moduleID: idOut(p.moduleId),
  title: p.title,
  description: p.description,
  visible: p.visible,
  weight: p.weight,
  blocks: p.blocks as Page["blocks"],
  createdAt: p.createdAt,
  updatedAt: p.updatedAt,
});

type PageTreeNode = Page & { children: PageTreeNode[] };

const byOrder = [asc(pages.weight), asc(pages.id)];

async function findPage(db: Db, id: number): Promise<PageRow | undefined> {
  return db.select().from(pages).where(eq(pages.id, id)).get();
}

export async function getPage(db: Db, id: number): Promise<PageRow> {
  const page = await findPage(db, id);
  if (!page) throw notFound(`Page ${id}`);
  return page;
}

/** The children of `selfId` (0: top level), by weight then ID. An unknown parent is a 404. */
export async function listChildren(db: Db, selfId: number): Promise<PageRow[]> {
  if (selfId !== 0) await getPage(db, selfId);
  return db
    .select()
    .from(pages)
    .where(eq(pages.selfId, selfId))
    .orderBy(...byOrder)
    .all();
}

/** Every non-record page, nested, from one query. */
export async function pageTree(db: Db): Promise<PageTreeNode[]> {
  const rows = await db
    .select()
    .from(pages)
    .where(isNull(pages.moduleId))
    .orderBy(asc(pages.selfId), ...byOrder)
    .all();
  const nodes = new Map<number, PageTreeNode>();
  for (const row of rows) nodes.set(row.id, { ...presentPage(row), children: [] });
  const top: PageTreeNode[] = [];
  for (const row of rows) {
    const node = nodes.get(row.id)!;
    if (row.selfId === 0) top.push(node);
    else nodes.get(row.selfId)?.children.push(node); // a parent is never a record page (checked on write)
  }
  return top;
}

// ---- checks ----------------------------------------------------------------------------------

/** SQL: true when `pageId` is not `parentId` nor any of its ancestors (so the move makes no cycle). */
const notAncestorSql = (pageId: number, parentId: number) => sql`not exists (
  with recursive chain(id, self_id, depth) as (
    select id, self_id, 0 from pages where id = ${parentId}
    union all
    select p.id, p.self_id, chain.depth + 1 from pages p join chain on p.id = chain.self_id
    where chain.depth < 100000
  )
  select 1 from chain where id = ${pageId})`;

/** Parent checks: it exists, is not a record page and (for an existing page) is not the page or below it. */
async function checkParent(db: Db, parentId: number, pageId?: number): Promise<ErrorDetail[]> {
  if (parentId === 0) return [];
  if (parentId === pageId) return [{ path: "selfID", message: "a page cannot be its own parent" }];
  const parent = await findPage(db, parentId);
  if (!parent) return [{ path: "selfID", message: `page ${parentId} does not exist` }];
  if (parent.moduleId !== null) {
    return [{ path: "selfID", message: `page ${parentId} is the record page of module ${parent.moduleId}; record pages have no child pages` }];
  }
  if (pageId !== undefined) {
    const cycle = await db.get<{ found: number }>(sql`select ${notAncestorSql(pageId, parentId)} as found`);
    if (!cycle?.found) {
      return [{ path: "selfID", message: `page ${parentId} is below page ${pageId}; a page cannot become its own ancestor` }];
    }
  }
  return [];
}

async function checkModule(db: Db, moduleId: number | null): Promise<ErrorDetail[]> {
  if (moduleId === null) return [];
  const found = await db.select({ id: modules.id }).from(modules).where(eq(modules.id, moduleId)).get();
  return found ? [] : [{ path: "moduleID", message: `module ${moduleId} does not exist` }];
}

async function assertNoRecordPage(db: Db, moduleId: number | null, pageId?: number) {
  if (moduleId === null) return;
  const other = await db.select({ id: pages.id }).from(pages).where(eq(pages.moduleId, moduleId)).get();
  if (other && other.id !== pageId) {
    throw conflict(
      `Module ${moduleId} already has a record page (page ${other.id})`,
      [{ path: "moduleID", message: `module ${moduleId} already has a record page (page ${other.id})` }],
      "page_exists",
    );
  }
}

async function assertNoChildrenForRecordPage(db: Db, pageId: number, moduleId: number) {
  const children = await countChildren(db, pageId);
  if (children > 0) {
    throw conflict(
      `Page ${pageId} has ${children} child page(s); a record page cannot have children`,
      [{ path: "moduleID", message: `page ${pageId} has child pages; move or delete them before making it module ${moduleId}'s record page` }],
      "page_has_children",
    );
  }
}

async function countChildren(db: Db, pageId: number): Promise<number> {
  const row = await db.select({ n: count() }).from(pages).where(eq(pages.selfId, pageId)).get();
  return row?.n ?? 0;
}

/** Drizzle wraps D1's error ("Failed query: ..."), so the constraint message may sit in a cause. */
function isUniqueViolation(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (/UNIQUE constraint failed/i.test(String((e as Error).message ?? e))) return true;
  }
  return false;
}

const raceConflict = (what: string) => conflict(`${what} changed while this request ran; nothing was changed, retry`, undefined, "concurrent_change");

const lastWeightSql = (parentId: number, exceptId = 0) =>
  sql`(select coalesce(max(w.weight), 0) + 1 from pages w where w.self_id = ${parentId} and w.id <> ${exceptId})`;

const parentExistsSql = (parentId: number) => sql`(${parentId} = 0 or exists (select 1 from pages pp where pp.id = ${parentId} and pp.module_id is null))`;

const moduleExistsSql = (moduleId: number | null) => (moduleId === null ? sql`1` : sql`exists (select 1 from modules m where m.id = ${moduleId})`);

// ---- writes ----------------------------------------------------------------------------------

export async function createPage(db: Db, input: CreateInput): Promise<PageRow> {
  const selfId = input.selfID ?? 0;
  const moduleId = input.moduleID ? input.moduleID : null;
  const check = async () => {
    throwIfDetails([...(await checkParent(db, selfId)), ...(await checkModule(db, moduleId))], "Invalid page");
    await assertNoRecordPage(db, moduleId);
  };
  await check();
  const now = nowIso();
  let inserted: { id: number } | undefined;
  try {
    // One statement: the parent and module checks and the "last child" weight see the same state.
    inserted = await db.get<{ id: number }>(sql`
      insert into pages (self_id, module_id, title, description, visible, weight, blocks, created_at, updated_at)
      select ${selfId}, ${moduleId}, ${input.title}, ${input.description ?? ""}, ${input.visible === false ? 0 : 1},
             ${lastWeightSql(selfId)}, ${JSON.stringify(input.blocks)}, ${now}, ${now}
      where ${parentExistsSql(selfId)} and ${moduleExistsSql(moduleId)}
      returning id`);
  } catch (err) {
    if (isUniqueViolation(err)) {
      await check();
      throw raceConflict(`Module ${moduleId}'s record page`);
    }
    throw err;
  }
  if (!inserted) {
    await check();
    throw raceConflict("The parent page");
  }
  return getPage(db, inserted.id);
}

export async function updatePage(db: Db, id: number, input: UpdateInput): Promise<PageRow> {
  const before = await getPage(db, id);
  const selfId = input.selfID ?? before.selfId;
  const moduleId = input.moduleID === undefined ? before.moduleId : input.moduleID || null;
  const moving = selfId !== before.selfId;
  const becomesRecordPage = moduleId !== null && before.moduleId === null;
  const check = async () => {
    const details = moving ? await checkParent(db, selfId, id) : [];
    if (moduleId !== before.moduleId) details.push(...(await checkModule(db, moduleId)));
    throwIfDetails(details, "Invalid page");
    if (moduleId !== before.moduleId) await assertNoRecordPage(db, moduleId, id);
    if (becomesRecordPage) await assertNoChildrenForRecordPage(db, id, moduleId);
  };
  await check();

  const guards = [eq(pages.id, id), eq(pages.selfId, before.selfId)];
  if (moving) guards.push(parentExistsSql(selfId), notAncestorSql(id, selfId));
  if (moduleId !== before.moduleId) guards.push(moduleExistsSql(moduleId));
  if (becomesRecordPage) guards.push(sql`not exists (select 1 from pages c where c.self_id = ${id})`);

  let row: PageRow | undefined;
  try {
    // One statement: a move lands after the new parent's last child; otherwise the weight is kept.
    row = await db
      .update(pages)
      .set({
        selfId,
        moduleId,
        title: input.title ?? before.title,
        description: input.description ?? before.description,
        visible: input.visible ?? before.visible,
        blocks: input.blocks ?? before.blocks,
        ...(moving ? { weight: lastWeightSql(selfId, id) } : {}),
        updatedAt: nowIso(),
      })
      .where(and(...guards))
      .returning()
      .get();
  } catch (err) {
    if (isUniqueViolation(err)) {
      await check();
      throw raceConflict(`Module ${moduleId}'s record page`);
    }
    throw err;
  }
  if (!row) {
    await getPage(db, id);
    await check();
    throw raceConflict(`Page ${id}`);
  }
  return row;
}

/**
 * Sets the order of exactly the children of `selfId` (0: top level): weights become 1..n in the
 * given order. One statement, guarded by "these are still exactly the children", so either the
 * whole new order applies or nothing changes.
 */
export async function reorderPages(db: Db, selfId: number, pageIds: number[]): Promise<void> {
  if (selfId !== 0) await getPage(db, selfId);
  const children = await db.select({ id: pages.id }).from(pages).where(eq(pages.selfId, selfId)).all();
  const childIds = new Set(children.map((c) => c.id));
  const wanted = selfId === 0 ? "not a top-level page" : `not a child of page ${selfId}`;
  const details: ErrorDetail[] = [];
  const seen = new Map<number, number>();
  const foreign: { index: number; id: number }[] = [];
  pageIds.forEach((id, index) => {
    if (seen.has(id)) details.push({ path: `pageIDs[${index}]`, message: `page ${id} is already listed at pageIDs[${seen.get(id)}]` });
    else seen.set(id, index);
    if (!childIds.has(id)) foreign.push({ index, id });
  });
  if (foreign.length) {
    const found = new Map(
      (
        await db
          .select({ id: pages.id, selfId: pages.selfId })
          .from(pages)
          .where(sql`${pages.id} in (select value from json_each(${JSON.stringify(foreign.map((f) => f.id))}))`)
          .all()
      ).map((r) => [r.id, r.selfId]),
    );
    for (const { index, id } of foreign) {
      const parent = found.get(id);
      const message =
        parent === undefined ? `page ${id} does not exist` : `page ${id} is ${parent === 0 ? "a top-level page" : `a child of page ${parent}`}, ${wanted}`;
      details.push({ path: `pageIDs[${index}]`, message });
    }
  }
  for (const child of children) {
    if (!seen.has(child.id))
      details.push({ path: "pageIDs", message: `page ${child.id} is missing: list every child of ${selfId === 0 ? "the top level" : `page ${selfId}`}` });
  }
  throwIfDetails(details, "Invalid pageIDs");
  if (pageIds.length === 0) return;

  const order = JSON.stringify(pageIds);
  const now = nowIso();
  // One statement (so one implicit transaction) whatever the number of children: the new order
  // travels as a single JSON parameter, well inside D1's 100 bound parameters per statement.
  const result = await db.run(sql`
      update pages
      set weight = o.key + 1,
          updated_at = case when pages.weight <> o.key + 1 then ${now} else pages.updated_at end
      from json_each(${order}) as o
      where pages.id = o.value and pages.self_id = ${selfId}
        and (select count(*) from pages c where c.self_id = ${selfId}) = ${pageIds.length}
        and (select count(*) from pages c
             where c.self_id = ${selfId} and c.id in (select value from json_each(${order}))) = ${pageIds.length}`);
  if ((result.meta?.changes ?? 0) !== pageIds.length) {
    // The children changed between the check and the write: the guard stopped every row.
    throw raceConflict(`The children of ${selfId === 0 ? "the top level" : `page ${selfId}`}`);
  }
}

export async function deletePage(db: Db, id: number): Promise<void> {
  await getPage(db, id);
  const check = async () => {
    const children = await db
      .select({ id: pages.id })
      .from(pages)
      .where(eq(pages.selfId, id))
      .orderBy(...byOrder)
      .all();
    if (children.length) {
      throw conflict(
        `Page ${id} has ${children.length} child page(s); move or delete them first`,
        [{ path: "pageID", message: `has child pages ${children.map((c) => c.id).join(", ")}` }],
        "page_has_children",
      );
    }
  };
  await check();
  const result = await db.run(sql`delete from pages where id = ${id} and not exists (select 1 from pages c where c.self_id = ${id})`);
  if ((result.meta?.changes ?? 0) === 0) {
    await getPage(db, id);
    await check();
  }
}

// Fields of a kind that holds references (fields/registry.ts `holdsReferences`: related,
// related_multi) hold IDs of items of the module their `options.moduleID` names. Whether such IDs
// name live items of that module is decided here, for every caller: in the Worker before a
// write (a content write, an import's rows, a module's default values, a module edit over
// existing values), and as SQL inside the write's own statement, so that an item deleted between
// the check and the write refuses the write.
import { sql, type SQL } from "drizzle-orm";
import type { Db } from "../db/client";
import { content } from "../db/schema";
import { holdsReferences, type FieldDefinition } from "../fields/registry";
import type { ErrorDetail } from "../http/errors";
import type { Module } from "../module-model/module";

/** The module whose items a reference field's values name. */
export const targetModule = (field: FieldDefinition) => Number(field.options.moduleID);

/** The IDs (as numbers) a reference field's value holds, in stored or API form; none for other fields or no value. */
export const referencedIds = (field: FieldDefinition, value: unknown): number[] =>
  holdsReferences(field) && value !== undefined && value !== null ? ([] as unknown[]).concat(value).map(Number) : [];

/**
 * The module of each live item among `ids` (deleted and unknown IDs are left out): one query per
 * 5,000 IDs, each a single bound JSON array (D1_MAX_BOUND_PARAMETERS in platform/limits.ts).
 */
export async function liveItemModules(db: Db, ids: number[]): Promise<Map<number, number>> {
  const all = [...new Set(ids)];
  const found = new Map<number, number>();
  for (let i = 0; i < all.length; i += 5000) {
    const chunk = all.slice(i, i + 5000);
    const rows = await db
      .select({ id: content.id, moduleId: content.moduleId })
      .from(content)
      .where(sql`${content.deletedAt} is null and ${content.id} in (select value from json_each(${JSON.stringify(chunk)}))`)
      .all();
    for (const r of rows) found.set(r.id, r.moduleId);
  }
  return found;
}

/** Those of `ids` that are not live items of module `target` (`found`: what `liveItemModules` answered for them). */
export const notItemsOf = (found: Map<number, number>, target: number, ids: number[]): number[] => ids.filter((id) => found.get(id) !== target);

/** SQL: whether `id` names a live item of module `moduleId` (values of the enclosing statement, or bound numbers). */
export const isLiveItemOf = (id: SQL, moduleId: SQL | number): SQL =>
  sql`exists (select 1 from ${content} as "target" where "target"."id" = ${id} and "target"."module_id" = ${moduleId} and "target"."deleted_at" is null)`;

/** A reference field's IDs in one item, and where a problem with them is reported. */
export type RelatedWanted = { field: FieldDefinition; path: string; ids: number[] };

/** The details for related IDs that are not live items of their field's target module (`found`: liveItemModules). */
export function missingRelated(wanted: RelatedWanted[], found: Map<number, number>): ErrorDetail[] {
  const details: ErrorDetail[] = [];
  for (const { field, path, ids } of wanted) {
    const target = targetModule(field);
    const missing = notItemsOf(found, target, ids);
    if (missing.length) {
      details.push({
        path,
        message: `${missing.length === 1 ? "ID" : "IDs"} ${missing.join(", ")} ${missing.length === 1 ? "is not an item" : "are not items"} of module ${target}`,
      });
    }
  }
  return details;
}

/**
 * Checks that every related ID points at a live item of the field's target module; one query
 * for all fields. Answers a detail per offending field.
 */
export async function checkRelated(db: Db, wanted: RelatedWanted[]): Promise<ErrorDetail[]> {
  if (!wanted.some((w) => w.ids.length)) return [];
  return missingRelated(
    wanted,
    await liveItemModules(
      db,
      wanted.flatMap((w) => w.ids),
    ),
  );
}

/**
 * The items validated `data` points at, as distinct `[contentId, targetModuleId]` pairs: what a
 * write checks again in its own statement (a target deleted since validation refuses the write).
 */
export function relatedRefs(module: Module, data: Record<string, unknown>): [number, number][] {
  const pairs = new Map<string, [number, number]>();
  for (const field of module.fields) {
    if (!Object.hasOwn(data, field.name)) continue;
    const target = targetModule(field);
    for (const id of referencedIds(field, data[field.name])) pairs.set(`${id}:${target}`, [id, target]);
  }
  return [...pairs.values()];
}

// Unique fields (`isUnique`): the typed table's unique index refuses a second live item with a
// value (text compared case-insensitively, through the column's NOCASE collation; numbers as
// REAL, so 1 = 1.0; stamps normalised to UTC, so equal instants collide). These helpers turn
// that refusal into a 409 naming the item that holds the value, and find duplicates before an
// edit turns `isUnique` on.
import { sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { allRows, ident } from "../db/raw";
import type { FieldDefinition } from "../fields/registry";
import { ApiError, type ErrorDetail } from "../http/errors";
import { isTextField, layoutOf, toPresented } from "./storage";
import { typedValue } from "../module-model/typed-table";
import type { Module } from "../module-model/module";

/** Most duplicate values an edit's 409 lists. */
const MAX_LISTED_DUPLICATES = 10;

const messageOf = (err: unknown) => `${(err as Error)?.message ?? err} ${((err as Error)?.cause as Error)?.message ?? ""}`;

/** The typed-table column a failed write's unique index refused, if that is why it failed. */
export function refusedUniqueColumn(err: unknown, moduleId: number): string | undefined {
  const m = new RegExp(`UNIQUE constraint failed: c_${moduleId}\\.(f_[a-z0-9_]+)`, "i").exec(messageOf(err));
  return m?.[1];
}

/**
 * The 409 for a write its unique index refused: which field, and which live item holds the value
 * now. Undefined when `err` is not such a refusal.
 */
export async function uniqueConflict(db: Db, module: Module, data: Record<string, unknown>, err: unknown, selfId?: number): Promise<ApiError | undefined> {
  const columnName = refusedUniqueColumn(err, module.id);
  const layout = layoutOf(module);
  const column = layout.columns.find((c) => c.name === columnName);
  if (!column) return undefined;
  const field = column.field;
  const value = data[field.name];
  const [holder] = await allRows<{ id: number }>(
    db,
    sql`select "id" from ${ident(layout.table)} where ${ident(column.name)} = ${value} and "id" is not ${selfId ?? null} limit 1`,
  );
  const shown = JSON.stringify(toPresented(field, value));
  const detail: ErrorDetail = {
    path: `fields.${field.name}`,
    message: holder ? `${shown} is already held by item ${holder.id}` : `${shown} is already held by another item`,
    ...(holder ? { contentID: String(holder.id) } : {}),
  };
  return new ApiError("unique_conflict", `'${field.name}' must be unique: ${detail.message}`, [detail]);
}

/**
 * Values that more than one live item of the module holds in `field` (read from the items'
 * documents, so it works whatever the typed table looks like now), with some of their IDs.
 */
export async function duplicateValues(db: Db, moduleId: number, field: FieldDefinition): Promise<{ value: unknown; ids: number[] }[]> {
  const v = typedValue(sql`"data"`, field);
  const key = isTextField(field) ? sql`${v} collate nocase` : v;
  const rows = await allRows<{ value: unknown; ids: string }>(
    db,
    sql`select min(${v}) as "value", group_concat("id") as "ids" from "content"
        where "module_id" = ${moduleId} and "deleted_at" is null and ${v} is not null
        group by ${key} having count(*) > 1 limit ${MAX_LISTED_DUPLICATES}`,
  );
  return rows.map((r) => ({ value: r.value, ids: String(r.ids).split(",").slice(0, 5).map(Number) }));
}

// Whether a trigger's filter holds on an event's item. The filter is compiled by the content
// filter language's own compiler (src/content/filter.ts) and run in D1 over a one-row stand-in for
// the module's typed table: the event's snapshot turned into typed columns by the same `typedValue`
// the typed table is derived with, aliased `item` (and the snapshot's document as `doc`, for
// fields past the typed columns). So a trigger's filter means exactly what it means in a listing,
// on the item as it was right after the change, whatever happened to the item since.
import { sql, type SQL } from "drizzle-orm";
import { compileFilter } from "../content/filter";
import { layoutOf } from "../content/storage";
import { DOC, ITEM, typedValue } from "../module-model/typed-table";
import { contentEvents } from "../db/schema";
import { ident } from "../db/raw";
import type { Module } from "../module-model/module";

/** FROM for the snapshot of event `eventId` as the module's typed row `item` and its document `doc`. */
function snapshotFrom(module: Module, eventId: number): SQL {
  const data = sql`"e"."data"`;
  const columns = [
    sql`"e"."content_id" as "id", "e"."user_id" as "user_id", "e"."item_created_at" as "created_at", "e"."item_updated_at" as "updated_at"`,
    ...layoutOf(module).columns.map((c) => sql`${typedValue(data, c.field)} as ${ident(c.name)}`),
  ];
  return sql`(select ${sql.join(columns, sql`, `)} from ${contentEvents} as "e" where "e"."id" = ${eventId}) as ${ITEM}
    cross join (select "data" from ${contentEvents} where "id" = ${eventId}) as ${DOC}`;
}

/**
 * The statement answering `{ok: 1}` when `filter` holds on the event's item, `{ok: 0}` otherwise.
 * Throws the filter's 400 ApiError when it no longer compiles against the module (a field it
 * names was removed or renamed since the trigger was saved).
 */
export function filterHoldsStatement(module: Module, filter: string, eventId: number): SQL {
  return sql`select exists (select 1 from ${snapshotFrom(module, eventId)} where ${compileFilter(module, filter)}) as "ok"`;
}

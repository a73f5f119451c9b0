// The import's D1 side (docs/api/import-export.md, "How it runs"). Checked rows are *staged* in
// `import_rows`, keyed by (job, row), so staging a batch twice stages nothing twice; nothing of an
// import is visible until `publish` moves every staged row into the module in ONE batch — the
// statements createContent and updateContent use (the typed row and full-text entry derived from
// the `content` row, the trigger events, the version bump), written over the staged set. The batch
// commits only while `import_runs.state` still says `staging` (a cancel sets `void` first) and the
// module is still the definition the rows were checked against.
import { sql, type SQL } from "drizzle-orm";
import type { Db } from "../db/client";
import { abortUnless, allRows, ident, rawStatement, runBatch } from "../db/raw";
import { content, importRows, importRuns, modules } from "../db/schema";
import { holdsReferences, type FieldDefinition } from "../fields/registry";
import { nowIso } from "../http/time";
import type { Module } from "../module-model/module";
import { recordedIds, recordEventsStatement, type WriteOrigin } from "../content/events";
import { isLiveItemOf, targetModule } from "../content/related";
import { bumpContentVersion } from "../content/result-cache";
import { layoutOf, toPresented } from "../content/storage";
import { insertSearchRows, insertTypedRows, searchTableName } from "../module-model/typed-table";
import { IMPORT_CHECK_PAGE, IMPORT_STAGE_STATEMENT_BYTES } from "./import-limits";
import type { OnConflict } from "../jobs/import-job";
import { foldKey, type ImportPlan } from "./import-values";

type RunState = "staging" | "published" | "void";

/** The row of `import_runs` an import job starts with (in the batch that inserts its mirror row). */
export const newRunStatement = (jobId: SQL | number, moduleId: number) => {
  const now = nowIso();
  return sql`insert into ${importRuns} ("job_id", "module_id", "state", "created_at", "updated_at") values (${jobId}, ${moduleId}, 'staging', ${now}, ${now})`;
};

export async function runState(db: Db, jobId: number): Promise<RunState | null> {
  const row = await db.select({ state: importRuns.state }).from(importRuns).where(sql`${importRuns.jobId} = ${jobId}`).get();
  return (row?.state as RunState | undefined) ?? null;
}

/**
 * Ends an import that has not published: `staging` becomes `void` and its staged rows go, in one
 * batch (after it, nothing of the import can be staged or published). Answers the state after it:
 * `published` when the rows were published first (then nothing changes).
 */
export async function voidRun(db: Db, jobId: number): Promise<RunState | null> {
  const [, , [row]] = (await runBatch(db, [
    db.update(importRuns).set({ state: "void", updatedAt: nowIso() }).where(sql`${importRuns.jobId} = ${jobId} and ${importRuns.state} = 'staging'`),
    db.delete(importRows).where(sql`${importRows.jobId} = ${jobId} and exists (select 1 from ${importRuns} where "job_id" = ${jobId} and "state" = 'void')`),
    db.select({ state: importRuns.state }).from(importRuns).where(sql`${importRuns.jobId} = ${jobId}`),
  ])) as [unknown, unknown, { state: string }[]];
  return (row?.state as RunState | undefined) ?? null;
}

/** Drops the staged rows of a run that starts over (the module was edited); its state stays `staging`. */
export async function clearStaged(db: Db, jobId: number) {
  await db.delete(importRows).where(sql`${importRows.jobId} = ${jobId}`);
}

// ---------------------------------------------------------------- staging

/** A checked row: the item it updates (null: a new item), its folded key, its `content` columns. */
export type StagedRow = { row: number; contentId: number | null; key: string | null; data: string; search: string };

/**
 * Stages rows (several statements when their values are large, each binding one JSON array),
 * only while the run is `staging`; answers the run's state as the batch saw it.
 */
export async function stageRows(db: Db, jobId: number, rows: StagedRow[]): Promise<RunState | null> {
  const groups: StagedRow[][] = [];
  let size = 0;
  for (const r of rows) {
    const bytes = r.data.length + r.search.length + 64;
    if (!groups.length || size + bytes > IMPORT_STAGE_STATEMENT_BYTES) {
      groups.push([]);
      size = 0;
    }
    groups[groups.length - 1].push(r);
    size += bytes;
  }
  const inserts = groups.map((group) => {
    const values = JSON.stringify(group.map((r) => [r.row, r.contentId, r.key, r.data, r.search]));
    return rawStatement(
      db,
      sql`insert into ${importRows} ("job_id", "row", "content_id", "key", "data", "search")
        select ${jobId}, json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'), json_extract(value, '$[3]'), json_extract(value, '$[4]')
        from json_each(${values}) where exists (select 1 from ${importRuns} where "job_id" = ${jobId} and "state" = 'staging')
        on conflict ("job_id", "row") do nothing`,
      "run",
    );
  });
  const results = await runBatch(db, [...inserts, db.select({ state: importRuns.state }).from(importRuns).where(sql`${importRuns.jobId} = ${jobId}`)]);
  const [row] = results[results.length - 1] as { state: string }[];
  return (row?.state as RunState | undefined) ?? null;
}

/** Rows the next check found wrong after all (rejected, or skipped by `onConflict=skip`): out of the staged set. */
export async function unstage(db: Db, jobId: number, rows: number[]) {
  for (let i = 0; i < rows.length; i += 5000) {
    await db
      .delete(importRows)
      .where(sql`${importRows.jobId} = ${jobId} and ${importRows.row} in (select value from json_each(${JSON.stringify(rows.slice(i, i + 5000))}))`);
  }
}

// ---------------------------------------------------------------- keys

/** The column of a field in the module's typed table (a key always has one: keyProblem). */
const columnOf = (module: Module, field: FieldDefinition) => {
  const column = layoutOf(module).byField.get(field.name);
  if (!column) throw new Error(`bug: field ${field.name} has no typed column`);
  return ident(column.name);
};

/** An item a key matched: its ID and its values in the API's form (for an update to merge into). */
type KeyMatch = { id: number; values: Record<string, unknown> };

/**
 * The live items holding each of `keys` (stored values of the key field), through the key's column
 * and index (its collation: text keys match case-insensitively). By folded key.
 */
export async function itemsByKey(db: Db, module: Module, key: FieldDefinition, keys: unknown[]): Promise<Map<string, KeyMatch[]>> {
  const out = new Map<string, KeyMatch[]>();
  if (keys.length === 0) return out;
  const layout = layoutOf(module);
  const column = columnOf(module, key);
  const rows = await allRows<{ id: number; k: unknown; data: string }>(
    db,
    sql`select "item"."id" as "id", "item".${column} as "k", "doc"."data" as "data" from ${ident(layout.table)} as "item"
      cross join ${content} as "doc" on "doc"."id" = "item"."id"
      where "item".${column} in (select value from json_each(${JSON.stringify(keys)}))`,
  );
  for (const r of rows) {
    const folded = foldKey(key, r.k);
    if (folded === null) continue;
    const values = presented(module, r.data);
    const list = out.get(folded) ?? [];
    list.push({ id: r.id, values });
    out.set(folded, list);
  }
  return out;
}

/** The live items of the module among `ids`, by ID as text (`key=contentID`). */
export async function itemsById(db: Db, module: Module, ids: number[]): Promise<Map<string, KeyMatch[]>> {
  const out = new Map<string, KeyMatch[]>();
  if (ids.length === 0) return out;
  const rows = await allRows<{ id: number; data: string }>(
    db,
    sql`select "id", "data" from ${content} where "module_id" = ${module.id} and "deleted_at" is null and "id" in (select value from json_each(${JSON.stringify(ids)}))`,
  );
  for (const r of rows) out.set(String(r.id), [{ id: r.id, values: presented(module, r.data) }]);
  return out;
}

function presented(module: Module, data: string): Record<string, unknown> {
  let stored: Record<string, unknown> = {};
  try {
    const parsed = JSON.parse(data);
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) stored = parsed;
  } catch {
    /* a broken document holds no values */
  }
  const out: Record<string, unknown> = {};
  for (const field of module.fields) if (Object.hasOwn(stored, field.name)) out[field.name] = toPresented(field, stored[field.name]);
  return out;
}

// ---------------------------------------------------------------- checks before publishing

/** What a check found about a staged row: reject it (with its column and why), or skip it. */
export type Finding = { row: number; column: string | null; message: string; skip?: boolean };

const path = (field: FieldDefinition) => sql.raw(`'$.${field.name}'`); // a validated field name

/**
 * Looks at the staged set as a whole, against the module as it is now: a key given twice in the
 * file; a key taken by an item created since the row was checked; a unique field's value held by
 * a live item or by an earlier row; a related item deleted since. One batch, at most
 * IMPORT_CHECK_PAGE findings per check; callers run it again after acting on what it found.
 */
export async function checkStaged(db: Db, plan: ImportPlan, jobId: number, onConflict: OnConflict | null): Promise<Finding[]> {
  const { module } = plan;
  const layout = layoutOf(module);
  const table = ident(layout.table);
  const staged = sql`${importRows} as "r" where "r"."job_id" = ${jobId}`;
  // biome-ignore lint/suspicious/noExplicitAny: raw rows of several check queries, each read by its own finding
  const checks: { query: SQL; finding: (r: Record<string, any>) => Finding }[] = [];
  const col = (name: string) => plan.columnOf.get(name) ?? null;
  if (plan.key || plan.idColumn !== null) {
    checks.push({
      query: sql`select "row", "first" from (select "row", min("row") over (partition by "key") as "first" from ${importRows}
        where "job_id" = ${jobId} and "key" is not null) where "row" <> "first" limit ${IMPORT_CHECK_PAGE}`,
      finding: (r) => ({ row: r.row, column: plan.keyColumn, message: `has the same key as row ${r.first}; a key value may appear once per file` }),
    });
    checks.push({
      query: sql`select "r"."row" as "row", "r"."content_id" as "id" from ${staged} and "r"."content_id" is not null and not exists (select 1 from ${content} as "c"
        where "c"."id" = "r"."content_id" and "c"."module_id" = ${module.id} and "c"."deleted_at" is null) limit ${IMPORT_CHECK_PAGE}`,
      finding: (r) => ({ row: r.row, column: plan.keyColumn, message: `the item this row updates (item ${r.id}) was deleted while the import ran` }),
    });
  }
  if (plan.key) {
    const key = plan.key;
    checks.push({
      query: sql`select * from (select "r"."row" as "row", (select "item"."id" from ${table} as "item"
          where "item".${columnOf(module, key)} = json_extract("r"."data", ${path(key)}) limit 1) as "id"
        from ${staged} and "r"."content_id" is null) where "id" is not null limit ${IMPORT_CHECK_PAGE}`,
      finding: (r) =>
        onConflict === "skip"
          ? { row: r.row, column: col(key.name), message: "skipped", skip: true }
          : { row: r.row, column: col(key.name), message: "an item with this key was created while the import ran; import the row again" },
    });
  }
  for (const field of module.fields) {
    const column = layout.byField.get(field.name);
    if (!field.isUnique || !column) continue;
    const ref = ident(column.name);
    checks.push({
      query: sql`select * from (select "r"."row" as "row", (select "item"."id" from ${table} as "item" where "item".${ref} = json_extract("r"."data", ${path(field)})
          and ("r"."content_id" is null or "item"."id" <> "r"."content_id") limit 1) as "id"
        from ${staged}) where "id" is not null limit ${IMPORT_CHECK_PAGE}`,
      finding: (r) => ({ row: r.row, column: col(field.name), message: `'${field.name}' must be unique: the value is already held by item ${r.id}` }),
    });
    if (plan.key?.name === field.name) continue; // the key's own duplicates are found above
    const value = sql`json_extract("data", ${path(field)})`;
    const folded = column.type === "TEXT COLLATE NOCASE" ? sql`${value} collate nocase` : value;
    checks.push({
      query: sql`select "row", "first" from (select "row", min("row") over (partition by ${folded}) as "first" from ${importRows}
        where "job_id" = ${jobId} and ${value} is not null) where "row" <> "first" limit ${IMPORT_CHECK_PAGE}`,
      finding: (r) => ({ row: r.row, column: col(field.name), message: `'${field.name}' must be unique: row ${r.first} of this file has the same value` }),
    });
  }
  for (const field of module.fields) {
    if (!holdsReferences(field)) continue;
    const target = targetModule(field);
    checks.push({
      query: sql`select "r"."row" as "row", "j"."value" as "id" from ${importRows} as "r", json_each("r"."data", ${path(field)}) as "j"
        where "r"."job_id" = ${jobId} and not ${isLiveItemOf(sql`"j"."value"`, target)}
        limit ${IMPORT_CHECK_PAGE}`,
      finding: (r) => ({ row: r.row, column: col(field.name), message: `ID ${r.id} is not an item of module ${target} (any more)` }),
    });
  }
  if (!checks.length) return [];
  const results = (await runBatch(
    db,
    checks.map((c) => rawStatement(db, c.query)),
    // biome-ignore lint/suspicious/noExplicitAny: as above
  )) as Record<string, any>[][];
  return results.flatMap((rows, i) => rows.map(checks[i].finding));
}

// ---------------------------------------------------------------- publishing

/** The staged rows to create and to update. */
export async function stagedCounts(db: Db, jobId: number): Promise<{ creates: number; updates: number }> {
  const [row] = await allRows<{ creates: number; updates: number }>(
    db,
    sql`select count(*) - count("content_id") as "creates", count("content_id") as "updates" from ${importRows} where "job_id" = ${jobId}`,
  );
  return { creates: row?.creates ?? 0, updates: row?.updates ?? 0 };
}

type PublishInput = { plan: ImportPlan; jobId: number; userId: string; triggers: boolean; origin: WriteOrigin };

/**
 * Makes every staged row visible in one batch (one transaction), or nothing: the batch starts with
 * an aborting guard (the run still `staging`, the module's definition the one checked against, no
 * related item gone). New items are inserted in file order, and their typed rows, full-text entries
 * and events derived from the rows just inserted: inside the transaction no one else writes, and
 * AUTOINCREMENT gives one INSERT ... SELECT consecutive IDs, so they are the module's items above
 * max(id) minus the number inserted (the staged creates, still in `import_rows` until the batch's
 * last statement). Updated items get their values, events (before the change, as updateContent's)
 * and derived rows.
 * Answers the recorded event IDs. Throws what the batch threw: `isAborted` for the guard, a
 * UNIQUE constraint for a value taken meanwhile.
 */
export async function publish(db: Db, input: PublishInput): Promise<number[]> {
  const { plan, jobId, userId } = input;
  const { module } = plan;
  const layout = layoutOf(module);
  const moduleId = module.id;
  const now = nowIso();
  const updated = sql`(select "content_id" from ${importRows} where "job_id" = ${jobId} and "content_id" is not null)`;
  const relatedGone = module.fields.filter(holdsReferences).map(
    (f) => sql` and not exists (select 1 from ${importRows} as "r", json_each("r"."data", ${path(f)}) as "j" where "r"."job_id" = ${jobId}
        and not ${isLiveItemOf(sql`"j"."value"`, targetModule(f))})`,
  );
  const guard = abortUnless(
    sql`exists (select 1 from ${importRuns} where "job_id" = ${jobId} and "state" = 'staging')
      and exists (select 1 from ${modules} where "id" = ${moduleId} and "fields_version" = ${module.fieldsVersion})${sql.join(relatedGone, sql``)}`,
  );
  const eventStatements: unknown[] = [];
  const events = (kinds: Parameters<typeof recordEventsStatement>[1], item: Parameters<typeof recordEventsStatement>[2], when: SQL, from: SQL) => {
    if (!input.triggers) return [];
    const statement = rawStatement(db, recordEventsStatement(moduleId, kinds, item, when, input.origin, from));
    eventStatements.push(statement);
    return [statement];
  };
  const creates = sql`(select count(*) from ${importRows} where "job_id" = ${jobId} and "content_id" is null)`;
  const isNew = sql`"id" > (select max("id") from ${content}) - ${creates} and "module_id" = ${moduleId} and "deleted_at" is null`;
  const isUpdated = sql`"id" in ${updated} and "module_id" = ${moduleId} and "deleted_at" is null`;
  const search = ident(searchTableName(moduleId));
  const statements: unknown[] = [
    rawStatement(db, guard),
    // Updates: events first (they keep the values before the change), then the values, then the
    // derived rows (their old typed rows go before any new row is inserted: unique indexes).
    ...events(
      ["content.updated", "content.date"],
      {
        contentId: sql`"c"."id"`,
        userId: sql`"c"."user_id"`,
        createdAt: sql`"c"."created_at"`,
        updatedAt: now,
        data: sql`"r"."data"`,
        previous: sql`"c"."data"`,
      },
      sql`"r"."job_id" = ${jobId} and "c"."module_id" = ${moduleId} and "c"."deleted_at" is null`,
      sql`${importRows} as "r" join ${content} as "c" on "c"."id" = "r"."content_id"`,
    ),
    rawStatement(
      db,
      sql`update ${content} set "data" = "r"."data", "search" = "r"."search", "updated_at" = ${now} from ${importRows} as "r"
        where "r"."job_id" = ${jobId} and "r"."content_id" = ${content}."id" and ${content}."module_id" = ${moduleId} and ${content}."deleted_at" is null`,
      "run",
    ),
    rawStatement(db, sql`delete from ${ident(layout.table)} where "id" in ${updated}`, "run"),
    rawStatement(db, sql`delete from ${search} where "rowid" in ${updated}`, "run"),
    rawStatement(db, insertTypedRows(layout, isUpdated), "run"),
    rawStatement(db, insertSearchRows(moduleId, isUpdated), "run"),
    // Creates, in file order (ascending IDs).
    rawStatement(
      db,
      sql`insert into ${content} ("module_id", "user_id", "data", "search", "created_at", "updated_at", "deleted_at")
        select ${moduleId}, ${userId}, "data", "search", ${now}, ${now}, null from ${importRows}
        where "job_id" = ${jobId} and "content_id" is null order by "row"`,
      "run",
    ),
    rawStatement(db, insertTypedRows(layout, isNew), "run"),
    rawStatement(db, insertSearchRows(moduleId, isNew), "run"),
    ...events(
      ["content.created", "content.date"],
      {
        contentId: sql`"c"."id"`,
        userId: sql`"c"."user_id"`,
        createdAt: sql`"c"."created_at"`,
        updatedAt: sql`"c"."updated_at"`,
        data: sql`"c"."data"`,
        previous: null,
      },
      sql`"c"."id" > (select max("id") from ${content}) - ${creates} and "c"."module_id" = ${moduleId} and "c"."deleted_at" is null`,
      sql`${content} as "c"`,
    ),
    bumpContentVersion(db, moduleId),
    db.update(importRuns).set({ state: "published", updatedAt: now }).where(sql`${importRuns.jobId} = ${jobId}`),
    db.delete(importRows).where(sql`${importRows.jobId} = ${jobId}`),
  ];
  const results = await runBatch(db, statements);
  return eventStatements.flatMap((statement) => recordedIds(results[statements.indexOf(statement)]));
}

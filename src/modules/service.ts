import { and, asc, eq, exists, inArray, ne, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { content, modules, pages } from "../db/schema";
import { referenceKinds, type FieldDefinition } from "../fields/registry";
import { conflict } from "../http/errors";
import { idOut } from "../http/ids";
import { nowIso } from "../http/time";
import { assertContentFitsFields } from "../content/content-fits-fields";
import { moduleCreatedStatements, moduleDeletedStatements, removedFieldStatements, typedTableStatements } from "../content/module-statements";
import { abortUnless, isAborted, rawStatement, runBatch } from "../db/raw";
import { liveItemModules, notItemsOf, referencedIds, targetModule } from "../content/related";
import { refusedUniqueColumn } from "../content/unique";
import { getModule, type Module, type ModuleRow } from "../module-model/module";
import { normaliseFields, relatedTargets } from "./fields";
import type { z } from "@hono/zod-openapi";
import type { moduleBody, moduleSchema } from "./schemas";
import { throwIfDetails } from "../http/details";

type ModuleInput = z.output<typeof moduleBody>;

/** A module as the API answers it. */
type ModuleView = z.output<typeof moduleSchema>;

export const presentModule = (m: Module): ModuleView => ({
  moduleID: idOut(m.id),
  name: m.name,
  fields: m.fields,
  createdAt: m.createdAt,
  updatedAt: m.updatedAt,
});

/**
 * Modules are a configuration-sized set, so the name filter runs here, where lower-casing
 * covers all of Unicode (SQLite's lower() folds ASCII only).
 */
export async function listModules(db: Db, query?: string): Promise<Module[]> {
  const all = (await db.select().from(modules).orderBy(asc(modules.id)).all()) as Module[];
  if (!query) return all;
  const needle = query.toLowerCase();
  return all.filter((m) => m.name.toLowerCase().includes(needle));
}

/** Validates the input fields, including targets of related fields and their defaults. */
async function validatedFields(db: Db, input: ModuleInput, selfId?: number): Promise<FieldDefinition[]> {
  const { fields, details } = normaliseFields(input.fields);
  if (details.length === 0) {
    const related = relatedTargets(fields);
    const targetIds = [...new Set(related.map(({ field }) => targetModule(field)))];
    const existing = new Set(
      targetIds.length ? (await db.select({ id: modules.id }).from(modules).where(inArray(modules.id, targetIds)).all()).map((r) => r.id) : [],
    );
    if (selfId !== undefined) existing.add(selfId);
    const found = await liveItemModules(
      db,
      related.flatMap(({ field }) => referencedIds(field, field.defaultValue)),
    );
    for (const { index, field } of related) {
      const target = targetModule(field);
      if (!existing.has(target)) {
        details.push({ path: `fields[${index}].options.moduleID`, message: `module ${target} does not exist` });
        continue;
      }
      if (notItemsOf(found, target, referencedIds(field, field.defaultValue)).length) {
        details.push({ path: `fields[${index}].defaultValue`, message: `not an existing item of module ${target}` });
      }
    }
  }
  throwIfDetails(details, "Invalid module");
  return fields;
}

/** Creates compete for the next ID at most this often before the create answers 409. */
const MAX_CREATE_TRIES = 10;

/**
 * The module row and its per-field index DDL in one batch (one transaction), so a failure leaves
 * neither. Index names carry the module ID, so the ID is chosen first: the next one the table's
 * AUTOINCREMENT sequence would give. A concurrent create that took it makes the whole batch fail
 * on the primary key, and the create tries again with the next one.
 */
export async function createModule(db: Db, input: ModuleInput): Promise<Module> {
  const fields = await validatedFields(db, input);
  for (let tries = 1; ; tries++) {
    const next = await db.get<{ id: number }>(
      sql`select max(coalesce((select seq from sqlite_sequence where name = 'modules'), 0),
                     coalesce((select max(id) from ${modules}), 0)) + 1 as id`,
    );
    const id = next.id;
    const now = nowIso();
    const insert = db.insert(modules).values({ id, name: input.name, fields, typedTable: 1, createdAt: now, updatedAt: now }).returning();
    const ddl = moduleCreatedStatements(db, id, fields); // its typed table
    try {
      const [rows] = await db.batch([insert, ...ddl] as [typeof insert]);
      return rows[0] as Module;
    } catch (err) {
      if (!isIdTaken(err) || tries >= MAX_CREATE_TRIES) {
        if (isIdTaken(err)) throw conflict("Too many modules were created at the same time; send the request again");
        throw err;
      }
    }
  }
}

/** Whether a failed batch failed on the module ID (drizzle wraps D1's error as its `cause`). */
const isIdTaken = (err: unknown) => {
  const text = `${(err as Error)?.message ?? err} ${((err as Error)?.cause as Error)?.message ?? ""}`;
  return /UNIQUE constraint failed: modules\.id/i.test(text);
};

/**
 * How often an edit checks the existing content and attempts its write: each failed attempt means
 * the module's content (or definition) changed between the check and the write.
 */
const MAX_EDIT_TRIES = 3;

/**
 * Edits a module in one batch. The batch commits only while the module's `content_version` is
 * the one read before `assertContentFitsFields` ran: a content write (or another edit) landing
 * between the check and the batch bumps it, and the edit is then checked again (409 when the
 * content keeps changing). D1 has no interactive transactions, so the condition is a statement
 * of the batch that aborts it (DDL included: the typed table is rebuilt in the same batch).
 */
export async function updateModule(db: Db, id: number, input: ModuleInput): Promise<Module> {
  for (let tries = 1; ; tries++) {
    const before = await getModule(db, id);
    const fields = await validatedFields(db, input, id);
    await assertContentFitsFields(db, id, before.fields, fields);
    const unchanged = and(eq(modules.id, id), eq(modules.contentVersion, before.contentVersion))!;
    const update = db
      .update(modules)
      .set({
        name: input.name,
        fields,
        updatedAt: nowIso(),
        contentVersion: sql`${modules.contentVersion} + 1`,
        fieldsVersion: sql`${modules.fieldsVersion} + 1`,
      })
      .where(unchanged)
      .returning();
    const batch = [
      rawStatement(db, abortUnless(exists(db.select({ one: sql`1` }).from(modules).where(unchanged))), "all"),
      // The content statements first: the typed table is rebuilt from the values they leave.
      ...removedFieldStatements(db, id, before.fields, fields),
      update,
      ...typedTableStatements(db, id, before.fields, fields),
    ];
    try {
      const results = await db.batch(batch as unknown as [typeof update]);
      const [row] = results[batch.indexOf(update)] as ModuleRow[];
      return row as Module;
    } catch (err) {
      // A unique index refused a duplicate written since the check: check again (409 then).
      if (!isAborted(err) && !refusedUniqueColumn(err, id)) throw err;
    }
    if (tries >= MAX_EDIT_TRIES) {
      await getModule(db, id); // deleted meanwhile: 404
      throw conflict(
        `The content of module ${id} changed while the edit was being checked (${MAX_EDIT_TRIES} tries); nothing was changed, send the request again`,
        undefined,
        "conflict",
      );
    }
  }
}

export async function deleteModule(db: Db, id: number): Promise<void> {
  await getModule(db, id); // 404 for an unknown module
  const referring = await db
    .select({ id: modules.id, name: modules.name })
    .from(modules)
    .where(and(ne(modules.id, id), referencesModule(id)))
    .all();
  if (referring.length) {
    throw conflict(
      `Module ${id} is the target of related fields in module ${referring.map((r) => r.id).join(", ")}`,
      referring.map((r) => ({ path: `moduleID`, message: `referenced by module ${r.id} (${r.name})` })),
      "module_in_use",
    );
  }
  const page = await db.select({ id: pages.id }).from(pages).where(eq(pages.moduleId, id)).get();
  if (page) throw conflict(`Module ${id} has a record page (page ${page.id}); delete the page first`, undefined, "module_in_use");
  // The checks again inside the batch: a page or related field created since is not orphaned.
  const unused = sql`not exists (select 1 from ${pages} where ${pages.moduleId} = ${id})
    and not exists (select 1 from ${modules} where ${modules.id} <> ${id} and ${referencesModule(id)})`;
  try {
    await runBatch(db, [
      rawStatement(db, abortUnless(unused), "all"),
      db.delete(content).where(eq(content.moduleId, id)),
      db.delete(modules).where(eq(modules.id, id)),
      ...moduleDeletedStatements(db, id),
    ]);
  } catch (err) {
    if (!isAborted(err)) throw err;
    throw conflict(`Module ${id} came into use while it was being deleted; nothing was deleted`, undefined, "module_in_use");
  }
}

/** Whether a module row (of the outer query) has a field holding references to module `id`. */
const referencesModule = (id: number) =>
  sql`exists (select 1 from json_each(${modules.fields}) f
              where json_extract(f.value, '$.kind') in (${sql.raw(referenceKinds.map((k) => `'${k}'`).join(", "))})
                and cast(json_extract(f.value, '$.options.moduleID') as integer) = ${id})`;

// The module model: a module is a named list of field definitions (fields/registry.ts), stored
// as one `modules` row; its items are rows of `content` and of the typed table its fields define
// (typed-table.ts). Whatever works with a module's items (content, charts, triggers, bulk) loads
// the module here. Creating, editing and deleting modules is src/modules, which sits above
// src/content: an edit checks and rewrites the module's content in the same batch.
import { eq, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { abortUnless, isAborted, rawStatement, runBatch } from "../db/raw";
import { modules } from "../db/schema";
import type { FieldDefinition } from "../fields/registry";
import { notFound } from "../http/errors";
import { rebuildStatements } from "./typed-table";

export type ModuleRow = typeof modules.$inferSelect;
export type Module = Omit<ModuleRow, "fields"> & { fields: FieldDefinition[] };

/** The module, its typed table built first if it has none yet; undefined when there is no such module. */
export async function findModule(db: Db, id: number): Promise<Module | undefined> {
  const row = (await db.select().from(modules).where(eq(modules.id, id)).get()) as Module | undefined;
  return row && !row.typedTable ? convertModule(db, row) : row;
}

/** `findModule`, or a 404 naming the module. */
export async function getModule(db: Db, id: number): Promise<Module> {
  const found = await findModule(db, id);
  if (!found) throw notFound(`Module ${id}`);
  return found;
}

/**
 * The module's field called `name`: exactly as defined, else matched case-insensitively (names
 * are unique case-insensitively, so there is at most one).
 */
export const fieldNamed = (module: Pick<Module, "fields">, name: string): FieldDefinition | undefined =>
  module.fields.find((f) => f.name === name) ?? module.fields.find((f) => f.name.toLowerCase() === name.toLowerCase());

// ---------------------------------------------------------------------------------------------
// Modules written before typed tables

/** How often converting a module is attempted while its content keeps changing. */
const MAX_CONVERT_TRIES = 5;

/**
 * Gives a module written before typed tables its typed table, in one batch that commits only
 * while the module's content is as it was read (else it is read and tried again). Runs once per
 * module, on its first use; any number of requests may race to do it.
 */
async function convertModule(db: Db, module: Module): Promise<Module | undefined> {
  for (let tries = 1; ; tries++) {
    const unchanged = sql`exists (select 1 from ${modules} where ${modules.id} = ${module.id}
      and ${modules.typedTable} = 0 and ${modules.contentVersion} = ${module.contentVersion})`;
    try {
      await runBatch(db, [
        rawStatement(db, abortUnless(unchanged), "all"),
        ...(await conversionStatements(db, module.id, module.fields)),
        db.update(modules).set({ typedTable: 1 }).where(eq(modules.id, module.id)),
      ]);
    } catch (err) {
      if (!isAborted(err) || tries >= MAX_CONVERT_TRIES) throw err;
    }
    const now = (await db.select().from(modules).where(eq(modules.id, module.id)).get()) as Module | undefined;
    if (!now || now.typedTable) return now;
    module = now;
  }
}

/**
 * Statements that give a module written before typed tables its typed table (built from its
 * items) and drop its JSON expression indexes on `content`, which only that layout read.
 */
async function conversionStatements(db: Db, moduleId: number, fields: FieldDefinition[]): Promise<unknown[]> {
  const legacy = (await legacyFieldIndexes(db, moduleId)).map((name) => rawStatement(db, dropIndexSql(name), "run"));
  return [...legacy, ...rebuildStatements(moduleId, fields).map((q) => rawStatement(db, q, "run"))];
}

/** The module's expression indexes on `content` from before typed tables (`cx_<module>_...`). */
async function legacyFieldIndexes(db: Db, moduleId: number): Promise<string[]> {
  const rows = await db.all<{ name: string }>(
    sql`select name from sqlite_master where type = 'index' and substr(name, 1, ${`cx_${moduleId}_`.length}) = ${`cx_${moduleId}_`}`,
  );
  return rows.map((r) => r.name);
}

const dropIndexSql = (name: string) => sql.raw(`DROP INDEX IF EXISTS "${name.replace(/[^A-Za-z0-9_]/g, "")}"`);

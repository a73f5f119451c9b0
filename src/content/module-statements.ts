// Statements a module's create, edit and delete run in their own batch (modules/service.ts), so
// that the module's content, its search text and its typed table change with the definition or
// not at all.
import { and, eq, sql, type SQL } from "drizzle-orm";
import type { Db } from "../db/client";
import { rawStatement } from "../db/raw";
import { content } from "../db/schema";
import { fieldKinds, type FieldDefinition } from "../fields/registry";
import { dropTableStatements, rebuildStatements, sameColumns } from "../module-model/typed-table";
import { searchWith, searchWithout } from "./storage";

const textLike = (f: FieldDefinition) => fieldKinds.get(f.kind)?.textLike ?? false;
const path = (name: string) => sql.raw(`'$.${name}'`); // names come from validated definitions

/**
 * Statements, run in the module update's batch, that drop removed fields' values from all of the
 * module's items (deleted ones too), keep the `search` column in step with fields that stopped or
 * started being text-like. `guard`: the condition the module update commits under, so these
 * change nothing when it does not. (`typedTableStatements` adds the typed table's DDL to the same batch.)
 */
// biome-ignore lint/suspicious/noExplicitAny: the statements go into a D1/Drizzle batch, whose types want a fixed tuple
export function removedFieldStatements(db: Db, moduleId: number, before: FieldDefinition[], after: FieldDefinition[], guard?: SQL): any[] {
  // biome-ignore lint/suspicious/noExplicitAny: as above, batch statements of several Drizzle types
  const out: any[] = [];
  const ofModule = and(eq(content.moduleId, moduleId), guard);
  const removed = before.filter((f) => !after.some((a) => a.name === f.name));
  if (removed.length) {
    const paths = sql.join(
      removed.map((f) => path(f.name)),
      sql`, `,
    );
    out.push(
      db
        .update(content)
        .set({ data: sql`json_remove(${sql.identifier("data")}, ${paths})` })
        .where(ofModule),
    );
  }
  for (const old of before) {
    const now = after.find((a) => a.name === old.name);
    if (textLike(old) && (!now || !textLike(now))) {
      out.push(
        db
          .update(content)
          .set({ search: searchWithout(old.name) })
          .where(ofModule),
      );
    } else if (now && !textLike(old) && textLike(now)) {
      // Values that fit a text-like kind after a non-text one (dates, stamps) are ASCII, so SQL lower() folds them fully.
      out.push(
        db
          .update(content)
          .set({ search: searchWith(now) })
          .where(ofModule),
      );
    }
  }
  return out;
}

// DDL and the typed-table statements go through `rawStatement`, which lets raw SQL join a
// drizzle batch. Each batch below starts with an aborting guard (db/raw.ts `abortUnless`), as
// DDL cannot carry a condition of its own.

/**
 * Statements, run in the module update's batch after `removedFieldStatements`, that rebuild the
 * typed table when the new fields give it other columns or indexes (none otherwise).
 */
export function typedTableStatements(db: Db, moduleId: number, before: FieldDefinition[], after: FieldDefinition[]): unknown[] {
  if (sameColumns(moduleId, before, after)) return [];
  return rebuildStatements(moduleId, after).map((q) => rawStatement(db, q, "run"));
}

/** Statements run in a module create's batch: its (empty) typed table. */
export const moduleCreatedStatements = (db: Db, moduleId: number, fields: FieldDefinition[]): unknown[] =>
  rebuildStatements(moduleId, fields).map((q) => rawStatement(db, q, "run"));

/** Statements run in a module delete's batch: drop its typed table and search index. */
export const moduleDeletedStatements = (db: Db, moduleId: number): unknown[] => dropTableStatements(moduleId).map((q) => rawStatement(db, q, "run"));

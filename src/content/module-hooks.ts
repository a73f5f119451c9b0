// How module edits reach existing content. Kept here, beside the content storage it protects.
import { and, eq, sql, type SQL } from "drizzle-orm";
import type { Db } from "../db/client";
import { content } from "../db/schema";
import { checkFieldValue, fieldKinds, type FieldDefinition } from "../fields/registry";
import { conflict, type ErrorDetail } from "../http/errors";
import { rawStatement } from "../db/raw";
import { dropIndexSql, legacyFieldIndexes, liveContentBound, searchWith, searchWithout, toPresented, toStored } from "./storage";
import { dropTableStatements, rebuildStatements, sameColumns } from "./typed-table";
import { duplicateValues } from "./unique";

const SCAN_CHUNK = 2000;

/** The parts of a definition that decide which values are valid. */
const rulesOf = (f: FieldDefinition) =>
  JSON.stringify([f.kind, f.isMulti, f.maxLength, f.options]);

const isRelated = (f: FieldDefinition) => f.kind === "related" || f.kind === "related_multi";
const textLike = (f: FieldDefinition) => fieldKinds.get(f.kind)?.textLike ?? false;
const path = (name: string) => sql.raw(`'$.${name}'`); // names come from validated definitions

/** Counts live items whose stored value the new definition would reject (or store differently). */
async function countRejected(db: Db, moduleId: number, before: FieldDefinition, after: FieldDefinition): Promise<number> {
  const rejected = new Set<number>();
  const relatedIds = new Map<number, number[]>(); // item → IDs it points at
  let cursor = 0;
  for (;;) {
    // Only this field's values are read, a chunk at a time, as JSON text.
    const rows = await db
      .select({ id: content.id, v: sql<string>`${content.data} -> ${path(after.name)}` })
      .from(content)
      .where(sql`${liveContentBound(moduleId)} and json_type(${content.data}, ${path(after.name)}) is not null and ${content.id} > ${cursor}`)
      .orderBy(content.id)
      .limit(SCAN_CHUNK)
      .all();
    for (const { id, v } of rows) {
      const stored = JSON.parse(v);
      const checked = checkFieldValue(after, toPresented(before, stored));
      if (!checked.ok || JSON.stringify(toStored(after, checked.value)) !== JSON.stringify(stored)) rejected.add(id);
      else if (isRelated(after)) relatedIds.set(id, ([] as unknown[]).concat(toStored(after, checked.value)).map(Number));
    }
    if (rows.length < SCAN_CHUNK) break;
    cursor = rows[rows.length - 1].id;
  }
  if (relatedIds.size) {
    const target = Number(after.options.moduleID);
    const all = [...new Set([...relatedIds.values()].flat())];
    const live = new Set<number>();
    for (let i = 0; i < all.length; i += 5000) {
      const rows = await db
        .select({ id: content.id })
        .from(content)
        .where(sql`${liveContentBound(target)} and ${content.id} in (select value from json_each(${JSON.stringify(all.slice(i, i + 5000))}))`)
        .all();
      for (const r of rows) live.add(r.id);
    }
    for (const [id, ids] of relatedIds) if (ids.some((x) => !live.has(x))) rejected.add(id);
  }
  return rejected.size;
}

/** Counts live items without a value in the field. */
async function countMissing(db: Db, moduleId: number, name: string): Promise<number> {
  const row = await db
    .select({ n: sql<number>`count(*)` })
    .from(content)
    .where(sql`${liveContentBound(moduleId)} and json_type(${content.data}, ${path(name)}) is null`)
    .get();
  return row?.n ?? 0;
}

/**
 * Throws a 409 when the new field definitions would reject values existing content holds
 * (a kind change, isMulti, maxLength or options change, a new `isRequired`), naming each field and
 * the number of offending items. Nothing is written. Only this module's live items are read, one
 * field at a time.
 */
export async function assertContentFitsFields(db: Db, moduleId: number, before: FieldDefinition[], after: FieldDefinition[]) {
  const details: ErrorDetail[] = [];
  for (const [index, field] of after.entries()) {
    const old = before.find((f) => f.name === field.name);
    if (!old) {
      // A new field: existing items have no value, which only a required field rejects.
      if (field.isRequired) {
        const n = await countMissing(db, moduleId, field.name);
        if (n) details.push({ path: `fields[${index}].isRequired`, message: `'${field.name}' is a new required field but ${n} existing item${n === 1 ? " has" : "s have"} no value` });
      }
      continue;
    }
    if (field.isRequired && !old.isRequired) {
      const n = await countMissing(db, moduleId, field.name);
      if (n) details.push({ path: `fields[${index}].isRequired`, message: `'${field.name}' cannot become required: ${n} item${n === 1 ? " has" : "s have"} no value` });
    }
    if (field.isUnique && (!old.isUnique || rulesOf(old) !== rulesOf(field))) {
      for (const dup of await duplicateValues(db, moduleId, field)) {
        details.push({ path: `fields[${index}].isUnique`, message: `'${field.name}' cannot become unique: items ${dup.ids.join(", ")} hold ${JSON.stringify(toPresented(field, dup.value))}` });
      }
    }
    if (rulesOf(old) !== rulesOf(field)) {
      const n = await countRejected(db, moduleId, old, field);
      const what = old.kind !== field.kind ? "kind" : old.isMulti !== field.isMulti ? "isMulti" : old.maxLength !== field.maxLength ? "maxLength" : "options";
      if (n) details.push({ path: `fields[${index}].${what}`, message: `'${field.name}': ${n} item${n === 1 ? " holds a value" : "s hold values"} the new definition rejects` });
    }
  }
  if (details.length) {
    throw conflict(`Existing content does not fit the new fields: ${details.map((d) => d.message).join("; ")}`, details, "content_conflict");
  }
}

/**
 * Statements, run in the module update's batch, that drop removed fields' values from all of the
 * module's items (deleted ones too), keep the `search` column in step with fields that stopped or
 * started being text-like. `guard`: the condition the module update commits under, so these
 * change nothing when it does not. (`fieldIndexStatements` adds the index DDL to the same batch.)
 */
export function removedFieldStatements(db: Db, moduleId: number, before: FieldDefinition[], after: FieldDefinition[], guard?: SQL): any[] {
  const out: any[] = [];
  const ofModule = and(eq(content.moduleId, moduleId), guard);
  const removed = before.filter((f) => !after.some((a) => a.name === f.name));
  if (removed.length) {
    const paths = sql.join(removed.map((f) => path(f.name)), sql`, `);
    out.push(db.update(content).set({ data: sql`json_remove(${sql.identifier("data")}, ${paths})` }).where(ofModule));
  }
  for (const old of before) {
    const now = after.find((a) => a.name === old.name);
    if (textLike(old) && (!now || !textLike(now))) {
      out.push(db.update(content).set({ search: searchWithout(old.name) }).where(ofModule));
    } else if (now && !textLike(old) && textLike(now)) {
      // Values that fit a text-like kind after a non-text one (dates, stamps) are ASCII, so SQL lower() folds them fully.
      out.push(db.update(content).set({ search: searchWith(now) }).where(ofModule));
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

/**
 * Statements that give a module written before typed tables its typed table (built from its
 * items) and drop its JSON expression indexes on `content`, which only that layout read.
 */
export async function conversionStatements(db: Db, moduleId: number, fields: FieldDefinition[]): Promise<unknown[]> {
  const legacy = (await legacyFieldIndexes(db, moduleId)).map((name) => rawStatement(db, dropIndexSql(name), "run"));
  return [...legacy, ...moduleCreatedStatements(db, moduleId, fields)];
}

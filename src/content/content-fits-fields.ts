// Whether a module's new field definitions fit the content it already has: a module edit is
// refused (409) when they would reject values existing items hold. Nothing is written here; the
// edit's batch (module-statements.ts) commits only while the content is still the one checked.
import { sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { content } from "../db/schema";
import { checkFieldValue, holdsReferences, type FieldDefinition } from "../fields/registry";
import { conflict, type ErrorDetail } from "../http/errors";
import { liveItemModules, notItemsOf, referencedIds, targetModule } from "./related";
import { liveContentBound, toPresented, toStored } from "./storage";
import { duplicateValues } from "./unique";

const SCAN_CHUNK = 2000;

/** The parts of a definition that decide which values are valid. */
const rulesOf = (f: FieldDefinition) => JSON.stringify([f.kind, f.isMulti, f.maxLength, f.options]);

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
      else if (holdsReferences(after)) relatedIds.set(id, referencedIds(after, toStored(after, checked.value)));
    }
    if (rows.length < SCAN_CHUNK) break;
    cursor = rows[rows.length - 1].id;
  }
  if (relatedIds.size) {
    const target = targetModule(after);
    const found = await liveItemModules(db, [...relatedIds.values()].flat());
    for (const [id, ids] of relatedIds) if (notItemsOf(found, target, ids).length) rejected.add(id);
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
        if (n)
          details.push({
            path: `fields[${index}].isRequired`,
            message: `'${field.name}' is a new required field but ${n} existing item${n === 1 ? " has" : "s have"} no value`,
          });
      }
      continue;
    }
    if (field.isRequired && !old.isRequired) {
      const n = await countMissing(db, moduleId, field.name);
      if (n)
        details.push({
          path: `fields[${index}].isRequired`,
          message: `'${field.name}' cannot become required: ${n} item${n === 1 ? " has" : "s have"} no value`,
        });
    }
    if (field.isUnique && (!old.isUnique || rulesOf(old) !== rulesOf(field))) {
      for (const dup of await duplicateValues(db, moduleId, field)) {
        details.push({
          path: `fields[${index}].isUnique`,
          message: `'${field.name}' cannot become unique: items ${dup.ids.join(", ")} hold ${JSON.stringify(toPresented(field, dup.value))}`,
        });
      }
    }
    if (rulesOf(old) !== rulesOf(field)) {
      const n = await countRejected(db, moduleId, old, field);
      const what = old.kind !== field.kind ? "kind" : old.isMulti !== field.isMulti ? "isMulti" : old.maxLength !== field.maxLength ? "maxLength" : "options";
      if (n)
        details.push({
          path: `fields[${index}].${what}`,
          message: `'${field.name}': ${n} item${n === 1 ? " holds a value" : "s hold values"} the new definition rejects`,
        });
    }
  }
  if (details.length) {
    throw conflict(`Existing content does not fit the new fields: ${details.map((d) => d.message).join("; ")}`, details, "content_conflict");
  }
}

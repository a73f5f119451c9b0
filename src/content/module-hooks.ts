// How module edits reach existing content. Kept here, beside the content storage it protects.
import type { FieldDefinition } from "../fields/registry";
import type { Db } from "../db/client";

/**
 * Throws a 409 when the new field definitions would reject values existing content holds
 * (a kind change, a new `isRequired`, ...). Nothing is written.
 */
export async function assertContentFitsFields(_db: Db, _moduleId: number, _before: FieldDefinition[], _after: FieldDefinition[]) {
  // Filled in by the content storage: until content exists there is nothing to protect.
}

/** Statements (run in the module update's batch) that drop the values of removed fields. */
export function removedFieldStatements(_db: Db, _moduleId: number, _before: FieldDefinition[], _after: FieldDefinition[]): any[] {
  return [];
}

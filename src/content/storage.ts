// How content is stored and how SQL reaches a field's value. See docs/storage.md.
//
// A content row keeps every field value in one JSON object (`data`, keyed by field name) in its
// *stored form*: strings for text kinds, JSON numbers for `number`, `true`/`false` for `bool`,
// `YYYY-MM-DD` for `date`, UTC `YYYY-MM-DDTHH:MM:SS.sssZ` for `stamp`, integers for `related`
// (arrays for multi fields). Items are answered from it. Queries read the module's typed table
// instead (module-model/typed-table.ts): one typed column per field, kept in step in every
// write's batch. Values are always bound parameters.
import { and, eq, isNull, sql, type SQL } from "drizzle-orm";
import { content } from "../db/schema";
import { fieldKinds, holdsReferences, isMultiField, type FieldDefinition } from "../fields/registry";
import type { Module } from "../module-model/module";
import { fieldValue, typedLayout, type TypedLayout } from "../module-model/typed-table";

const SAFE_NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

function safeName(name: string): string {
  if (!SAFE_NAME.test(name)) throw new Error(`unsafe field name ${JSON.stringify(name)}`);
  return name;
}

/** The JSON path literal of a field (`'$.country'`). */
const pathLiteral = (name: string) => `'$.${safeName(name)}'`;

/** The typed table layout of a module as it is defined now. */
export const layoutOf = (module: Pick<Module, "id" | "fields">): TypedLayout => typedLayout(module.id, module.fields);

/** Whether text comparisons (and the index) of this field are case-insensitive (NOCASE). */
export const isTextField = (field: FieldDefinition) => fieldKinds.get(field.kind)?.comparison === "text";

/**
 * The field's value in the current row of a query over the module's items: a string, number, 1/0
 * for bool, integer for related; for multi fields the JSON array text. NULL when the item has no
 * value (or one of another type than the kind stores).
 */
export const valueExpr = (module: Pick<Module, "id" | "fields">, field: FieldDefinition): SQL => fieldValue(layoutOf(module), field);

/**
 * The expression to compare, sort and group by: `valueExpr` with `COLLATE NOCASE` for text kinds
 * (text, textarea, email, url, enum, hidden), as the column's own collation and its index have it.
 */
export function compareExpr(module: Pick<Module, "id" | "fields">, field: FieldDefinition): SQL {
  return isTextField(field) ? sql`${valueExpr(module, field)} COLLATE NOCASE` : valueExpr(module, field);
}

/** Whether a field's stored values are SQL text (text kinds, dates, stamps) rather than numbers (number, bool as 1/0, related IDs). */
const storesText = (field: FieldDefinition) => ["text", "date", "stamp"].includes(fieldKinds.get(field.kind)?.comparison ?? "text");

/** Whether an element of a multi field (json_each's `type` column) has the kind's type; others match nothing. */
export function elementHasStoredType(field: FieldDefinition): SQL {
  return storesText(field) ? sql`type = 'text'` : sql`type in ('integer', 'real')`;
}

/** A multi field's number of elements: 0 when it has no value (its column holds arrays only). */
/** Non-deleted items of a module in `content` (for reads of the documents themselves). */
export const liveContentBound = (moduleId: number) => and(eq(content.moduleId, moduleId), isNull(content.deletedAt))!;

// ---------------------------------------------------------------------------------------------
// Stored form <-> API form

/** Converts a checked API value (as `checkFieldValue` answers it) into its stored form. */
export function toStored(field: FieldDefinition, value: unknown): unknown {
  if (holdsReferences(field)) {
    return Array.isArray(value) ? value.map(Number) : Number(value);
  }
  return value;
}

/** Converts a stored value into the API form (IDs as decimal strings). */
export function toPresented(field: FieldDefinition, value: unknown): unknown {
  if (holdsReferences(field)) {
    return Array.isArray(value) ? value.map((v) => String(v)) : String(value);
  }
  return value;
}

/** Whether a value counts as "no value": missing, null, "" or []. */
export const isEmptyValue = (value: unknown) => value === undefined || value === null || value === "" || (Array.isArray(value) && value.length === 0);

// ---------------------------------------------------------------------------------------------
// Search text

const FIELD_START = "\u001e";
const FIELD_END = "\u001f";

/**
 * A field's marker in the `search` column. The name is spelled in upper-case letters only, which a
 * (lower-cased) query word never contains, so words cannot match markers.
 */
export function searchMarker(name: string): string {
  let out = "";
  for (const ch of safeName(name)) {
    const code = ch.charCodeAt(0);
    out += String.fromCharCode(65 + (code >> 4), 65 + (code & 15));
  }
  return FIELD_START + out + FIELD_END;
}

/** Lower-cases for search (full Unicode, NFC); marker characters become spaces. */
export const searchFold = (text: string) =>
  text
    .normalize("NFC")
    .toLowerCase()
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the point: the separators the search text uses are blanked out of values
    .replace(/[\u001e\u001f]/g, " ");

/**
 * The `search` column of an item: for each text-like field with a value, its marker followed by
 * the lower-cased value (multi values joined by newlines).
 */
export function searchText(fields: FieldDefinition[], data: Record<string, unknown>): string {
  let out = "";
  for (const field of fields) {
    if (!fieldKinds.get(field.kind)?.textLike) continue;
    const value = Object.hasOwn(data, field.name) ? data[field.name] : undefined;
    if (isEmptyValue(value)) continue;
    const text = Array.isArray(value) ? value.map(String).join("\n") : String(value);
    out += searchMarker(field.name) + searchFold(text);
  }
  return out;
}

/** SQL that removes one field's segment from the `search` column. */
export function searchWithout(name: string): SQL {
  const marker = searchMarker(name);
  const col = sql`${sql.identifier("search")}`;
  const at = sql`instr(${col}, ${marker})`;
  const rest = sql`substr(${col}, ${at} + 1)`;
  return sql`case when ${at} = 0 then ${col} else substr(${col}, 1, ${at} - 1) || (case when instr(${rest}, char(30)) = 0 then '' else substr(${rest}, instr(${rest}, char(30))) end) end`;
}

/** SQL that appends one field's segment (ASCII lower-casing; used for values that are ASCII). */
export function searchWith(field: FieldDefinition): SQL {
  const col = sql`${sql.identifier("search")}`;
  const path = sql.raw(pathLiteral(field.name));
  const text = isMultiField(field)
    ? sql`(select group_concat(lower(value), char(10)) from json_each(${sql.identifier("data")}, ${path}))`
    : sql`lower(json_extract(${sql.identifier("data")}, ${path}))`;
  return sql`case when ${text} is null or ${text} = '' then ${col} else ${col} || ${searchMarker(field.name)} || ${text} end`;
}

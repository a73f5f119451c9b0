// How content is stored and how SQL reaches a field's value. See docs/storage.md.
//
// A content row keeps every field value in one JSON object (`data`, keyed by field name) in its
// *stored form*: strings for text kinds, JSON numbers for `number`, `true`/`false` for `bool`,
// `YYYY-MM-DD` for `date`, UTC `YYYY-MM-DDTHH:MM:SS.sssZ` for `stamp`, integers for `related`
// (arrays for multi fields). Each single-valued field of a module (but textarea, and within a
// global budget, see MAX_FIELD_INDEXES) has a partial expression index
//   (module_id, json_extract(data, '$.<name>') [COLLATE NOCASE], id)
//   WHERE module_id = <moduleId> AND deleted_at IS NULL
// created when the module is created or edited. Queries use the very same expressions (through
// `valueExpr`/`compareExpr`) and the very same live condition (`liveContentWhere`), so SQLite's
// planner matches them to those indexes. Field names are spliced into SQL only after they were
// matched against the module definition (they match ^[A-Za-z][A-Za-z0-9_]{0,63}$); module IDs only
// as validated safe integers. Values are always bound parameters.
import { and, eq, isNull, sql, type SQL } from "drizzle-orm";
import type { Db } from "../db/client";
import { content } from "../db/schema";
import { fieldKinds, isMultiField, type FieldDefinition } from "../fields/registry";

const SAFE_NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

function safeName(name: string): string {
  if (!SAFE_NAME.test(name)) throw new Error(`unsafe field name ${JSON.stringify(name)}`);
  return name;
}

function safeId(id: number): string {
  if (!Number.isSafeInteger(id) || id <= 0) throw new Error(`unsafe module id ${id}`);
  return String(id);
}

/** The JSON path literal of a field (`'$.country'`), as written in queries and index definitions. */
const pathLiteral = (name: string) => `'$.${safeName(name)}'`;

/** Whether text comparisons (and the index) of this field are case-insensitive (NOCASE). */
export const isTextField = (field: FieldDefinition) => fieldKinds.get(field.kind)?.comparison === "text";

/**
 * The field's stored value in a row of `content`: a string, number, 1/0 for bool, integer for
 * related; for multi fields the JSON array text. NULL when the item has no value.
 */
export function valueExpr(field: FieldDefinition | string): SQL {
  const name = typeof field === "string" ? field : field.name;
  return sql`json_extract(${content.data}, ${sql.raw(pathLiteral(name))})`;
}

/**
 * The expression to compare, sort and group by: `valueExpr` with `COLLATE NOCASE` for text kinds
 * (text, textarea, email, url, enum, hidden), which is exactly the expression the field's index
 * holds, so ORDER BY / GROUP BY / WHERE on it are answered from the index.
 */
export function compareExpr(field: FieldDefinition): SQL {
  return isTextField(field) ? sql`${valueExpr(field)} COLLATE NOCASE` : valueExpr(field);
}

// ---------------------------------------------------------------------------------------------
// Values of another type than their field's kind
//
// The service only stores values that fit their field, but a value written behind its back (or
// by a version with a bug) must not turn a listing into a 500, nor match comparisons it only
// matches by accident of SQLite's cross-type ordering (NULL < numbers < text): it reads as a
// missing value. These tests look at `valueExpr` only, which a field's index holds, so they are
// answered from the index without reading the row.

/** Whether a field's stored values are SQL text (text kinds, dates, stamps) rather than numbers (number, bool as 1/0, related IDs). */
export const storesText = (field: FieldDefinition) => ["text", "date", "stamp"].includes(fieldKinds.get(field.kind)?.comparison ?? "text");

/**
 * The current row's value of a single-valued field has the SQL type its kind stores. Written over
 * `compareExpr`, collation included: SQLite reads an indexed expression from the index only when
 * it is spelled as the index spells it.
 */
export function hasStoredType(field: FieldDefinition): SQL {
  const v = compareExpr(field);
  return storesText(field) ? sql`typeof(${v}) = 'text'` : sql`typeof(${v}) in ('integer', 'real')`;
}

/** The same test for an element of a multi field, by `json_each`'s `type` column. */
export function elementHasStoredType(field: FieldDefinition): SQL {
  return storesText(field) ? sql`type = 'text'` : sql`type in ('integer', 'real')`;
}

/**
 * Values of the SQL type the field's kind stores, as a range on `x` (`compareExpr`, or the same
 * value spelled otherwise) that the field's index serves: numbers sort before all text, so a
 * numeric kind's values are those below '' and a text kind's those from '' on. NULL is in neither.
 */
export function ownTypeRange(field: FieldDefinition, x: SQL = compareExpr(field)): SQL {
  return storesText(field) ? sql`${x} >= ''` : sql`${x} < ''`;
}

/** The complement of `ownTypeRange` among values: those of another type, found by an index seek. */
export function wrongTypeRange(field: FieldDefinition): SQL {
  return storesText(field) ? sql`${compareExpr(field)} < ''` : sql`${compareExpr(field)} >= ''`;
}

/** A single-valued field's sort key in which values of another type read as missing (NULL). */
export function sortKeyExpr(field: FieldDefinition): SQL {
  const key = sql`(case when ${hasStoredType(field)} then ${valueExpr(field)} end)`;
  return isTextField(field) ? sql`${key} COLLATE NOCASE` : key;
}

/**
 * A multi field's stored array, NULL when the stored value is anything else (a scalar, an
 * object, text that is not JSON): `json_each` over it never raises and never sees a non-element.
 */
export function arrayExpr(field: FieldDefinition): SQL {
  const path = sql.raw(pathLiteral(field.name));
  return sql`(case when json_type(${content.data}, ${path}) = 'array' then json_extract(${content.data}, ${path}) end)`;
}

/** A multi field's number of elements: 0 when it has no value or the value is not an array. */
export function elementCount(field: FieldDefinition): SQL {
  return sql`coalesce(json_array_length(${content.data}, ${sql.raw(pathLiteral(field.name))}), 0)`;
}

/**
 * Non-deleted items of a module. The module ID is a literal (a validated integer), not a bound
 * parameter, so the condition matches the WHERE clause of the module's partial indexes.
 */
export function liveContentWhere(moduleId: number): SQL {
  return sql`${content.moduleId} = ${sql.raw(safeId(moduleId))} and ${content.deletedAt} is null`;
}

/** The same condition with a bound module ID, for statements where no field index matters. */
export const liveContentBound = (moduleId: number) => and(eq(content.moduleId, moduleId), isNull(content.deletedAt))!;

// ---------------------------------------------------------------------------------------------
// Stored form <-> API form

/** Converts a checked API value (as `checkFieldValue` answers it) into its stored form. */
export function toStored(field: FieldDefinition, value: unknown): unknown {
  if (field.kind === "related" || field.kind === "related_multi") {
    return Array.isArray(value) ? value.map(Number) : Number(value);
  }
  return value;
}

/** Converts a stored value into the API form (IDs as decimal strings). */
export function toPresented(field: FieldDefinition, value: unknown): unknown {
  if (field.kind === "related" || field.kind === "related_multi") {
    return Array.isArray(value) ? value.map((v) => String(v)) : String(value);
  }
  return value;
}

/** Whether a value counts as "no value": missing, null, "" or []. */
export const isEmptyValue = (value: unknown) =>
  value === undefined || value === null || value === "" || (Array.isArray(value) && value.length === 0);

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
export const searchFold = (text: string) => text.normalize("NFC").toLowerCase().replace(/[\u001e\u001f]/g, " ");

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

// ---------------------------------------------------------------------------------------------
// Per-field indexes (dynamic DDL)

/**
 * The index name of a field: module, lower-cased name, and a hash of the exact expression (name
 * and collation), so a field renamed in case or changed between text and non-text gets a new index.
 */
export function indexName(moduleId: number, field: FieldDefinition): string {
  const key = `${safeName(field.name)}:${isTextField(field) ? "nocase" : "binary"}`;
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193) >>> 0;
  return `cx_${safeId(moduleId)}_${field.name.toLowerCase()}_${h.toString(36)}`;
}

/**
 * Single-valued fields get an index, except `textarea` (long free text: big index entries, rarely
 * an exact filter or a sort key). Multi fields are JSON arrays, which an index cannot serve.
 */
export const isIndexed = (field: FieldDefinition) => !isMultiField(field) && field.kind !== "textarea";

/**
 * Most per-field indexes on `content`, all modules together. SQLite opens a cursor on every index
 * of a table for each INSERT (and for each UPDATE touching `data`/`deleted_at`), a cost that grows
 * faster than linearly: measured per insert ~50 µs at 100 indexes, ~1 ms at 400, ~5 ms at 1,000.
 * Fields past the budget are not indexed; their filters and sorts still work, by scanning.
 */
export const MAX_FIELD_INDEXES = 500;

export function createIndexSql(moduleId: number, field: FieldDefinition): SQL {
  const expr = `json_extract("data", ${pathLiteral(field.name)})${isTextField(field) ? " COLLATE NOCASE" : ""}`;
  return sql.raw(
    `CREATE INDEX IF NOT EXISTS "${indexName(moduleId, field)}" ON "content" ("module_id", ${expr}, "id") ` +
      `WHERE "module_id" = ${safeId(moduleId)} AND "deleted_at" IS NULL`,
  );
}

export const dropIndexSql = (name: string) => sql.raw(`DROP INDEX IF EXISTS "${name.replace(/[^A-Za-z0-9_]/g, "")}"`);

/** Names of the existing per-field indexes (all modules). */
export async function existingFieldIndexes(db: Db): Promise<string[]> {
  const rows = await db.all<{ name: string }>(sql`select name from sqlite_master where type = 'index' and substr(name, 1, 3) = 'cx_'`);
  return rows.map((r) => r.name);
}

/**
 * DDL that gives a module exactly the indexes its fields should have: drops the module's indexes
 * no field wants any more, creates the missing ones (in field order, within MAX_FIELD_INDEXES).
 * `existing` lists every per-field index (`existingFieldIndexes`).
 */
export function indexDdl(moduleId: number, fields: FieldDefinition[], existing: string[]): SQL[] {
  const own = `cx_${safeId(moduleId)}_`;
  const others = existing.filter((n) => !n.startsWith(own)).length;
  const budget = Math.max(0, MAX_FIELD_INDEXES - others);
  const wanted = new Map(
    fields
      .filter(isIndexed)
      .slice(0, budget)
      .map((f) => [indexName(moduleId, f), f]),
  );
  const out: SQL[] = [];
  for (const name of existing) if (name.startsWith(own) && !wanted.has(name)) out.push(dropIndexSql(name));
  for (const [name, field] of wanted) if (!existing.includes(name)) out.push(createIndexSql(moduleId, field));
  return out;
}

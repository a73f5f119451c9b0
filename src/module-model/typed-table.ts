// The typed table of a module: what listings, counts and charts read. See docs/storage.md.
//
// `content` keeps each item's values as one JSON document (`data`), the form items are answered
// and validated in. Next to it, each module has a STRICT table `c_<moduleID>` with one row per
// *live* item and one typed column per field:
//
//   c_7 (id INTEGER PRIMARY KEY, user_id TEXT, created_at TEXT, updated_at TEXT,
//        f_name TEXT COLLATE NOCASE, f_value REAL, f_active INTEGER, f_closedate TEXT, f_tags TEXT, ...)
//
// A row is a pure function of its `content` row and the module's fields (`typedValue` below), so
// every write re-derives it in the write's own batch (`syncItemStatements`) and every module edit
// that changes the columns rebuilds the table in the edit's batch (`rebuildStatements`). Queries
// read only the columns they need, mostly from indexes: one per single-valued field, and covering
// pairs (dimension, number) that answer grouped sums and filtered, sorted pages without touching
// rows. Values of the wrong type for their kind never reach a column (they read as missing, as
// they always did), so comparisons need no type guards.
//
// Table and column names are built from validated module IDs and field names (which match
// ^[A-Za-z][A-Za-z0-9_]{0,63}$ and are unique case-insensitively), never from other client text.
import { sql, type SQL } from "drizzle-orm";
import { fieldKinds, isMultiField, type FieldDefinition } from "../fields/registry";
import { D1_MAX_COLUMNS_PER_TABLE } from "../platform/limits";
import { ident, toQuery } from "../db/raw";

/** id, user_id, created_at, updated_at. */
const SYSTEM_COLUMNS = 4;
/**
 * Fields with a column: the first 96 of a module (MAX_FIELDS is 100, D1 allows 100 columns). The
 * rest are read from the item's JSON document through a join, a slower path but the same answers.
 */
export const MAX_TYPED_COLUMNS = D1_MAX_COLUMNS_PER_TABLE - SYSTEM_COLUMNS;
/**
 * Most indexes of one typed table. SQLite updates each index of a table on every insert, so this
 * bounds the cost of a write whatever the module looks like (a single-field index each for up to
 * 96 fields would make a create several times slower).
 */
export const MAX_TYPED_INDEXES = 48;
/** Most number fields paired with each dimension field in covering indexes. */
const MAX_PAIRED_NUMBERS = 4;

/** Kinds a chart groups by and a list filters on with `eq`: few distinct values, often grouped. */
const DIMENSION_KINDS = new Set(["enum", "bool", "related", "date", "stamp"]);

type TypedColumn = {
  field: FieldDefinition;
  /** The column's name in `c_<module>`. */
  name: string;
  /** Its STRICT type (text kinds compare case-insensitively through the column's collation). */
  type: "TEXT COLLATE NOCASE" | "TEXT" | "REAL" | "INTEGER";
  multi: boolean;
};

/** `unique`: the index of an `isUnique` field, which refuses a second live item with its value. */
type TypedIndex = { name: string; columns: string[]; unique?: boolean };

export type TypedLayout = {
  table: string;
  columns: TypedColumn[];
  /** By field name, exactly as defined. */
  byField: Map<string, TypedColumn>;
  indexes: TypedIndex[];
};

const safeModuleId = (id: number) => {
  if (!Number.isSafeInteger(id) || id <= 0) throw new Error(`unsafe module id ${id}`);
  return id;
};

const typedTableName = (moduleId: number) => `c_${safeModuleId(moduleId)}`;

/**
 * The module's full-text index of its items' search text (FTS5, trigram tokens, case-sensitive
 * over the already lower-cased text): `query` words of three characters or more are found
 * through it instead of a scan. Rowid = item id.
 */
export const searchTableName = (moduleId: number) => `s_${safeModuleId(moduleId)}`;

const comparisonOf = (field: FieldDefinition) => fieldKinds.get(field.kind)?.comparison ?? "text";

function columnType(field: FieldDefinition): TypedColumn["type"] {
  if (isMultiField(field)) return "TEXT"; // the JSON array
  switch (comparisonOf(field)) {
    case "text":
      return "TEXT COLLATE NOCASE";
    case "number":
      return "REAL";
    case "bool":
    case "id":
      return "INTEGER";
    default:
      return "TEXT"; // date YYYY-MM-DD, stamp UTC YYYY-MM-DDTHH:MM:SS.sssZ: text order is time order
  }
}

const isIndexedColumn = (c: TypedColumn) => !c.multi && c.field.kind !== "textarea";

const layouts = new WeakMap<FieldDefinition[], TypedLayout>();

/** The table, columns and indexes a module with these fields has. Memoised per fields array. */
export function typedLayout(moduleId: number, fields: FieldDefinition[]): TypedLayout {
  const known = layouts.get(fields);
  if (known && known.table === typedTableName(moduleId)) return known;
  const columns: TypedColumn[] = fields.slice(0, MAX_TYPED_COLUMNS).map((field) => ({
    field,
    name: `f_${field.name.toLowerCase()}`,
    type: columnType(field),
    multi: isMultiField(field),
  }));
  const table = typedTableName(moduleId);
  const indexes: TypedIndex[] = [];
  const nameOf = (cols: string[]) => `${table}__${cols.join("__").replace(/^f_/, "").replace(/__f_/g, "__")}`;
  const add = (cols: string[]) => {
    if (indexes.length < MAX_TYPED_INDEXES) indexes.push({ name: nameOf(cols), columns: cols });
  };
  // Unique fields first and past the cap: the index is what enforces them (and serves their queries).
  const single = columns.filter(isIndexedColumn);
  const unique = single.filter((c) => c.field.isUnique);
  for (const c of unique) indexes.push({ name: nameOf([c.name]), columns: [c.name], unique: true });
  // Sorting by creation or change time is the most common sort after id.
  add(["created_at"]);
  add(["updated_at"]);
  for (const c of single) if (!c.field.isUnique) add([c.name]);
  const numbers = single.filter((c) => c.type === "REAL").slice(0, MAX_PAIRED_NUMBERS);
  for (const d of single.filter((c) => DIMENSION_KINDS.has(c.field.kind))) for (const n of numbers) add([d.name, n.name]);
  const layout = { table, columns, byField: new Map(columns.map((c) => [c.field.name, c])), indexes };
  layouts.set(fields, layout);
  return layout;
}

/** Whether two field lists give the typed table the same columns (then no rebuild is needed). */
export function sameColumns(moduleId: number, a: FieldDefinition[], b: FieldDefinition[]): boolean {
  const key = (fields: FieldDefinition[]) => {
    const l = typedLayout(moduleId, fields);
    // The exact name too: values are read from the document by it (a rename in case moves them).
    return JSON.stringify([l.columns.map((c) => [c.name, c.field.name, c.type, c.field.kind, c.multi]), l.indexes]);
  };
  return key(a) === key(b);
}

// ---------------------------------------------------------------------------------------------
// A field's value in SQL

/** The JSON types a field's stored value may have; any other reads as missing. */
function storedJsonTypes(field: FieldDefinition): string {
  if (isMultiField(field)) return "'array'";
  switch (comparisonOf(field)) {
    case "number":
      return "'integer', 'real'";
    case "bool":
      return "'true', 'false'";
    case "id":
      return "'integer'";
    default:
      return "'text'";
  }
}

/**
 * The field's typed value read from a JSON document `data`: what its column holds. A value of
 * another JSON type than the kind stores (written behind the service's back) is NULL, missing.
 */
export function typedValue(data: SQL, field: FieldDefinition): SQL {
  const path = sql.raw(`'$.${field.name}'`); // a validated field name
  return sql`(case when json_type(${data}, ${path}) in (${sql.raw(storedJsonTypes(field))}) then json_extract(${data}, ${path}) end)`;
}

/** The alias of the typed table in every query over it. */
export const ITEM = sql.raw(`"item"`);
/** The alias of `content` when a query also needs the document (search text, fields past the columns). */
export const DOC = sql.raw(`"doc"`);

/** A system column of the typed row. */
export const itemColumn = (name: "id" | "user_id" | "created_at" | "updated_at") => sql`${ITEM}.${ident(name)}`;

/**
 * The field's value in the current row: its column, or for a field past MAX_TYPED_COLUMNS the same
 * typed value read from the document (the query then joins `content` as `doc`).
 */
export function fieldValue(layout: TypedLayout, field: FieldDefinition): SQL {
  const column = layout.byField.get(field.name);
  return column ? sql`${ITEM}.${ident(column.name)}` : typedValue(sql`${DOC}."data"`, field);
}

/** Whether the field has an index of its own (a sort by it can walk it in order). */
export const hasOwnIndex = (layout: TypedLayout, field: FieldDefinition) => {
  const column = layout.byField.get(field.name);
  return column !== undefined && layout.indexes.some((i) => i.columns.length === 1 && i.columns[0] === column.name);
};

/** Whether a condition reads the item's document (query words, fields past the typed columns): the `doc` alias. */
export const needsDocument = (condition: SQL) => toQuery(condition).sql.includes(`"doc".`);

/**
 * FROM for a query over the module's live items. `needsDocument` joins `content` (by primary key,
 * the typed row driving: CROSS JOIN keeps SQLite from reordering the two).
 */
export function itemsFrom(layout: TypedLayout, needsDocument: boolean): SQL {
  const typed = sql`${ident(layout.table)} as ${ITEM}`;
  return needsDocument ? sql`${typed} cross join "content" as ${DOC} on ${DOC}."id" = ${ITEM}."id"` : typed;
}

// ---------------------------------------------------------------------------------------------
// Statements that keep the typed table in step (each runs inside the write's or edit's batch)

const columnList = (layout: TypedLayout) => sql.join([sql`"id", "user_id", "created_at", "updated_at"`, ...layout.columns.map((c) => ident(c.name))], sql`, `);

const derivedRow = (layout: TypedLayout) =>
  sql.join([sql`"id", "user_id", "created_at", "updated_at"`, ...layout.columns.map((c) => typedValue(sql`"data"`, c.field))], sql`, `);

/**
 * Derives the typed rows of the `content` rows matching `where` (a condition on `content`'s own
 * columns): one item's, or a whole import's in one statement.
 */
export const insertTypedRows = (layout: TypedLayout, where: SQL): SQL =>
  sql`insert into ${ident(layout.table)} (${columnList(layout)}) select ${derivedRow(layout)} from "content" where ${where}`;

/** The full-text entries of the `content` rows matching `where`. */
export const insertSearchRows = (moduleId: number, where: SQL): SQL =>
  sql`insert into ${ident(searchTableName(moduleId))} ("rowid", "search") select "id", "search" from "content" where ${where}`;

/**
 * Re-derives the typed row and the search entry of one item from its `content` row: written
 * when the item is live, removed otherwise. Idempotent; `id` may be `last_insert_rowid()` (each
 * statement here inserts that same id again, so it keeps naming the item).
 */
export function syncItemStatements(moduleId: number, layout: TypedLayout, id: SQL | number): SQL[] {
  const live = sql`"id" = ${id} and "module_id" = ${sql.raw(String(safeModuleId(moduleId)))} and "deleted_at" is null`;
  const search = ident(searchTableName(moduleId));
  return [
    // Delete, then insert (not INSERT OR REPLACE, which would let a unique index delete the other
    // item's row instead of refusing the write).
    sql`delete from ${ident(layout.table)} where "id" = ${id}`,
    insertTypedRows(layout, live),
    sql`delete from ${search} where "rowid" = ${id}`,
    insertSearchRows(moduleId, live),
  ];
}

/** Removes one item's typed row and search entry (the item was deleted). */
export const dropItemStatements = (moduleId: number, layout: TypedLayout, id: number): SQL[] => [
  sql`delete from ${ident(layout.table)} where "id" = ${id}`,
  sql`delete from ${ident(searchTableName(moduleId))} where "rowid" = ${id}`,
];

/** Drop the typed table (with its indexes) and the search index. */
export const dropTableStatements = (moduleId: number): SQL[] => [
  sql`drop table if exists ${ident(typedTableName(moduleId))}`,
  sql`drop table if exists ${ident(searchTableName(moduleId))}`,
];

/**
 * Creates the table afresh from the module's live items, then its indexes (built after the rows:
 * faster than keeping them up to date row by row). One batch at 100,000 items takes a few seconds,
 * within D1's 30 s per batch up to about a million items per module.
 */
export function rebuildStatements(moduleId: number, fields: FieldDefinition[]): SQL[] {
  const layout = typedLayout(moduleId, fields);
  const m = safeModuleId(moduleId);
  const columns = sql.join(
    [
      sql`"id" INTEGER PRIMARY KEY, "user_id" TEXT NOT NULL, "created_at" TEXT NOT NULL, "updated_at" TEXT NOT NULL`,
      ...layout.columns.map((c) => sql`${ident(c.name)} ${sql.raw(c.type)}`),
    ],
    sql`, `,
  );
  const live = sql`"module_id" = ${sql.raw(String(m))} and "deleted_at" is null`;
  const search = ident(searchTableName(moduleId));
  return [
    ...dropTableStatements(moduleId),
    sql`create table ${ident(layout.table)} (${columns}) strict`,
    sql`insert into ${ident(layout.table)} (${columnList(layout)}) select ${derivedRow(layout)} from "content" where ${live}`,
    ...layout.indexes.map(
      (i) =>
        sql`create ${sql.raw(i.unique ? "unique index" : "index")} ${ident(i.name)} on ${ident(layout.table)} (${sql.join(i.columns.map(ident), sql`, `)})`,
    ),
    sql`create virtual table ${search} using fts5("search", tokenize = 'trigram case_sensitive 1')`,
    sql`insert into ${search} ("rowid", "search") select "id", "search" from "content" where ${live}`,
  ];
}

// The names a filter, a sort or a chart may use for an item's values, resolved against its
// module: the module's fields (matched exactly, else case-insensitively) and the item's own
// columns id, createdAt, updatedAt and userID (matched case-insensitively). Filter and sort use
// a resolved name as it is; charts add what they need on top (a label, a date bucket).
//
// A resolved name is plain data (charts key their result cache by it); the SQL that reads its
// value in a query over the module's typed rows comes from the functions below.
import { sql, type SQL } from "drizzle-orm";
import { fieldKinds, isMultiField, type Comparison, type FieldDefinition } from "../fields/registry";
import { fieldNamed, type Module } from "../module-model/module";
import { hasOwnIndex, itemColumn } from "../module-model/typed-table";
import { compareExpr, layoutOf, valueExpr } from "./storage";

/** The item's own columns, as filters, sorts and charts name them. */
export type OwnColumn = "id" | "userID" | "createdAt" | "updatedAt";

/** A name resolved against a module: one of its fields, or one of the item's own columns. */
export type ResolvedField = {
  /** The name as defined: the field's own spelling, or id, userID, createdAt, updatedAt. */
  name: string;
  /** The field kind (`number`, `enum`, ...); `id` for the item's ID and userID, `stamp` for its times. */
  kind: string;
  comparison: Comparison;
  /** Whether the value is an array (a multi field). */
  multi: boolean;
  /** The module field; absent for the item's own columns. */
  definition?: FieldDefinition;
  /** The own column; absent for module fields. */
  builtin?: OwnColumn;
};

const own = (builtin: OwnColumn, kind: "id" | "stamp"): ResolvedField => ({ name: builtin, kind, comparison: kind, multi: false, builtin });

/** By lower-cased name. */
const OWN_COLUMNS: Record<string, ResolvedField> = {
  id: own("id", "id"),
  userid: own("userID", "id"),
  createdat: own("createdAt", "stamp"),
  updatedat: own("updatedAt", "stamp"),
};

/** The typed row's column of each own column. */
const OWN_SQL_COLUMN = { id: "id", userID: "user_id", createdAt: "created_at", updatedAt: "updated_at" } as const;

/** Resolves a name; undefined when the module has no such field (and it names no own column). */
export function resolveField(module: Module, name: string): ResolvedField | undefined {
  const definition = fieldNamed(module, name);
  if (definition) {
    return {
      name: definition.name,
      kind: definition.kind,
      comparison: fieldKinds.get(definition.kind)?.comparison ?? "text",
      multi: isMultiField(definition),
      definition,
    };
  }
  // Own keys only: a name like `constructor` or `__proto__` must not reach Object.prototype.
  const key = name.toLowerCase();
  return Object.hasOwn(OWN_COLUMNS, key) ? OWN_COLUMNS[key] : undefined;
}

/** Every name `resolveField` knows, for "unknown field" answers. */
export const knownFieldNames = (module: Module) => [...module.fields.map((f) => f.name), "id", "createdAt", "updatedAt", "userID"];

/**
 * The value in the current typed row as stored: a module field's column (for multi fields the
 * JSON array; module-model/typed-table.ts `fieldValue`), or the own column itself (userID: the
 * text it is stored as). What charts group, count and plot.
 */
export function storedValue(module: Module, ref: ResolvedField): SQL {
  return ref.builtin ? itemColumn(OWN_SQL_COLUMN[ref.builtin]) : valueExpr(module, ref.definition!);
}

/** The value filters compare: as stored, but userID (a text column) as the integer ID it spells. */
export function comparedValue(module: Module, ref: ResolvedField): SQL {
  return ref.builtin === "userID" ? sql`cast(${itemColumn("user_id")} as integer)` : storedValue(module, ref);
}

/**
 * `comparedValue`, with COLLATE NOCASE for text kinds as the field's column and index have it:
 * what filters compare single values with, sorts order by and charts group text by.
 */
export function orderedValue(module: Module, ref: ResolvedField): SQL {
  return ref.definition ? compareExpr(module, ref.definition) : comparedValue(module, ref);
}

/** Whether the value has an index of its own in the module's typed table (userID has none). */
export function hasIndex(module: Module, ref: ResolvedField): boolean {
  return ref.definition ? hasOwnIndex(layoutOf(module), ref.definition) : ref.builtin !== "userID";
}

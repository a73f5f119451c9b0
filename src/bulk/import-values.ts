// From a file's row to the `fields` input the content API validates (docs/api/import-export.md, "Import" → "Values").
// JSON and NDJSON values are passed on exactly as a JSON body's would be. A CSV cell is text, so
// it is first read as the JSON value its field's kind takes (a number, true/false, an array for a
// multi field); the value then goes through the same checks as a `POST .../content`.
import { holdsReferences, isMultiField, uniqueProblem, type FieldDefinition } from "../fields/registry";
import type { Module } from "../module-model/module";
import { isTextField } from "../content/storage";
import { MAX_TYPED_COLUMNS } from "../module-model/typed-table";
import type { ImportFormat, ImportSpec } from "../jobs/import-job";
import type { RowProblem, StoredRecord } from "./import-model";

/**
 * `key=contentID`: the rows name the items they update by their own IDs (an export's `contentID`
 * column). No field can be called that (a reserved name), so it marks the ID column in a spec.
 */
export const ID_KEY = "contentID";

/** Columns an import never maps: the two a report adds (`_row`, `_error`; no field name starts with `_`). */
export const REPORT_COLUMNS = ["_row", "_error"] as const;

/** Separator of multi values written as plain text in a CSV cell (`a|b|c`); a cell may also hold a JSON array. */
const MULTI_SEPARATOR = "|";

/** A column of the file and the field it fills. */
type MappedColumn = { index: number; column: string; field: FieldDefinition };

/** The import's columns resolved against the module as it is now. */
export type ImportPlan = {
  module: Module;
  format: ImportFormat;
  mapped: MappedColumn[];
  /** Field name → the column that fills it. */
  columnOf: Map<string, string>;
  key: FieldDefinition | null;
  /** With `key=contentID`: the column holding the items' IDs. */
  idColumn: number | null;
  /** The key's column in the file (a key field's, or the ID column), for messages. */
  keyColumn: string | null;
};

/** A spec that no longer fits its module (a mapped field was removed or changed kind). */
export class PlanError extends Error {}

/**
 * Whether a field can be an import's key: looked up through its typed column and index, so a
 * single-valued field of a kind `isUnique` accepts, with a column of its own.
 */
export function keyProblem(module: Module, field: FieldDefinition): string | undefined {
  if (uniqueProblem(field))
    return `a key is a single-valued text, email, url, enum, hidden, number, date or stamp field, not ${isMultiField(field) ? "a multi" : field.kind} field`;
  if (module.fields.indexOf(field) >= MAX_TYPED_COLUMNS)
    return `a key must be one of the module's first ${MAX_TYPED_COLUMNS} fields (it is looked up through its column)`;
  return undefined;
}

export function planImport(module: Module, spec: ImportSpec): ImportPlan {
  const byName = new Map(module.fields.map((f) => [f.name, f]));
  const mapped: MappedColumn[] = [];
  const columnOf = new Map<string, string>();
  let idColumn: number | null = null;
  spec.fields.forEach((name, index) => {
    if (name === null) return;
    if (name === ID_KEY) {
      idColumn = index;
      return;
    }
    const field = byName.get(name);
    if (!field) throw new PlanError(`field '${name}' (column '${spec.columns[index]}') no longer exists in module ${module.id}`);
    mapped.push({ index, column: spec.columns[index], field });
    columnOf.set(name, spec.columns[index]);
  });
  let key: FieldDefinition | null = null;
  if (spec.key !== null && spec.key !== ID_KEY) {
    key = byName.get(spec.key) ?? null;
    if (!key) throw new PlanError(`the key field '${spec.key}' no longer exists in module ${module.id}`);
    const problem = keyProblem(module, key);
    if (problem) throw new PlanError(`the key field '${spec.key}' can no longer be a key: ${problem}`);
  }
  const keyColumn = idColumn !== null ? spec.columns[idColumn] : key ? (columnOf.get(key.name) ?? null) : null;
  return { module, format: spec.format, mapped, columnOf, key, idColumn, keyColumn };
}

type Read = { ok: true; value: unknown } | { ok: false; message: string };

const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/**
 * Strips the `'` a CSV export puts before text that a spreadsheet would run as a formula: exactly
 * one leading `'` of text matching /^'+[=+\-@\t\r]/ (csv.ts `neutraliseFormula` writes `'=x` for
 * `=x` and `''=x` for `'=x`).
 */
const unneutralise = (text: string) => (/^'+[=+\-@\t\r]/.test(text) ? text.slice(1) : text);

/** Whether the kind's values are strings (text kinds, dates, stamps, IDs): what the leading `'` applies to. */
const takesText = (field: FieldDefinition) => field.kind !== "number" && field.kind !== "bool";

/** One element's text as the JSON value of the field's kind (numbers and booleans parsed; the rest stays text). */
function readScalar(field: FieldDefinition, text: string): Read {
  if (field.kind === "number") {
    const t = text.trim();
    return DECIMAL.test(t) ? { ok: true, value: Number(t) } : { ok: false, message: `must be a number (like 1200 or -3.5), not ${JSON.stringify(clip(text))}` };
  }
  if (field.kind === "bool") {
    const t = text.trim().toLowerCase();
    if (t === "true" || t === "false") return { ok: true, value: t === "true" };
    return { ok: false, message: `must be true or false, not ${JSON.stringify(clip(text))}` };
  }
  if (holdsReferences(field)) return { ok: true, value: text.trim() };
  return { ok: true, value: text };
}

const clip = (text: string) => (text.length > 40 ? `${text.slice(0, 40)}…` : text);

/**
 * A CSV cell as the JSON value the field takes. Empty: no value. A multi field's cell is a JSON
 * array (`["a","b"]`, as exports write it) or values separated by `|` (`a|b`); each element is
 * read like a single cell.
 */
function readCell(field: FieldDefinition, cell: string): Read {
  if (cell === "") return { ok: true, value: null };
  if (!isMultiField(field)) return readScalar(field, takesText(field) ? unneutralise(cell) : cell);
  const trimmed = cell.trim();
  let parts: unknown[];
  if (trimmed.startsWith("[")) {
    try {
      const parsed = JSON.parse(trimmed);
      if (!Array.isArray(parsed)) return { ok: false, message: "must be a JSON array or values separated by |" };
      parts = parsed;
    } catch {
      return { ok: false, message: `must be a JSON array (like ["a","b"]) or values separated by ${MULTI_SEPARATOR}; it starts with [ but is not JSON` };
    }
  } else {
    parts = cell
      .split(MULTI_SEPARATOR)
      .map((p) => p.trim())
      .filter((p) => p !== "");
  }
  const out: unknown[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    if (typeof part !== "string") {
      out.push(part); // a JSON number or boolean: as the API takes it
      continue;
    }
    const read = readScalar(field, part);
    if (!read.ok) return { ok: false, message: `item ${i}: ${read.message}` };
    out.push(read.value);
  }
  return { ok: true, value: out };
}

/** A row's `fields` input (field → value), and the cells that could not be read. */
export function rowInput(plan: ImportPlan, record: StoredRecord): { input: Record<string, unknown>; problems: RowProblem[] } {
  const input: Record<string, unknown> = {};
  const problems: RowProblem[] = [];
  for (const { index, column, field } of plan.mapped) {
    const cell = record[index];
    if (cell === undefined) continue; // a JSON object without this key: the field is left out
    if (plan.format !== "csv") {
      input[field.name] = cell;
      continue;
    }
    const read = readCell(field, String(cell));
    if (read.ok) input[field.name] = read.value;
    else problems.push({ column, message: read.message });
  }
  return { input, problems };
}

/** A problem of the content validation (`fields.<name>`) in the import's words: which column. */
export function problemOf(plan: ImportPlan, detail: { path: string; message: string }): RowProblem {
  const name = detail.path.startsWith("fields.") ? detail.path.slice("fields.".length) : null;
  if (name === null) return { column: null, message: detail.message };
  const column = plan.columnOf.get(name);
  return column !== undefined ? { column, message: detail.message } : { column: null, message: `field '${name}' (no column in the file): ${detail.message}` };
}

/**
 * The key as the key field's column compares it: text kinds fold ASCII letters (the column's
 * NOCASE collation), numbers by value, dates and stamps as stored (stamps are UTC already).
 */
export function foldKey(field: FieldDefinition, stored: unknown): string | null {
  if (stored === null || stored === undefined || stored === "") return null;
  if (typeof stored === "number") return JSON.stringify(stored);
  const text = String(stored);
  return isTextField(field) ? text.replace(/[A-Z]+/g, (m) => m.toLowerCase()) : text;
}

// The options of `POST /module/{moduleID}/import` (query parameters) and how the file's columns
// are matched to the module's fields (docs/api/import-export.md, "Columns").
import { z } from "@hono/zod-openapi";
import type { FieldDefinition } from "../fields/registry";
import type { ErrorDetail } from "../http/errors";
import { JsonTooDeepError, parseJson } from "../http/json";
import { fieldNamed, type Module } from "../module-model/module";
import { IMPORT_MAX_COLUMN_NAME } from "./import-limits";
import type { ImportFormat, ImportMode, OnConflict } from "../jobs/import-job";
import { ID_KEY, keyProblem, REPORT_COLUMNS } from "./import-values";
import { throwIfDetails } from "../http/details";

const flag = (what: string) => z.enum(["true", "false"], { error: `must be true or false` }).optional().openapi({ description: what });

const DELIMITERS = new Map([
  [",", ","],
  [";", ";"],
  ["|", "|"],
  ["\t", "\t"],
  ["\\t", "\t"],
  ["tab", "\t"],
]);

export const importQuery = z.object({
  mapping: z.string().optional().openapi({
    description:
      'JSON object: column → field name (or label), or null to ignore the column, e.g. {"E-mail": "email", "Notes": null}; columns it leaves out are matched by name, then label',
  }),
  ignoreUnknown: flag("true: columns that match no field are ignored (default: a 400 listing them)"),
  key: z.string().optional().openapi({ description: "a field identifying existing items: rows whose key matches a live item are handled by onConflict" }),
  onConflict: z
    .enum(["skip", "update", "error"], { error: "must be skip, update or error" })
    .optional()
    .openapi({ description: "with key: skip (default), update (replace the values of the file's columns), error (reject the row)" }),
  mode: z
    .enum(["all", "valid"], { error: "must be all or valid" })
    .optional()
    .openapi({ description: "all (default): nothing is imported unless every row is valid; valid: valid rows are imported, invalid ones reported" }),
  triggers: flag("false: record no trigger events for the imported items (default true)"),
  format: z
    .enum(["csv", "json", "ndjson"], { error: "must be csv, json or ndjson" })
    .optional()
    .openapi({ description: "the file's format when its content type does not say (a multipart part sent as application/octet-stream)" }),
  delimiter: z
    .string()
    .optional()
    .openapi({ enum: [...DELIMITERS.keys()], description: "CSV cell separator: , (default) ; | or a tab (`\\t` or `tab`)" }),
});

type ImportQuery = z.output<typeof importQuery>;

export type ImportOptions = {
  mode: ImportMode;
  /** The key: a field, or ID_KEY (the items' own IDs, the `contentID` column of an export). */
  key: FieldDefinition | typeof ID_KEY | null;
  onConflict: OnConflict | null;
  triggers: boolean;
  ignoreUnknown: boolean;
  mapping: Map<string, string | null> | null;
  delimiter: string;
  format: ImportFormat | null;
};

/** Columns an export writes besides the fields (no field may have these names): known, and ignored. */
const SYSTEM_COLUMNS = ["contentID", "moduleID", "userID", "createdAt", "updatedAt", "id"];

/** The column of an item's own ID (an export's first column). */
const isIdColumn = (column: string) => ["contentid", "id"].includes(column.trim().toLowerCase());

const isIgnoredColumn = (column: string) =>
  (REPORT_COLUMNS as readonly string[]).includes(column) || SYSTEM_COLUMNS.some((s) => s.toLowerCase() === column.toLowerCase());

/** The field a column (or `key`) names: by its name, else its label, case-insensitively; a label two fields share names neither. */
function fieldForColumn(module: Module, text: string): FieldDefinition | "ambiguous" | undefined {
  const byName = fieldNamed(module, text.trim());
  if (byName) return byName;
  const wanted = text.trim().toLowerCase();
  const byLabel = module.fields.filter((f) => f.label.trim().toLowerCase() === wanted);
  return byLabel.length > 1 ? "ambiguous" : byLabel[0];
}

/** Checks the options that do not depend on the file (400 with a detail for each problem). */
export function parseOptions(module: Module, query: ImportQuery): ImportOptions {
  const details: ErrorDetail[] = [];
  let mapping: Map<string, string | null> | null = null;
  if (query.mapping !== undefined && query.mapping.trim() !== "") {
    let parsed: unknown;
    try {
      parsed = parseJson(query.mapping);
    } catch (err) {
      parsed = err instanceof JsonTooDeepError ? undefined : null;
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
      details.push({ path: "mapping", message: 'must be a JSON object of column → field name (or null), e.g. {"E-mail": "email"}' });
    } else {
      mapping = new Map();
      for (const [column, value] of Object.entries(parsed as Record<string, unknown>)) {
        if (value !== null && typeof value !== "string") details.push({ path: `mapping.${column}`, message: "must be a field name or null" });
        else mapping.set(column, value === null || value.trim() === "" ? null : value);
      }
    }
  }
  let key: FieldDefinition | typeof ID_KEY | null = null;
  if (query.key !== undefined && isIdColumn(query.key)) key = ID_KEY;
  else if (query.key !== undefined && query.key.trim() !== "") {
    const found = fieldForColumn(module, query.key);
    if (!found || found === "ambiguous")
      details.push({ path: "key", message: `no field '${query.key}'; this module has: ${module.fields.map((f) => f.name).join(", ")}` });
    else {
      const problem = keyProblem(module, found);
      if (problem) details.push({ path: "key", message: problem });
      else key = found;
    }
  }
  if (query.onConflict !== undefined && (query.key === undefined || query.key.trim() === "")) {
    details.push({ path: "onConflict", message: "needs key=<field>: without a key every row is a new item" });
  }
  const delimiter = query.delimiter === undefined || query.delimiter === "" ? "," : DELIMITERS.get(query.delimiter);
  if (delimiter === undefined) details.push({ path: "delimiter", message: "must be , ; | or \\t (tab)" });
  throwIfDetails(details, "Invalid import options");
  return {
    mode: query.mode ?? "all",
    key,
    onConflict: key ? (query.onConflict ?? "skip") : null,
    triggers: query.triggers !== "false",
    ignoreUnknown: query.ignoreUnknown === "true",
    mapping,
    delimiter: delimiter!,
    format: query.format ?? null,
  };
}

/**
 * The field each column fills (null: ignored). `mapping` decides for the columns it names; the
 * others are matched to a field name, then a label, case-insensitively. The report's and the
 * export's own columns are ignored. 400 for a column that matches nothing (unless
 * `ignoreUnknown`), a mapping naming an unknown column or field, two columns filling one field,
 * or a key field with no column.
 */
export function resolveColumns(module: Module, columns: string[], options: ImportOptions): (string | null)[] {
  const details: ErrorDetail[] = [];
  const seen = new Map<string, number>();
  columns.forEach((column, i) => {
    if (column.length > IMPORT_MAX_COLUMN_NAME)
      details.push({ path: `columns[${i}]`, message: `a column name is at most ${IMPORT_MAX_COLUMN_NAME} characters` });
    const folded = column.trim().toLowerCase();
    if (seen.has(folded) && folded !== "") details.push({ path: `columns[${i}]`, message: `column '${column}' is also column ${seen.get(folded)! + 1}` });
    else seen.set(folded, i);
  });
  const mapping = options.mapping;
  if (mapping) {
    for (const column of mapping.keys()) {
      if (!columns.includes(column) && !columns.some((c) => c.trim().toLowerCase() === column.trim().toLowerCase())) {
        details.push({ path: `mapping.${column}`, message: `the file has no column '${column}'; its columns: ${columns.join(", ")}` });
      }
    }
  }
  const mappedOf = (column: string): string | null | undefined => {
    if (!mapping) return undefined;
    if (mapping.has(column)) return mapping.get(column);
    for (const [name, value] of mapping) if (name.trim().toLowerCase() === column.trim().toLowerCase()) return value;
    return undefined;
  };
  const unknown: string[] = [];
  const filledBy = new Map<string, string>();
  const fields = columns.map((column, i): string | null => {
    const mapped = mappedOf(column);
    if (mapped === null) return null;
    if (options.key === ID_KEY && mapped === undefined && isIdColumn(column) && !filledBy.has(ID_KEY)) {
      filledBy.set(ID_KEY, column);
      return ID_KEY;
    }
    if (mapped === undefined && isIgnoredColumn(column)) return null;
    const field = fieldForColumn(module, mapped ?? column);
    if (!field || field === "ambiguous") {
      if (mapped !== undefined) {
        const why =
          field === "ambiguous"
            ? `'${mapped}' is the label of several fields; name the field`
            : `no field '${mapped}'; this module has: ${module.fields.map((f) => f.name).join(", ")}`;
        details.push({ path: `mapping.${column}`, message: why });
      } else if (!options.ignoreUnknown) unknown.push(column === "" ? `(column ${i + 1}, no name)` : column);
      return null;
    }
    const other = filledBy.get(field.name);
    if (other !== undefined) details.push({ path: `columns[${i}]`, message: `column '${column}' and column '${other}' would both fill field '${field.name}'` });
    filledBy.set(field.name, column);
    return field.name;
  });
  if (unknown.length) {
    details.push({
      path: "columns",
      message: `unknown ${unknown.length === 1 ? "column" : "columns"} ${unknown.map((c) => `'${c}'`).join(", ")}: no field has that name or label (fields: ${module.fields.map((f) => f.name).join(", ")}); map them with mapping, or send ignoreUnknown=true`,
    });
  }
  if (options.key === ID_KEY && !fields.includes(ID_KEY)) details.push({ path: "key", message: "key=contentID needs a contentID (or id) column in the file" });
  else if (options.key && options.key !== ID_KEY && !fields.includes(options.key.name))
    details.push({ path: "key", message: `the key field '${options.key.name}' has no column in the file` });
  throwIfDetails(details, "Invalid import", "invalid_import");
  return fields;
}

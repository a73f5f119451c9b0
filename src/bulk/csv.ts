// Writing CSV (RFC 4180) for exports. Parsing lives in csv-parse.ts; the two agree on the rules
// in docs/api/import-export.md ("Export"): values as the content API accepts them back, and the
// leading `'` that neutralises spreadsheet formulas.
//
// Quoting is csv-stringify's (the csv.js.org project, whose csv-parse reads the same dialect):
// a cell holding a comma, a double quote, CR or LF is quoted, quotes doubled; records end in
// CRLF. What a cell holds is decided here.
import { stringify } from "csv-stringify/sync";

/** RFC 4180's media type; `header=present`: the first record names the columns. */
export const CSV_TYPE = "text/csv; charset=utf-8; header=present";

/** The UTF-8 byte order mark, which spreadsheet programs read as "this file is UTF-8". */
export const UTF8_BOM = "\uFEFF";

/**
 * Characters a spreadsheet reads as the start of a formula (or, tab and CR, as cell separators
 * that shift the rest of the text into a formula position): OWASP's "CSV injection" list. The
 * import strips the `'` by the same list (import-values.ts `unneutralise`): the two change together.
 */
const FORMULA_START = /^'*[=+\-@\t\r]/;

/**
 * A text cell as written: one leading `'` when the text would start a formula, also when it
 * starts with `'`s followed by such a character, so that an import that strips exactly one
 * leading `'` from a text cell matching /^'+[=+\-@\t\r]/ gives back the original text (`'=x`
 * is written `''=x`). Text that starts otherwise is written as it is.
 */
export function neutraliseFormula(text: string): string {
  return FORMULA_START.test(text) ? `'${text}` : text;
}

/**
 * The text of one cell for a value as the content API answers it: missing → empty; strings
 * (text kinds, dates, stamps, related IDs) as they are, formula-neutralised; numbers in JSON's
 * spelling (never prefixed: `-5` is a number, not a formula); booleans `true`/`false`; multi
 * values (arrays) and anything else as JSON text.
 */
export function csvCell(value: unknown): string {
  if (value === undefined || value === null) return "";
  if (typeof value === "string") return neutraliseFormula(value);
  return JSON.stringify(value); // 1200, -5, 0.25; true/false; ["a","b"]; anything else as its JSON
}

/** Records (arrays of cell texts) as CSV text, each ending in CRLF, quoted where RFC 4180 needs it. */
export function csvRecords(records: string[][]): string {
  if (records.length === 0) return "";
  return stringify(records, { record_delimiter: "windows", quote_record_delimiter: true, quoted_empty: false });
}

// The rows of an import's file as the import stores, checks and reports them (docs/api/import-export.md,
// "Import"). What the job itself carries (spec, progress, view) is in
// src/jobs/import-job.ts.

/** One problem of a rejected row: the column it is about (null: the row as a whole) and what is wrong. */
export type RowProblem = { column: string | null; message: string };

/**
 * A row as stored: its cells by column index. A CSV row is an array of strings; a JSON object is
 * an object holding only the columns it has (a key it lacks is left out, not null: on create the
 * field gets its default, on update it keeps its value).
 */
export type StoredRecord = Record<number, unknown>;

/** A rejected row as the report lists it: its number, its cells as the file had them, its problems. */
export type RejectedRow = { row: number; cells: StoredRecord; problems: RowProblem[] };

/** One stored chunk of the file: its records, the first being row `firstRow`. */
export type ImportChunk = { seq: number; firstRow: number; records: StoredRecord[] };

/** The import's task: what the job engine dispatches, retries and watches like any task. */
export const IMPORT_TASK_NAME = "import";

/** A row's problems as one line of text: "column 'X': message; ...". */
export const describeProblems = (problems: RowProblem[]) =>
  problems.map((p) => (p.column === null ? p.message : `column '${p.column}': ${p.message}`)).join("; ");

// The shapes an import job carries (docs/api/import-export.md, "Import"): its fixed spec (in
// the job's definition), its progress (in the job's state, next to the engine's), and what
// `GET /job/{jobID}` shows of both. The job engine stores and shows them, so they live with it;
// the import itself (src/bulk, above the engine) fills them in. The bounds are in
// src/bulk/import-limits.ts.

import type { JobView } from "./model";

export type ImportFormat = ImportView["format"];
export type ImportMode = ImportView["mode"];
export type OnConflict = NonNullable<ImportView["onConflict"]>;

/** Fixed when the import is created: the options, and the file's columns and size. */
export type ImportSpec = {
  moduleID: string;
  format: ImportFormat;
  mode: ImportMode;
  /** The key field (`key=<field>`) and what a row matching a live item does; null: every row is new. */
  key: string | null;
  onConflict: OnConflict | null;
  /** False: the import records no trigger events (`triggers=false`). */
  triggers: boolean;
  /** The file's columns in file order (CSV: the header; JSON: every key seen, in first-seen order). */
  columns: string[];
  /** For each column, the field it fills, or null when it is ignored. */
  fields: (string | null)[];
  /** Data rows (not counting a CSV header), and the stored chunks holding them. */
  rows: number;
  chunks: number;
  bytes: number;
};

/** Where an import is (the job's state holds it; every batch rewrites it with the progress). */
export type ImportState = {
  /** `staging`: reading chunks; `published`: the rows are visible; `dropped`: nothing is. */
  phase: "staging" | "published" | "dropped";
  /** The next chunk to read, and the rows read before it. */
  nextChunk: number;
  rowsDone: number;
  /** Rows staged to be created / to update an item, skipped (their key matched, `onConflict=skip`), rejected. */
  staged: number;
  skipped: number;
  rejected: number;
  /** Set once published: the items made and updated. */
  created: number;
  updated: number;
  /** The module definition the staged rows were checked against (null before the first batch). */
  fieldsVersion: number | null;
  /** Times the import started over because the module was edited while it ran. */
  restarts: number;
  /** Rejected rows logged one by one so far (past IMPORT_LOGGED_REJECTS the report alone lists them). */
  logged: number;
  /** Set right before the publish batch is sent: what it makes visible (read back should the run die while it commits). */
  publishing: { creates: number; updates: number } | null;
};

export const initialImportState = (): ImportState => ({
  phase: "staging",
  nextChunk: 0,
  rowsDone: 0,
  staged: 0,
  skipped: 0,
  rejected: 0,
  created: 0,
  updated: 0,
  fieldsVersion: null,
  restarts: 0,
  logged: 0,
  publishing: null,
});

/** `import` of an import job's JSON, as /openapi.json documents it. */
export type ImportView = NonNullable<JobView["import"]>;

export function importView(spec: ImportSpec, state: ImportState | undefined): ImportView {
  const s = state ?? initialImportState();
  return {
    moduleID: spec.moduleID,
    format: spec.format,
    mode: spec.mode,
    key: spec.key,
    onConflict: spec.onConflict,
    triggers: spec.triggers,
    rows: spec.rows,
    staged: s.staged,
    skipped: s.skipped,
    rejected: s.rejected,
    created: s.created,
    updated: s.updated,
  };
}

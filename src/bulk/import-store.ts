// An import job's own tables in its Durable Object's SQLite storage, next to the job's (src/jobs/job-store.ts):
//   import_chunks  — the file, as parsed: chunks of at most IMPORT_BATCH_ROWS rows and
//                    IMPORT_CHUNK_BYTES of JSON each (a DO row holds at most 2 MB). Written by the
//                    upload before the job exists; dropped when the import ends.
//   import_rejects — the rejected rows with their cells and problems: what the report lists. Kept
//                    with the job, like its log.
// Only ImportJobObject (import-job-object.ts) calls this, inside its synchronous transactions where it writes.
import type { ImportChunk, RejectedRow, RowProblem, StoredRecord } from "./import-model";

export class ImportFiles {
  constructor(private readonly sql: SqlStorage) {}

  private has(table: string) {
    return this.sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", table).toArray().length > 0;
  }

  /** Stores chunks of the file (a repeat of a chunk replaces it: an upload call sent twice stores it once). */
  putChunks(chunks: { seq: number; firstRow: number; json: string }[]) {
    this.sql.exec("CREATE TABLE IF NOT EXISTS import_chunks (seq INTEGER PRIMARY KEY, first_row INTEGER NOT NULL, data TEXT NOT NULL)");
    for (const c of chunks) {
      this.sql.exec(
        "INSERT INTO import_chunks (seq, first_row, data) VALUES (?, ?, ?) ON CONFLICT (seq) DO UPDATE SET first_row = excluded.first_row, data = excluded.data",
        c.seq,
        c.firstRow,
        c.json,
      );
    }
  }

  chunkCount(): number {
    if (!this.has("import_chunks")) return 0;
    return this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM import_chunks").one().n;
  }

  chunk(seq: number): ImportChunk | null {
    if (!this.has("import_chunks")) return null;
    const row = this.sql.exec<{ first_row: number; data: string }>("SELECT first_row, data FROM import_chunks WHERE seq = ?", seq).toArray()[0];
    return row ? { seq, firstRow: row.first_row, records: JSON.parse(row.data) } : null;
  }

  /** The cells of some rows (found again for rows a late check rejects). */
  cellsOf(rows: number[]): Map<number, StoredRecord> {
    const out = new Map<number, StoredRecord>();
    if (!this.has("import_chunks")) return out;
    const wanted = [...new Set(rows)].sort((a, b) => a - b);
    let loaded: { firstRow: number; records: StoredRecord[] } | null = null;
    for (const row of wanted) {
      if (!loaded || row < loaded.firstRow || row >= loaded.firstRow + loaded.records.length) {
        const found = this.sql
          .exec<{ first_row: number; data: string }>("SELECT first_row, data FROM import_chunks WHERE first_row <= ? ORDER BY first_row DESC LIMIT 1", row)
          .toArray()[0];
        loaded = found ? { firstRow: found.first_row, records: JSON.parse(found.data) } : null;
      }
      const cells = loaded?.records[row - loaded.firstRow];
      if (cells) out.set(row, cells);
    }
    return out;
  }

  /** Whether the file is still stored. */
  hasFile() {
    return this.has("import_chunks");
  }

  /** Drops the file (the import ended, or its upload did). */
  dropFile() {
    this.sql.exec("DROP TABLE IF EXISTS import_chunks");
  }

  private ensureRejects() {
    this.sql.exec("CREATE TABLE IF NOT EXISTS import_rejects (row INTEGER PRIMARY KEY, cells TEXT NOT NULL, problems TEXT NOT NULL)");
  }

  /** Records rejected rows (a row rejected again, by a batch run twice, is recorded once). */
  addRejects(rows: RejectedRow[]) {
    if (!rows.length) return;
    this.ensureRejects();
    for (const r of rows) {
      this.sql.exec(
        "INSERT INTO import_rejects (row, cells, problems) VALUES (?, ?, ?) ON CONFLICT (row) DO UPDATE SET problems = excluded.problems",
        r.row,
        JSON.stringify(r.cells),
        JSON.stringify(r.problems),
      );
    }
  }

  /** Forgets the rejected rows (the import starts over against a changed module). */
  clearRejects() {
    this.sql.exec("DROP TABLE IF EXISTS import_rejects");
  }

  /** Rejected rows after `afterRow`, in row order, at most `limit`. */
  rejects(afterRow: number, limit: number): RejectedRow[] {
    if (!this.has("import_rejects")) return [];
    return this.sql
      .exec<{ row: number; cells: string; problems: string }>(
        "SELECT row, cells, problems FROM import_rejects WHERE row > ? ORDER BY row LIMIT ?",
        afterRow,
        limit,
      )
      .toArray()
      .map((r) => ({ row: r.row, cells: JSON.parse(r.cells), problems: JSON.parse(r.problems) as RowProblem[] }));
  }
}

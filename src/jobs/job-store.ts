// The job Durable Object's own SQLite storage: the `state` row (the job as JSON), the append-only
// `log` (seq 1, 2, 3, ...) and the `results` of finished tasks (for later templates). Callers make
// their changes inside the DO's synchronous transactions (see JobObject.tx).
import type { TemplateScope } from "../workflows/tasks";
import { iso, type LogLevel, type LogLine } from "./model";
import type { JobState, Phase } from "./job-state";

/** Each log line (message + data as JSON) is capped at 16 KiB. */
export const LOG_LINE_MAX_BYTES = 16 * 1024;

const byteLength = (text: string) => new TextEncoder().encode(text).byteLength;

export class JobStore {
  /** True once this DO holds a job (its tables exist). */
  private ready = false;

  constructor(private readonly sql: SqlStorage) {}

  /**
   * Tables are made only when a job is created, so addressing an unknown jobID (a 404) leaves
   * no storage behind: the `state` row doubles as the "this job exists" flag.
   */
  ensureSchema() {
    this.sql.exec("CREATE TABLE IF NOT EXISTS state (id INTEGER PRIMARY KEY CHECK (id = 1), data TEXT NOT NULL)");
    this.sql.exec(
      "CREATE TABLE IF NOT EXISTS log (seq INTEGER PRIMARY KEY, time INTEGER NOT NULL, level TEXT NOT NULL, task TEXT, message TEXT NOT NULL, data TEXT)",
    );
    this.sql.exec(
      "CREATE TABLE IF NOT EXISTS results (phase TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (phase, name))",
    );
    this.ready = true;
  }

  /** After a rolled-back transaction: the tables it made (and `ready` with them) may be gone. */
  forgetTables() {
    this.ready = false;
  }

  private hasTables() {
    if (!this.ready) this.ready = this.sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'state'").toArray().length > 0;
    return this.ready;
  }

  load(): JobState | null {
    if (!this.hasTables()) return null;
    const row = this.sql.exec<{ data: string }>("SELECT data FROM state WHERE id = 1").toArray()[0];
    return row ? (JSON.parse(row.data) as JobState) : null;
  }

  save(s: JobState) {
    this.sql.exec("INSERT INTO state (id, data) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET data = excluded.data", JSON.stringify(s));
  }

  /** Appends one log line; seq is max+1 inside the DO's single-threaded transaction: unique, gap-free. */
  log(now: number, level: LogLevel, task: string | null, message: string, data?: unknown) {
    let text = message;
    let json = data === undefined ? null : JSON.stringify(data) ?? null;
    if (byteLength(text) + (json ? byteLength(json) : 0) > LOG_LINE_MAX_BYTES) {
      // Engine-written lines are cut to fit (lines from the API are refused instead, before this).
      if (json && byteLength(json) > LOG_LINE_MAX_BYTES / 2) json = JSON.stringify({ truncated: true, bytes: byteLength(json) });
      while (byteLength(text) + (json ? byteLength(json) : 0) > LOG_LINE_MAX_BYTES) text = text.slice(0, Math.floor(text.length * 0.9));
    }
    this.sql.exec(
      "INSERT INTO log (seq, time, level, task, message, data) VALUES ((SELECT IFNULL(MAX(seq), 0) + 1 FROM log), ?, ?, ?, ?, ?)",
      now,
      level,
      task,
      text,
      json,
    );
  }

  /** Lines after `after`, oldest first, a page of them, and how many there are. */
  readLogs(query: { offset: number; limit: number; after: number }): { count: number; logs: LogLine[] } {
    const count = this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM log WHERE seq > ?", query.after).one().n;
    const rows = this.sql
      .exec<{ seq: number; time: number; level: LogLevel; task: string | null; message: string; data: string | null }>(
        "SELECT seq, time, level, task, message, data FROM log WHERE seq > ? ORDER BY seq LIMIT ? OFFSET ?",
        query.after,
        query.limit,
        query.offset,
      )
      .toArray();
    return {
      count,
      logs: rows.map((r) => ({
        seq: r.seq,
        time: iso(r.time)!,
        level: r.level,
        task: r.task,
        message: r.message,
        data: r.data === null ? null : JSON.parse(r.data),
      })),
    };
  }

  /** Keeps a finished task's result for later templates. */
  putResult(phase: Phase, name: string, value: unknown) {
    this.sql.exec(
      "INSERT INTO results (phase, name, value) VALUES (?, ?, ?) ON CONFLICT (phase, name) DO UPDATE SET value = excluded.value",
      phase,
      name,
      JSON.stringify(value),
    );
  }

  scope(s: JobState): TemplateScope {
    const rows = this.sql.exec<{ phase: string; name: string; value: string }>("SELECT phase, name, value FROM results").toArray();
    const main: Record<string, unknown> = {};
    const onError: Record<string, unknown> = {};
    for (const r of rows) (r.phase === "main" ? main : onError)[r.name] = JSON.parse(r.value);
    const job = s.userID ? { jobID: s.jobID, userID: s.userID } : { jobID: s.jobID };
    return { params: s.parameters, job, tasks: s.phase === "onError" ? { ...onError, ...main } : main };
  }
}

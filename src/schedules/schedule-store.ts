// The schedule Durable Object's own SQLite tables: `state` (one row: which schedule, how far its
// clock has got, the buffered run, the alarm) and `log` (the schedule's log, newest lines kept).
// Only ScheduleObject calls this; every call is synchronous.
import { iso } from "../jobs/model";
import { LazyTables } from "../platform/lazy-tables";
import { type LogPageQuery, readLogPage, storedData } from "../platform/log-page";
import { SCHEDULE_LOG_MAX_LINES } from "./limits";
import type { ScheduleLogLine } from "./model";

export type ClockState = {
  scheduleID: string;
  /** Every fire time at or before this instant has been handled (started, skipped, buffered, missed or failed). Null: none yet. */
  cursor: number | null;
  /** A fire time held back by `buffer_one`, started once the job it waits for ends. */
  buffered: number | null;
  /** The time the alarm is set for (the alarm handler treats it as "now" at the least). */
  alarmAt: number | null;
};

export type LogLevel = ScheduleLogLine["level"];

const SCHEDULE_TABLES = [
  "CREATE TABLE IF NOT EXISTS state (id INTEGER PRIMARY KEY CHECK (id = 1), data TEXT NOT NULL)",
  "CREATE TABLE IF NOT EXISTS log (seq INTEGER PRIMARY KEY, time INTEGER NOT NULL, level TEXT NOT NULL, message TEXT NOT NULL, data TEXT)",
];

export class ScheduleStore {
  private readonly tables: LazyTables;

  constructor(private readonly sql: SqlStorage) {
    this.tables = new LazyTables(sql, SCHEDULE_TABLES, "state");
  }

  /** After deleteAll(): the tables are gone. */
  forget() {
    this.tables.forget();
  }

  /** The clock, or null when this DO was never armed (or was removed). */
  load(): ClockState | null {
    if (!this.tables.exist()) return null;
    const row = this.sql.exec<{ data: string }>("SELECT data FROM state WHERE id = 1").toArray()[0];
    return row ? (JSON.parse(row.data) as ClockState) : null;
  }

  save(state: ClockState) {
    this.tables.ensure();
    this.sql.exec("INSERT INTO state (id, data) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET data = excluded.data", JSON.stringify(state));
  }

  /** Appends a line and drops the oldest past the cap. */
  log(level: LogLevel, message: string, data: unknown, now: number) {
    this.tables.ensure();
    const seq = (this.sql.exec<{ n: number }>("SELECT IFNULL(MAX(seq), 0) AS n FROM log").one().n ?? 0) + 1;
    this.sql.exec(
      "INSERT INTO log (seq, time, level, message, data) VALUES (?, ?, ?, ?, ?)",
      seq,
      now,
      level,
      message,
      data === undefined ? null : JSON.stringify(data),
    );
    this.sql.exec("DELETE FROM log WHERE seq <= ?", seq - SCHEDULE_LOG_MAX_LINES);
  }

  readLogs(query: LogPageQuery): { count: number; logs: ScheduleLogLine[] } {
    if (!this.tables.exist()) return { count: 0, logs: [] };
    const { count, rows } = readLogPage<{ seq: number; time: number; level: LogLevel; message: string; data: string | null }>(this.sql, query);
    return { count, logs: rows.map((r) => ({ seq: r.seq, time: iso(r.time)!, level: r.level, message: r.message, data: storedData(r.data) })) };
  }
}

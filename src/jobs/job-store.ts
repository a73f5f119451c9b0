// The job Durable Object's own SQLite tables (docs/jobs.md): `state` (the hot JobState as JSON), `definition`
// (the workflow snapshot and parameters, written at create and on a queued edit), the append-only
// `log` (seq 1, 2, 3, ...) and `results` (finished tasks' results for later templates). Only
// JobObjectBase (job-object-base.ts) calls this, inside its synchronous transactions: it loads the job, and writes a
// decision's outcome.
import type { TemplateScope } from "./tasks";
import type { Decision } from "./job-engine";
import { migrateState } from "./job-migrate";
import { triggerDepthOf, type Job, type JobDefinition, type JobState } from "./job-state";
import type { ImportView } from "./import-job";
import { LazyTables } from "../platform/lazy-tables";
import { type LogPageQuery, readLogPage, storedData } from "../platform/log-page";
import { iso, type JobOrigin, type LogLevel, type LogLine, type TriggerOrigin } from "./model";

/**
 * The job as the D1 mirror write reads it (job-mirror.ts): the job's fields and the mirror
 * bookkeeping. `load` answers the row, `save` receives the bookkeeping the write decided on;
 * JobObject applies that to the state itself.
 */
export type MirrorRow = JobState & {
  parameters: Record<string, string>;
  schedule?: JobOrigin | null;
  trigger?: TriggerOrigin | null;
  importView?: ImportView | null;
};
export type JobStore = { load(): MirrorRow | null; save(row: MirrorRow): void };

const JOB_TABLES = [
  "CREATE TABLE IF NOT EXISTS state (id INTEGER PRIMARY KEY CHECK (id = 1), data TEXT NOT NULL)",
  "CREATE TABLE IF NOT EXISTS definition (id INTEGER PRIMARY KEY CHECK (id = 1), data TEXT NOT NULL)",
  "CREATE TABLE IF NOT EXISTS log (seq INTEGER PRIMARY KEY, time INTEGER NOT NULL, level TEXT NOT NULL, task TEXT, message TEXT NOT NULL, data TEXT)",
  "CREATE TABLE IF NOT EXISTS results (phase TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (phase, name))",
];

export class JobStorage {
  /**
   * Tables are made only when a job is created, so addressing an unknown jobID (a 404) leaves
   * no storage behind: the `state` row doubles as the "this job exists" flag.
   */
  private readonly tables: LazyTables;

  constructor(private readonly sql: SqlStorage) {
    this.tables = new LazyTables(sql, JOB_TABLES, "state");
  }

  ensureSchema() {
    this.tables.create();
  }

  /** After a rolled-back transaction: the tables it made may be gone. */
  forgetTables() {
    this.tables.forget();
  }

  /** The job, migrated to the current layout first (call inside a transaction). */
  load(): Job | null {
    if (!this.tables.exist()) return null;
    const row = this.sql.exec<{ data: string }>("SELECT data FROM state WHERE id = 1").toArray()[0];
    if (!row) return null;
    const state = migrateState(this.sql, JSON.parse(row.data));
    const def = this.sql.exec<{ data: string }>("SELECT data FROM definition WHERE id = 1").one();
    return { state, definition: JSON.parse(def.data) as JobDefinition };
  }

  /** Writes what a decision changed: the state row, the definition when it changed, new log lines and results. */
  write(decision: Decision<unknown>) {
    const job = decision.job;
    if (!job || !decision.changed) return;
    this.sql.exec("INSERT INTO state (id, data) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET data = excluded.data", JSON.stringify(job.state));
    if (decision.definitionChanged) {
      this.sql.exec("INSERT INTO definition (id, data) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET data = excluded.data", JSON.stringify(job.definition));
    }
    for (const l of decision.logs) {
      this.sql.exec("INSERT INTO log (seq, time, level, task, message, data) VALUES (?, ?, ?, ?, ?, ?)", l.seq, l.time, l.level, l.task, l.message, l.data);
    }
    for (const r of decision.results) {
      this.sql.exec(
        "INSERT INTO results (phase, name, value) VALUES (?, ?, ?) ON CONFLICT (phase, name) DO UPDATE SET value = excluded.value",
        r.phase,
        r.name,
        r.value,
      );
    }
  }

  /**
   * Records that the refusal of an event's triggers was logged in this job; false when it was
   * already (a redelivered event logs nothing twice). The table is made on first use.
   */
  firstRefusal(eventID: string): boolean {
    this.sql.exec("CREATE TABLE IF NOT EXISTS trigger_refusals (event_id TEXT PRIMARY KEY)");
    return this.sql.exec("INSERT INTO trigger_refusals (event_id) VALUES (?) ON CONFLICT (event_id) DO NOTHING", eventID).rowsWritten > 0;
  }

  /** Lines after `after`, oldest first, a page of them, and how many there are. */
  readLogs(query: LogPageQuery): { count: number; logs: LogLine[] } {
    const { count, rows } = readLogPage<{ seq: number; time: number; level: LogLevel; task: string | null; message: string; data: string | null }>(
      this.sql,
      query,
      ["task"],
    );
    return {
      count,
      logs: rows.map((r) => ({
        seq: r.seq,
        time: iso(r.time)!,
        level: r.level,
        task: r.task,
        message: r.message,
        data: storedData(r.data),
      })),
    };
  }

  /** What the templates of an attempt in `phase` see. */
  scope(job: Job, phase: "main" | "onError"): TemplateScope {
    const rows = this.sql.exec<{ phase: string; name: string; value: string }>("SELECT phase, name, value FROM results").toArray();
    const main: Record<string, unknown> = {};
    const onError: Record<string, unknown> = {};
    for (const r of rows) (r.phase === "main" ? main : onError)[r.name] = JSON.parse(r.value);
    const s = job.state;
    const depth = triggerDepthOf(job.definition);
    const who = { jobID: s.jobID, ...(s.userID ? { userID: s.userID } : {}), ...(depth ? { triggerDepth: depth } : {}) };
    return { params: job.definition.parameters, job: who, tasks: phase === "onError" ? { ...onError, ...main } : main };
  }
}

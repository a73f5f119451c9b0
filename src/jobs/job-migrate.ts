// Brings a job DO's stored state and tables up to STATE_SCHEMA_VERSION (docs/jobs.md, "Stored layout versions"). Every load runs it (a job
// may sleep until 2099 and wake under much newer code); it runs inside the caller's transaction, so
// a migration is written whole or not at all. Add a step per new version; never edit an old one.
import { newJobKey, STATE_SCHEMA_VERSION, type Attempt, type JobDefinition, type JobState } from "./job-state";

// biome-ignore lint/suspicious/noExplicitAny: a stored state of an older layout, read field by field as that layout wrote it
type Raw = Record<string, any>;

/** Version 1 (until issue 12): one `state` row holding everything, snapshot and parameters included. */
function fromV1(sql: SqlStorage, raw: Raw): Raw {
  const definition: JobDefinition = { snapshot: raw.snapshot, parameters: raw.parameters ?? {} };
  sql.exec("CREATE TABLE IF NOT EXISTS definition (id INTEGER PRIMARY KEY CHECK (id = 1), data TEXT NOT NULL)");
  sql.exec("INSERT OR REPLACE INTO definition (id, data) VALUES (1, ?)", JSON.stringify(definition));
  const tally = sql
    .exec<{ lines: number; bytes: number }>(
      "SELECT IFNULL(MAX(seq), 0) AS lines, IFNULL(SUM(LENGTH(CAST(message AS BLOB)) + IFNULL(LENGTH(CAST(data AS BLOB)), 0)), 0) AS bytes FROM log",
    )
    .one();
  const { snapshot: _snapshot, parameters: _parameters, ...rest } = raw;
  return {
    ...rest,
    schema: 2,
    key: newJobKey(),
    log: { lines: tally.lines, bytes: tally.bytes, truncated: false },
    attempt: raw.attempt ? attemptFromV1(raw.attempt) : null,
  };
}

/**
 * A v1 attempt: `queue` attempts ran in the queue consumer (claimed = running there, with
 * heartbeats), `inline` ones in the DO. Under v2 a claimed or inline attempt counts as running in
 * an instance that is gone (so the next tick runs it again, as a lost attempt); an unclaimed one
 * still waits for its queue message, which the v2 consumer claims as before.
 */
function attemptFromV1(a: Raw): Attempt {
  const started = a.mode !== "delay" && a.claimedAt !== null;
  return {
    id: a.id,
    phase: a.phase,
    index: a.index,
    number: a.number,
    mode: a.mode,
    dispatchedAt: a.dispatchedAt,
    claimedAt: a.claimedAt,
    running: started ? { since: a.claimedAt, instance: "v1" } : null,
    deadline: a.deadline,
  };
}

const STEPS: Record<number, (sql: SqlStorage, raw: Raw) => Raw> = { 1: fromV1 };

/** The stored state at the current version (written back when it was older). */
export function migrateState(sql: SqlStorage, raw: Raw): JobState {
  let version: number = typeof raw.schema === "number" ? raw.schema : 1;
  if (version > STATE_SCHEMA_VERSION) throw new Error(`job state version ${version} is newer than this code (${STATE_SCHEMA_VERSION})`);
  if (version === STATE_SCHEMA_VERSION) return raw as JobState;
  let state = raw;
  while (version < STATE_SCHEMA_VERSION) {
    state = STEPS[version](sql, state);
    version = state.schema;
  }
  sql.exec("UPDATE state SET data = ? WHERE id = 1", JSON.stringify(state));
  return state as JobState;
}

// One page of a Durable Object's append-only `log` table (seq 1, 2, 3, ...): the lines after
// `after`, oldest first, and how many there are. The job's and the schedule's logs share it.

export type LogPageQuery = { offset: number; limit: number; after: number };

type StoredLine = { seq: number; time: number; level: string; message: string; data: string | null };

/** `columns`: the log's columns beyond seq, time, level, message and data (the job's `task`). */
export function readLogPage<Row extends StoredLine>(sql: SqlStorage, query: LogPageQuery, columns: readonly string[] = []) {
  const count = sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM log WHERE seq > ?", query.after).one().n;
  const rows = sql
    .exec<Row>(
      `SELECT ${["seq", "time", "level", ...columns, "message", "data"].join(", ")} FROM log WHERE seq > ? ORDER BY seq LIMIT ? OFFSET ?`,
      query.after,
      query.limit,
      query.offset,
    )
    .toArray();
  return { count, rows };
}

/** A stored line's `data` as the API answers it. */
export const storedData = (data: string | null): unknown => (data === null ? null : JSON.parse(data));

// Raw SQL (dynamic DDL, statements over the per-module typed tables) as members of `db.batch`.
//
// drizzle's `db.run(sql)` / `db.all(sql)` cannot join a D1 batch when they bind parameters (its
// batch binds through a prepared statement they do not have). `rawStatement` gives the batch the
// shape it expects — `_prepare()` answering `getQuery`, `stmt` and `mapResult` — over D1's own
// prepared statement, so raw and query-builder statements share one batch (one transaction).
import { sql, type SQL } from "drizzle-orm";
import { SQLiteSyncDialect } from "drizzle-orm/sqlite-core";
import type { Db } from "./client";

const dialect = new SQLiteSyncDialect();

/** SQL text and parameters, as D1 receives them. */
export const toQuery = (query: SQL) => dialect.sqlToQuery(query);

type RawStatement<T> = { readonly __rows?: T; _prepare(): unknown };

/** A statement for `db.batch`; its batch result is the rows it answers (`all`) or D1's run result. */
export function rawStatement<T = Record<string, unknown>>(db: Db, query: SQL, mode: "all" | "run" = "all"): RawStatement<T> {
  const built = toQuery(query);
  const prepared = {
    getQuery: () => built,
    stmt: db.$client.prepare(built.sql),
    mapResult: (result: D1Result<T>) => (mode === "all" ? (result.results ?? []) : result),
  };
  return { _prepare: () => prepared };
}

/** Runs statements (raw or query builder) as one D1 batch, answering each one's result. */
export async function runBatch(db: Db, statements: unknown[]): Promise<unknown[]> {
  if (statements.length === 0) return [];
  // biome-ignore lint/suspicious/noExplicitAny: D1/Drizzle batch types want a fixed tuple; these statements are built at run time
  return db.batch(statements as [any]);
}

/** Rows of one raw query. */
export async function allRows<T>(db: Db, query: SQL): Promise<T[]> {
  const built = toQuery(query);
  const result = await db.$client
    .prepare(built.sql)
    .bind(...built.params)
    .all<T>();
  return result.results ?? [];
}

/** A quoted identifier built from validated parts only (table and column names of typed tables). */
export const ident = (name: string) => {
  if (!/^[a-z][a-z0-9_]{0,200}$/.test(name)) throw new Error(`unsafe identifier ${JSON.stringify(name)}`);
  return sql.raw(`"${name}"`);
};

/**
 * A first statement for a batch that must change nothing unless `condition` holds when it runs:
 * it raises (json() of text that is not JSON) otherwise, and D1 rolls the whole batch back, DDL
 * included. Conditional statements cannot guard `CREATE`/`DROP`/`ALTER`; this can. The condition
 * is a subquery, so SQLite cannot evaluate it once ahead of the batch as a constant.
 */
export const abortUnless = (condition: SQL): SQL => sql`select json(case when ${condition} then '1' else '${sql.raw(ABORTED)}' end) as "guard"`;

const ABORTED = "stale: the condition of the batch no longer holds";

/** Whether a failed batch was rolled back by `abortUnless` (D1 answers "malformed JSON"). */
export function isAborted(err: unknown): boolean {
  const text = `${(err as Error)?.message ?? err} ${((err as Error)?.cause as Error)?.message ?? ""}`;
  return /malformed JSON/i.test(text);
}

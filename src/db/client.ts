// Drizzle over D1, always through a D1 session (src/db/session.ts). Inside a request, `env.DB` is
// already the request's session (the `d1Session` middleware puts it there), so every query of the
// request shares it. Elsewhere (cron sweep, queue consumer, Durable Objects) `env.DB` is the
// database and each `getDb` starts a session with `constraint`: by default the primary, so the
// sweep, the mirror repair and the job engine never act on a replica's older view.
import { drizzle } from "drizzle-orm/d1";
import * as schema from "./schema";

const isDatabase = (db: D1Database | D1DatabaseSession): db is D1Database => typeof (db as D1Database).withSession === "function";

export const getDb = (env: { DB: D1Database }, constraint: D1SessionConstraint = "first-primary") => {
  const client = isDatabase(env.DB) ? env.DB.withSession(constraint) : env.DB;
  return drizzle(client as unknown as D1Database, { schema });
};
export type Db = ReturnType<typeof getDb>;

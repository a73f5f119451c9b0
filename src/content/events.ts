// The outbox of content changes for workflow triggers (docs/api/triggers.md, "The outbox"). Every content write's
// batch holds one more statement: a conditional INSERT into `content_events` that writes a row only
// when the write itself happens (the same condition as the write, evaluated in the same
// transaction) and only when some workflow has a trigger on the module for that event (an index
// probe of `workflow_triggers`). A change and its event therefore commit together or not at all;
// the dispatcher (src/triggers/dispatch.ts) turns rows into jobs afterwards, and the cron sweep
// picks up whatever a dispatcher left behind.
import { sql, type SQL } from "drizzle-orm";
import { contentEvents, workflowTriggers } from "../db/schema";
import { nowIso } from "../http/time";

/** The kinds of change a trigger listens to, and `content.date`: a date trigger's clock must look again. */
type ContentEventKind = "content.created" | "content.updated" | "content.deleted" | "content.date";

/**
 * Where a write comes from. `depth` is the trigger depth a job started by its events gets: 1 for a
 * change through the API (or a client's job), the writing job's depth + 1 for a content.* task of
 * a triggered job. `actor` is who made the change: triggered jobs run as this user.
 */
export type WriteOrigin = { actor: string; depth: number; jobID: string | null };

/** A change made through the API by the token's subject. */
export const apiOrigin = (actor: string): WriteOrigin => ({ actor, depth: 1, jobID: null });

/** Options of a content write. */
export type WriteOptions = {
  /** A workflow task's Idempotency-Key (effects.ts): a repeat answers the write already made. */
  effectKey?: string;
  /** Who writes (default: the API, as the system user "0"). */
  origin?: WriteOrigin;
  /** Receives the IDs of the events the write recorded, for the caller to dispatch at once. */
  events?: number[];
};

const DEFAULT_ORIGIN: WriteOrigin = { actor: "0", depth: 1, jobID: null };

/** The item's values and times as the event records them: literal values or SQL over `"c"` (the item's row). */
type EventItem = {
  contentId: SQL | number;
  userId: SQL | string;
  createdAt: SQL | string;
  updatedAt: SQL | string;
  data: SQL | string;
  previous: SQL | null;
};

/**
 * The INSERT that records the events `kinds` of one write. `from` adds the item's `content` row
 * as `"c"` (update and delete read its values before the change); `when` is the write's own
 * condition. A row per kind that some workflow listens to on this module; none otherwise.
 * Answers the new rows' IDs.
 */
export function recordEventsStatement(
  moduleId: number,
  kinds: ContentEventKind[],
  item: EventItem,
  when: SQL,
  origin: WriteOrigin = DEFAULT_ORIGIN,
  from?: SQL,
): SQL {
  const kindRows = sql.join(
    kinds.map((k, i) => (i === 0 ? sql`select ${k} as "event"` : sql`select ${k}`)),
    sql` union all `,
  );
  const jobId = origin.jobID === null ? null : Number(origin.jobID);
  return sql`insert into ${contentEvents} ("module_id", "content_id", "event", "depth", "source_job_id", "actor", "user_id",
      "item_created_at", "item_updated_at", "data", "previous", "created_at")
    select ${moduleId}, ${item.contentId}, "k"."event", ${origin.depth}, ${jobId}, ${origin.actor}, ${item.userId},
      ${item.createdAt}, ${item.updatedAt}, ${item.data}, ${item.previous}, ${nowIso()}
    from (${kindRows}) as "k"${from ? sql` cross join ${from}` : sql``}
    where exists (select 1 from ${workflowTriggers} as "t" where "t"."module_id" = ${moduleId} and "t"."event" = "k"."event")
      and ${when}
    returning "id"`;
}

/** The event IDs out of the INSERT's batch result. */
export const recordedIds = (rows: unknown): number[] => (Array.isArray(rows) ? rows.map((r) => Number((r as { id: number }).id)) : []);

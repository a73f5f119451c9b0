// The one source of truth for D1 tables. Migrations in /migrations are generated from this file
// by drizzle-kit (`npm run db:generate`); never edit a generated migration by hand.
import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

const timestamps = {
  createdAt: text("created_at").notNull(),
  updatedAt: text("updated_at").notNull(),
};

/** A user-defined record type; its field definitions live in one JSON column. */
export const modules = sqliteTable("modules", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  name: text("name").notNull(),
  fields: text("fields", { mode: "json" }).notNull().$type<unknown[]>(),
  /**
   * Bumped in the same batch as every write to the module's content or fields, so results
   * computed from the content (listing counts, chart aggregates) can be cached exactly.
   */
  contentVersion: integer("content_version").notNull().default(0),
  /**
   * Bumped by every edit of the module (in the edit's batch). A content write is validated
   * against one definition and commits only while this is still the version it read, so stored
   * values always fit the definition in force when they were written.
   */
  fieldsVersion: integer("fields_version").notNull().default(0),
  /**
   * 1 once the module's typed table (`c_<id>`, src/module-model/typed-table.ts) exists and mirrors
   * its live items; 0 for modules written before typed tables, converted on first use.
   */
  typedTable: integer("typed_table").notNull().default(0),
  ...timestamps,
});

/** One record of a module. `data` is a JSON object keyed by field name. */
export const content = sqliteTable(
  "content",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    moduleId: integer("module_id").notNull(),
    userId: text("user_id").notNull(),
    data: text("data").notNull().default("{}"),
    /** Lower-cased text-like values joined by newlines, for `query` word search. */
    search: text("search").notNull().default(""),
    ...timestamps,
    deletedAt: text("deleted_at"),
  },
  (t) => [index("content_module_live_idx").on(t.moduleId, t.deletedAt, t.id)],
);

/** A screen in the page tree; `moduleId` makes it that module's record page. */
export const pages = sqliteTable(
  "pages",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    selfId: integer("self_id").notNull().default(0),
    moduleId: integer("module_id"),
    title: text("title").notNull(),
    description: text("description").notNull().default(""),
    visible: integer("visible", { mode: "boolean" }).notNull().default(true),
    weight: integer("weight").notNull().default(0),
    blocks: text("blocks", { mode: "json" }).notNull().$type<unknown[]>(),
    ...timestamps,
  },
  (t) => [index("pages_parent_weight_idx").on(t.selfId, t.weight, t.id), uniqueIndex("pages_module_unique").on(t.moduleId).where(sql`module_id IS NOT NULL`)],
);

/** A named list of tasks; jobs snapshot it when they are created. */
export const workflows = sqliteTable("workflows", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  name: text("name").notNull(),
  timeout: integer("timeout").notNull().default(3600),
  tasks: text("tasks", { mode: "json" }).notNull().$type<unknown[]>(),
  onError: text("on_error", { mode: "json" }).notNull().$type<unknown[]>(),
  ...timestamps,
  /** The workflow's record and date triggers (src/triggers); null when it has none. */
  triggers: text("triggers", { mode: "json" }).$type<unknown[]>(),
});

/**
 * The triggers of every workflow, one row each, derived from `workflows.triggers` in the same
 * batch as every workflow create, update and delete (src/triggers/store.ts). A content write asks
 * it, in its own batch, whether any workflow listens to the module and event (one index probe);
 * the dispatcher reads the definitions from it without loading workflows.
 */
export const workflowTriggers = sqliteTable(
  "workflow_triggers",
  {
    workflowId: integer("workflow_id").notNull(),
    /** A hash of the trigger's definition: its identity within the workflow (a date trigger's jobs and clock are keyed by it). */
    key: text("key").notNull(),
    /** Its index in the workflow's `triggers`. */
    position: integer("position").notNull(),
    moduleId: integer("module_id").notNull(),
    /** `content.created`, `content.updated`, `content.deleted` or `content.date`. */
    event: text("event").notNull(),
    definition: text("definition", { mode: "json" }).notNull().$type<Record<string, unknown>>(),
    /** When this definition was first stored: a date trigger never fires for a time at or before it. */
    armedAt: text("armed_at").notNull(),
    /** A date trigger's next due time as its clock last saw it; the cron sweep wakes clocks overdue here. */
    nextDueAt: text("next_due_at"),
  },
  (t) => [
    primaryKey({ columns: [t.workflowId, t.key] }),
    index("workflow_triggers_module_event_idx").on(t.moduleId, t.event),
    index("workflow_triggers_next_due_idx").on(t.nextDueAt),
  ],
);

/**
 * The outbox of content changes that some workflow's trigger listens to: written by a conditional
 * INSERT inside the content write's own batch (src/content/events.ts), so a change and its event
 * commit together or not at all. The dispatcher deletes a row once every job it starts exists.
 */
export const contentEvents = sqliteTable("content_events", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  moduleId: integer("module_id").notNull(),
  contentId: integer("content_id").notNull(),
  /** `content.created`, `content.updated`, `content.deleted`, or `content.date` (a date trigger's clock must look again). */
  event: text("event").notNull(),
  /** The trigger depth a job started by this event gets: 1 for a change through the API, the writing job's depth + 1 for a content.* task. */
  depth: integer("depth").notNull(),
  /** The job whose content.* task made the change (null: the API). */
  sourceJobId: integer("source_job_id"),
  /** Who made the change: the token's subject, or the user the writing job runs as. Triggered jobs run as this user. */
  actor: text("actor").notNull(),
  /** The item as it is after the change (for a delete: as it was): owner, times and values (stored form, JSON). */
  userId: text("user_id").notNull(),
  itemCreatedAt: text("item_created_at").notNull(),
  itemUpdatedAt: text("item_updated_at").notNull(),
  data: text("data").notNull(),
  /** Updates: the item's values before the change. */
  previous: text("previous"),
  /** Failed dispatches so far, and the last one's error (for operators; the sweep keeps trying). */
  attempts: integer("attempts").notNull().default(0),
  error: text("error"),
  createdAt: text("created_at").notNull(),
});

/**
 * Listing mirror of each job. The job's Durable Object is the source of truth; it writes this
 * row on every transition, stamping `version` so an older write never overwrites a newer one.
 */
export const jobs = sqliteTable(
  "jobs",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    workflowId: integer("workflow_id").notNull(),
    status: text("status").notNull(),
    startAt: text("start_at").notNull(),
    startedAt: text("started_at"),
    finishedAt: text("finished_at"),
    /** When a running job passes its workflow timeout (startedAt + timeout); for the cron sweep. */
    deadlineAt: text("deadline_at"),
    /** The rest of the job's JSON, so listings never call the Durable Objects. */
    parameters: text("parameters", { mode: "json" }).notNull().default({}).$type<Record<string, string>>(),
    progress: text("progress", { mode: "json" }).$type<{ task: string | null; done: number; total: number }>(),
    error: text("error"),
    version: integer("version").notNull().default(0),
    ...timestamps,
    /** The schedule that started the job (null for jobs posted by clients). */
    scheduleId: integer("schedule_id"),
    /** The fire time it was started for. With `scheduleId` the job's identity: one job per (schedule, fire time). */
    scheduledFor: text("scheduled_for"),
    /**
     * The identity of a job a trigger started (null for other jobs): `event:<eventID>:<workflowID>`
     * for a record trigger, `date:<workflowID>:<trigger key>:<contentID>:<date value>` for a date
     * trigger. Unique: a redelivered event or a racing sweep finds the job already there.
     */
    triggerKey: text("trigger_key"),
    /** The item whose change (or date) started the job, for `GET /job/?triggerContentID=`. */
    triggerContentId: integer("trigger_content_id"),
    /** `triggeredBy` of the job's JSON. */
    triggeredBy: text("triggered_by", { mode: "json" }).$type<Record<string, unknown>>(),
    /** `import` of the job's JSON (an import job's options and counts, src/bulk); null for other jobs. */
    import: text("import", { mode: "json" }).$type<Record<string, unknown>>(),
  },
  (t) => [
    index("jobs_status_idx").on(t.status, t.id),
    index("jobs_workflow_idx").on(t.workflowId, t.id),
    index("jobs_due_idx").on(t.status, t.startAt),
    index("jobs_deadline_idx").on(t.status, t.deadlineAt),
    // The cron sweep's orphan query (version 0: a creation that died half-way) reads only these.
    index("jobs_unmirrored_idx").on(t.createdAt).where(sql`version = 0`),
    // NULLs are distinct in a SQLite unique index: client jobs never collide; a schedule's do.
    uniqueIndex("jobs_schedule_fire_unique").on(t.scheduleId, t.scheduledFor),
    index("jobs_schedule_idx").on(t.scheduleId, t.id),
    // A schedule's queued or running jobs (its overlap check), without walking its finished ones.
    index("jobs_schedule_status_idx").on(t.scheduleId, t.status, t.id),
    uniqueIndex("jobs_trigger_key_unique").on(t.triggerKey),
    index("jobs_trigger_content_idx").on(t.triggerContentId, t.id),
  ],
);

/**
 * A workflow that starts itself on a cron spec (src/schedules). This row is the truth of the
 * schedule's definition and what listings read; the schedule's Durable Object keeps the clock (its
 * alarm) and the firing progress, and writes `next_fire_at` back for the cron sweep.
 */
export const schedules = sqliteTable(
  "schedules",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    workflowId: integer("workflow_id").notNull(),
    cron: text("cron").notNull(),
    timezone: text("timezone").notNull(),
    parameters: text("parameters", { mode: "json" }).notNull().default({}).$type<Record<string, string>>(),
    startAt: text("start_at"),
    endAt: text("end_at"),
    overlap: text("overlap").notNull(),
    catchupWindow: integer("catchup_window").notNull(),
    paused: integer("paused", { mode: "boolean" }).notNull().default(false),
    /** The token subject that created the schedule: its jobs run as this user. */
    userId: text("user_id").notNull(),
    /** Fire times at or before this instant are never started by the clock (creation, a change of timing, a resume). */
    firesAfter: text("fires_after").notNull(),
    /** The next fire time the clock waits for (null: paused or ended); the sweep re-arms rows overdue here. */
    nextFireAt: text("next_fire_at"),
    /** Bumped by every edit; the Durable Object writes `next_fire_at` only for the version it read. */
    version: integer("version").notNull().default(1),
    ...timestamps,
  },
  (t) => [index("schedules_workflow_idx").on(t.workflowId, t.id), index("schedules_next_fire_idx").on(t.nextFireAt)],
);

/**
 * `Idempotency-Key` of a job creation, scoped to the token's subject, kept for 24 hours. The
 * request holding the key is named by `claimToken` (random per claim, new on every take-over);
 * each later step of that request is conditional on it (src/jobs/idempotency.ts).
 */
export const idempotencyKeys = sqliteTable(
  "idempotency_keys",
  {
    key: text("key").primaryKey(),
    /** 0 while the claiming request is still making its job. */
    jobId: integer("job_id").notNull(),
    requestHash: text("request_hash").notNull(),
    createdAt: text("created_at").notNull(),
    /** Rows written before claim tokens existed read '' (one more token value, claimed like any other). */
    claimToken: text("claim_token").notNull().default(""),
  },
  // The cron sweep deletes keys older than 24 h through this, instead of reading them all.
  (t) => [index("idempotency_keys_created_idx").on(t.createdAt)],
);

/**
 * The content writes of workflow tasks, by the task's Idempotency-Key, recorded in the write's own
 * batch: an attempt that runs again after its write committed (its Durable Object instance died
 * before storing the outcome) finds its effect here instead of writing twice. Kept 30 days.
 */
export const taskEffects = sqliteTable(
  "task_effects",
  {
    key: text("key").primaryKey(),
    contentId: integer("content_id").notNull(),
    createdAt: text("created_at").notNull(),
  },
  (t) => [index("task_effects_created").on(t.createdAt)],
);

/**
 * One row per import job (src/bulk): the switch that decides whether its rows become visible.
 * `staging` while rows are checked and staged; the publish batch commits only while it still says
 * `staging` and sets `published`; a cancel (or any other end) first sets `void`, after which
 * nothing of the import can be published or staged.
 */
export const importRuns = sqliteTable("import_runs", {
  jobId: integer("job_id").primaryKey(),
  moduleId: integer("module_id").notNull(),
  /** `staging`, `published` or `void`. */
  state: text("state").notNull(),
  ...timestamps,
});

/**
 * The checked rows of an import, staged until the import publishes them in one batch (or drops
 * them). Keyed by (job, row number), so staging a batch again after a crash stages nothing twice.
 */
export const importRows = sqliteTable(
  "import_rows",
  {
    jobId: integer("job_id").notNull(),
    /** The row's number in the file (1 = the first record after the header). */
    row: integer("row").notNull(),
    /** The item the row replaces values of (`onConflict=update`); null: a new item. */
    contentId: integer("content_id"),
    /** The row's key value, folded as the key field compares (`key=<field>`); null without a key. */
    key: text("key"),
    /** The item's values and search text, as `content.data` and `content.search` will hold them. */
    data: text("data").notNull(),
    search: text("search").notNull(),
  },
  (t) => [primaryKey({ columns: [t.jobId, t.row] }), index("import_rows_key_idx").on(t.jobId, t.key)],
);

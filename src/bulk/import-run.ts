// The `import` task: runs inside the import job's Durable Object, in its alarm, like any attempt
// (docs/api/import-export.md, "How it runs"). It reads the stored file chunk by chunk; each chunk is one
// batch: rows read and checked as the content API checks them, the related IDs and keys of the
// whole batch looked up in one query each, the valid rows staged in one D1 batch, and then the
// batch recorded in the job (progress, rejected rows, log lines) in one Durable Object
// transaction. A run that dies resumes after the last recorded batch (staging is keyed by row, so
// a batch staged but not recorded stages nothing twice). Once every chunk is read, the staged set
// is checked as a whole and published in one D1 batch.
import { getDb, type Db } from "../db/client";
import { isAborted } from "../db/raw";
import { ApiError } from "../http/errors";
import type { ImportStep } from "../jobs/job-engine";
import type { Job } from "../jobs/job-state";
import type { AttemptReport, LogInput } from "../jobs/model";
import { findModule, type Module } from "../module-model/module";
import { checkFieldValue, isMultiField } from "../fields/registry";
import { normaliseId } from "../http/ids";
import { storedForm } from "../content/service";
import { isEmptyValue, toStored } from "../content/storage";
import { refusedUniqueColumn } from "../content/unique";
import { liveItemModules, missingRelated, type RelatedWanted } from "../content/related";
import { checkContentFields } from "../content/validate";
import { IMPORT_LOGGED_REJECTS, IMPORT_MAX_RESTARTS } from "./import-limits";
import { initialImportState, type ImportSpec, type ImportState } from "../jobs/import-job";
import { describeProblems, type ImportChunk, type RejectedRow } from "./import-model";
import {
  checkStaged,
  clearStaged,
  itemsById,
  itemsByKey,
  publish,
  runState,
  stagedCounts,
  stageRows,
  unstage,
  voidRun,
  type Finding,
  type StagedRow,
} from "./import-stage";
import type { ImportFiles } from "./import-store";
import { foldKey, PlanError, planImport, problemOf, rowInput, type ImportPlan } from "./import-values";

/** What the job's Durable Object gives the run (import-job-object.ts). */
export interface ImportHost {
  load(): Job | null;
  files: ImportFiles;
  /** Records a batch (state, progress, lines, rejected rows) in one transaction; false when this run is no longer the job's. */
  commit(step: ImportStep, rejects: RejectedRow[], resetRejects: boolean): boolean;
  /** Writes the job's mirror row (progress in listings). */
  settle(): Promise<void>;
  /** Hands trigger events to the queue. */
  queueEvents(eventIDs: number[]): Promise<void>;
}

/** The run was stopped: the job no longer waits for it (cancelled, or taken over). */
class Discarded extends Error {}
/** A failure no retry mends (invalid rows under `mode=all`, the module gone): the job fails at once. */
class ImportFailure extends Error {}
/** The module was edited while the import ran: check the file again against the new definition. */
class Restart extends Error {}

const rowsText = (n: number) => `${n} ${n === 1 ? "row" : "rows"}`;

export async function runImport(env: Env, host: ImportHost, deadline: number, signal: AbortSignal): Promise<AttemptReport | null> {
  const started = Date.now();
  const job = host.load();
  const spec = job?.definition.import;
  if (!job || !spec) return { ok: false, durationMs: 0, message: "not an import job", final: true };
  const run = new ImportRun(env, host, job, spec, deadline, signal);
  try {
    await run.run();
    return { ok: true, durationMs: Date.now() - started };
  } catch (err) {
    const durationMs = Date.now() - started;
    if (err instanceof Discarded || signal.aborted) return null;
    if (err instanceof ImportFailure) return { ok: false, durationMs, message: err.message, final: true };
    const message = err instanceof Error ? err.message : String(err);
    console.error(JSON.stringify({ level: "error", msg: "import attempt failed", jobID: job.state.jobID, error: String((err as Error)?.stack ?? err) }));
    return { ok: false, durationMs, message: `the import stopped at row ${run.state.rowsDone + 1} and resumes there: ${message}` };
  }
}

class ImportRun {
  state: ImportState;
  private readonly db: Db;
  private readonly jobId: number;
  private readonly userId: string;

  constructor(
    env: Env,
    private readonly host: ImportHost,
    job: Job,
    private readonly spec: ImportSpec,
    private readonly deadline: number,
    private readonly signal: AbortSignal,
  ) {
    this.state = structuredClone(job.state.import ?? initialImportState());
    this.db = getDb(env);
    this.jobId = Number(job.state.jobID);
    this.userId = job.state.userID ?? "0";
  }

  private commit(lines: LogInput[], rejects: RejectedRow[] = [], resetRejects = false) {
    if (!this.host.commit({ state: this.state, done: this.state.rowsDone, lines }, rejects, resetRejects)) throw new Discarded();
  }

  private stopIfAsked() {
    if (this.signal.aborted) throw new Discarded();
    // Leave room to record the batch: the next attempt resumes after it.
    if (Date.now() > this.deadline - 15_000) throw new Error("the attempt's time is up");
  }

  async run() {
    const where = await runState(this.db, this.jobId);
    if (where === "published") return this.publishedAlready();
    if (where !== "staging") throw new ImportFailure("the import was ended before it published (cancelled); nothing was imported");
    // Each round after the first follows a restart, and restart() fails past IMPORT_MAX_RESTARTS.
    for (let round = 0; ; round++) {
      if (round > IMPORT_MAX_RESTARTS + 1) throw new Error("bug: more rounds than restarts");
      try {
        const plan = await this.plan();
        await this.stage(plan);
        await this.publish(plan);
        return;
      } catch (err) {
        if (!(err instanceof Restart)) throw err;
        await this.restart(err.message);
      }
    }
  }

  /** The module as it is now; its definition must be the one the rows staged so far were checked against. */
  private async plan(): Promise<ImportPlan> {
    const module = await findModule(this.db, Number(this.spec.moduleID));
    if (!module) await this.fail(`module ${this.spec.moduleID} was deleted while the import ran; nothing was imported`);
    if (this.state.fieldsVersion !== null && this.state.fieldsVersion !== module!.fieldsVersion)
      throw new Restart("the module was edited while the import ran");
    try {
      const plan = planImport(module!, this.spec);
      this.state.fieldsVersion = module!.fieldsVersion;
      return plan;
    } catch (err) {
      if (err instanceof PlanError) return this.fail(`${err.message}; nothing was imported`);
      throw err;
    }
  }

  private async restart(why: string) {
    if (this.state.restarts >= IMPORT_MAX_RESTARTS) await this.fail(`${why} ${IMPORT_MAX_RESTARTS + 1} times; nothing was imported, send the file again`);
    await clearStaged(this.db, this.jobId);
    this.state = { ...initialImportState(), restarts: this.state.restarts + 1 };
    this.commit(
      [
        {
          level: "warn",
          message: `${why}: checking the file again from row 1 against the module's new definition (restart ${this.state.restarts} of ${IMPORT_MAX_RESTARTS})`,
        },
      ],
      [],
      true,
    );
  }

  /** Ends the import without publishing (its staged rows dropped), failing the job for good. */
  private async fail(message: string): Promise<never> {
    await voidRun(this.db, this.jobId);
    this.state.phase = "dropped";
    this.commit([]);
    throw new ImportFailure(message);
  }

  // ---------------------------------------------------------------- batches

  private async stage(plan: ImportPlan) {
    for (let guard = 0; this.state.nextChunk < this.spec.chunks && guard < 100_000; guard++) {
      this.stopIfAsked();
      const chunk = this.host.files.chunk(this.state.nextChunk);
      if (!chunk) throw new Error(`chunk ${this.state.nextChunk} of the file is missing`);
      const batch = await checkBatch(this.db, plan, this.spec, chunk);
      // Under mode=all, once a row is rejected nothing will be published: the rest is only checked (for the report).
      const staging = this.spec.mode === "valid" || this.state.rejected + batch.rejects.length === 0;
      if (staging && batch.staged.length && (await stageRows(this.db, this.jobId, batch.staged)) !== "staging") {
        throw new ImportFailure("the import was ended before it published (cancelled); nothing was imported");
      }
      const first = chunk.firstRow;
      const last = first + chunk.records.length - 1;
      this.state.nextChunk += 1;
      this.state.rowsDone += chunk.records.length;
      if (staging) this.state.staged += batch.staged.length;
      this.state.skipped += batch.skipped;
      this.state.rejected += batch.rejects.length;
      const valid = staging ? `${batch.staged.length} staged` : `${batch.staged.length} valid (not staged: mode all and rows were rejected)`;
      const lines: LogInput[] = [
        {
          level: batch.rejects.length ? "warn" : "info",
          message: `batch ${this.state.nextChunk} of ${this.spec.chunks}: rows ${first}-${last}: ${valid}, ${batch.skipped} skipped, ${batch.rejects.length} rejected`,
          data: {
            batch: this.state.nextChunk,
            firstRow: first,
            lastRow: last,
            staged: staging ? batch.staged.length : 0,
            skipped: batch.skipped,
            rejected: batch.rejects.length,
          },
        },
        ...this.rejectLines(batch.rejects),
      ];
      this.commit(lines, batch.rejects);
      await this.host.settle();
    }
  }

  /** One line per rejected row (row, column, message), the first IMPORT_LOGGED_REJECTS of them; the report has all. */
  private rejectLines(rejects: RejectedRow[]): LogInput[] {
    const lines: LogInput[] = [];
    for (const r of rejects) {
      if (this.state.logged < IMPORT_LOGGED_REJECTS) {
        lines.push({ level: "warn", message: `row ${r.row} rejected: ${describeProblems(r.problems)}`, data: { row: r.row, problems: r.problems } });
      } else if (this.state.logged === IMPORT_LOGGED_REJECTS) {
        lines.push({
          level: "warn",
          message: `more than ${IMPORT_LOGGED_REJECTS} rows rejected: the rest are listed in the report only (GET /job/${this.jobId}/report)`,
        });
      }
      this.state.logged = Math.min(this.state.logged + 1, IMPORT_LOGGED_REJECTS + 1);
    }
    return lines;
  }

  // ---------------------------------------------------------------- publishing

  private invalidMessage() {
    return `${rowsText(this.state.rejected)} of ${this.spec.rows} rejected and mode is all, so nothing was imported; GET /job/${this.jobId}/report lists them`;
  }

  private async publish(plan: ImportPlan) {
    if (this.spec.mode === "all" && this.state.rejected > 0) await this.fail(this.invalidMessage());
    for (let tries = 1; ; tries++) {
      this.stopIfAsked();
      await this.checkAsAWhole(plan);
      if (this.spec.mode === "all" && this.state.rejected > 0) await this.fail(this.invalidMessage());
      const counts = await stagedCounts(this.db, this.jobId);
      this.state.publishing = counts;
      this.commit([{ level: "info", message: `publishing ${counts.creates} new items and ${counts.updates} updates in one batch` }]);
      let events: number[];
      try {
        events = await publish(this.db, {
          plan,
          jobId: this.jobId,
          userId: this.userId,
          triggers: this.spec.triggers,
          origin: { actor: this.userId, depth: 1, jobID: String(this.jobId) },
        });
      } catch (err) {
        // The batch may have committed although its answer was lost: then the import is published.
        if (await this.whyRefused(plan.module)) return this.published(counts, []);
        if (tries < 3 && (isAborted(err) || refusedUniqueColumn(err, plan.module.id))) continue; // a value or related item changed meanwhile: check again
        throw err;
      }
      await this.published(counts, events);
      return;
    }
  }

  /** The publish batch's guard refused it: cancelled (stop), the module edited (start over), or a related item gone (check again). */
  private async whyRefused(module: Module): Promise<boolean> {
    const state = await runState(this.db, this.jobId);
    if (state === "published") return true;
    if (state !== "staging") throw new ImportFailure("the import was ended before it published (cancelled); nothing was imported");
    const now = await findModule(this.db, module.id);
    if (!now || now.fieldsVersion !== module.fieldsVersion) throw new Restart("the module was edited while the import ran");
    return false;
  }

  private async published(counts: { creates: number; updates: number }, events: number[]) {
    this.state.phase = "published";
    this.state.created = counts.creates;
    this.state.updated = counts.updates;
    this.state.staged = 0;
    this.state.publishing = null;
    const s = this.state;
    this.commit([
      {
        level: "info",
        message: `import published: ${s.created} created, ${s.updated} updated, ${s.skipped} skipped, ${s.rejected} rejected of ${this.spec.rows} rows${events.length ? `; ${events.length} trigger events recorded` : ""}`,
        data: { created: s.created, updated: s.updated, skipped: s.skipped, rejected: s.rejected, events: events.length },
      },
    ]);
    if (events.length) await this.host.queueEvents(events);
  }

  /** A run that died while its publish batch committed finds the import published: it records that and ends. */
  private publishedAlready() {
    if (this.state.phase === "published") return;
    const counts = this.state.publishing ?? { creates: 0, updates: 0 };
    return this.published(counts, []);
  }

  /**
   * The checks only the whole staged set can answer (keys and unique values given twice, values
   * taken or related items deleted since the rows were checked), until none is found: each round
   * takes what it found out of the staged set (rejected, or skipped) and records it.
   */
  private async checkAsAWhole(plan: ImportPlan) {
    for (let round = 0; round < 1000; round++) {
      const findings = await checkStaged(this.db, plan, this.jobId, this.spec.onConflict);
      if (!findings.length) return;
      const byRow = new Map<number, Finding[]>();
      for (const f of findings) byRow.set(f.row, [...(byRow.get(f.row) ?? []), f]);
      const skipped = [...byRow].filter(([, fs]) => fs.every((f) => f.skip)).map(([row]) => row);
      const rejectedRows = [...byRow.keys()].filter((row) => !skipped.includes(row));
      const cells = this.host.files.cellsOf(rejectedRows);
      const rejects: RejectedRow[] = rejectedRows.map((row) => ({
        row,
        cells: cells.get(row) ?? {},
        problems: byRow
          .get(row)!
          .filter((f) => !f.skip)
          .map((f) => ({ column: f.column, message: f.message })),
      }));
      await unstage(this.db, this.jobId, [...byRow.keys()]);
      this.state.staged -= byRow.size;
      this.state.skipped += skipped.length;
      this.state.rejected += rejects.length;
      this.commit(
        [
          {
            level: rejects.length ? "warn" : "info",
            message: `checked the staged rows as a whole: ${skipped.length} skipped, ${rejects.length} rejected`,
            data: { skipped: skipped.length, rejected: rejects.length },
          },
          ...this.rejectLines(rejects),
        ],
        rejects,
      );
      if (this.spec.mode === "all" && rejects.length) return;
    }
  }
}

// ---------------------------------------------------------------- one batch

type Pending = { row: number; data: Record<string, unknown>; related: RelatedWanted[]; contentId: number | null; key: string | null };

/**
 * Checks a chunk's rows: read (CSV text to the field's JSON value), matched by key, validated like
 * the content API (checkContentFields), related IDs of the whole batch in one query, stored form
 * (and its size bound). Answers the rows to stage, the rows skipped and the rows rejected.
 */
async function checkBatch(
  db: Db,
  plan: ImportPlan,
  spec: ImportSpec,
  chunk: ImportChunk,
): Promise<{ staged: StagedRow[]; skipped: number; rejects: RejectedRow[] }> {
  const { module, key } = plan;
  const rows = chunk.records.map((record, i) => ({
    row: chunk.firstRow + i,
    record,
    ...rowInput(plan, record),
    keyStored: undefined as unknown,
    keyFolded: null as string | null,
  }));
  let matches = new Map<string, { id: number; values: Record<string, unknown> }[]>();
  if (plan.idColumn !== null) {
    for (const r of rows) {
      const cell = r.record[plan.idColumn];
      if (cell === undefined || cell === null || cell === "") continue;
      const id = normaliseId(cell, { trim: true });
      if (id === null) r.problems.push({ column: plan.keyColumn, message: "must be an item ID (a positive integer) or empty for a new item" });
      else [r.keyStored, r.keyFolded] = [Number(id), id];
    }
    matches = await itemsById(db, module, [...new Set(rows.filter((r) => r.keyFolded !== null).map((r) => r.keyStored as number))]);
  } else if (key) {
    for (const r of rows) {
      const given = r.input[key.name];
      if (isEmptyValue(given) || isMultiField(key)) continue;
      const checked = checkFieldValue(key, given);
      if (!checked.ok) continue; // reported by the validation below
      r.keyStored = toStored(key, checked.value);
      r.keyFolded = foldKey(key, r.keyStored);
    }
    matches = await itemsByKey(db, module, key, [...new Set(rows.filter((r) => r.keyFolded !== null).map((r) => r.keyStored))]);
  }
  const keyColumn = plan.keyColumn;
  const rejects: RejectedRow[] = [];
  const pending: Pending[] = [];
  let skipped = 0;
  for (const r of rows) {
    const problems = [...r.problems];
    const unread = new Set(problems.map((p) => p.column));
    const matched = r.keyFolded === null ? [] : (matches.get(r.keyFolded) ?? []);
    let contentId: number | null = null;
    let input: Record<string, unknown> = r.input;
    if (plan.idColumn !== null && r.keyFolded !== null && matched.length === 0) {
      problems.push({ column: keyColumn, message: `no live item ${r.keyFolded} in module ${module.id}; leave the cell empty to create a new item` });
    } else if (matched.length > 1) {
      problems.push({
        column: keyColumn,
        message: `the key matches ${matched.length} items (${matched
          .map((m) => m.id)
          .slice(0, 5)
          .join(", ")}); a key must name one item`,
      });
    } else if (matched.length === 1) {
      if (spec.onConflict === "skip") {
        skipped++;
        continue;
      }
      if (spec.onConflict === "error") {
        problems.push({ column: keyColumn, message: `an item with this key already exists (item ${matched[0].id})` });
        rejects.push({ row: r.row, cells: r.record, problems });
        continue;
      }
      contentId = matched[0].id;
      // An update replaces the values of the file's columns; fields without a column keep theirs.
      input = { ...matched[0].values, ...r.input };
    }
    const checked = checkContentFields(module, input, contentId === null ? "create" : "update");
    for (const detail of checked.details) {
      const problem = problemOf(plan, detail);
      if (!unread.has(problem.column)) problems.push(problem);
    }
    if (problems.length) rejects.push({ row: r.row, cells: r.record, problems });
    else pending.push({ row: r.row, data: checked.data, related: checked.related, contentId, key: r.keyFolded });
  }
  const found = await liveItemModules(
    db,
    pending.flatMap((p) => p.related.flatMap((w) => w.ids)),
  );
  const staged: StagedRow[] = [];
  for (const p of pending) {
    const problems = missingRelated(p.related, found).map((d) => problemOf(plan, d));
    let stored: { data: string; search: string } | undefined;
    if (!problems.length) {
      try {
        stored = storedForm(module, p.data);
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        problems.push({ column: null, message: err.details?.[0]?.message ?? err.message });
      }
    }
    if (problems.length || !stored) rejects.push({ row: p.row, cells: chunk.records[p.row - chunk.firstRow], problems });
    else staged.push({ row: p.row, contentId: p.contentId, key: p.key, ...stored });
  }
  rejects.sort((a, b) => a.row - b.row);
  return { staged, skipped, rejects };
}

// The job's Durable Object with what import jobs add to it (docs/api/import-export.md,
// "Import"): the upload's file stored next to the job before the job exists, the report of its
// rejected rows, the `import` task's executor, the gate before a client ends the job and the
// clean-up once it has ended (import-host.ts). The engine (src/jobs/job-object-base.ts) knows none of
// this; the class the Worker exports (src/worker/job-object.ts) builds on this one.
import type { Executor } from "../jobs/attempt";
import * as engine from "../jobs/job-engine";
import { JobObjectBase } from "../jobs/job-object-base";
import type { Job } from "../jobs/job-state";
import type { CreateInput, Refusal } from "../jobs/model";
import type { JobStatus } from "../jobs/states";
import { cleanUpImport, importEndGate, queueImportEvents } from "./import-host";
import { IMPORT_ORPHAN_FILE_MS } from "./import-limits";
import type { RejectedRow } from "./import-model";
import { runImport, type ImportHost } from "./import-run";
import { ImportFiles } from "./import-store";

export abstract class ImportJobObject extends JobObjectBase {
  /** An import job's file and rejected rows (import-store.ts), in the job's own SQLite. */
  private readonly files: ImportFiles;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.files = new ImportFiles(ctx.storage.sql);
  }

  /** Runs the `import` task: the one task of an import job. */
  protected readonly runImportTask: Executor = (env, run, cancel) => runImport(env, this.importHost(run.attemptId), run.deadline, cancel);

  protected override beforeCreate(input: CreateInput) {
    if (input.import && !this.load() && this.files.chunkCount() !== input.import.chunks) {
      throw new Error(`bug: the import's file has ${this.files.chunkCount()} of ${input.import.chunks} chunks stored`);
    }
  }

  protected override endGate(job: Job | null, to: JobStatus | undefined): Promise<Refusal | null> {
    return importEndGate(this.env, job, to);
  }

  protected override afterSettle(job: Job | null) {
    return cleanUpImport(this.env, job, this.files);
  }

  /** An import upload that never became a job. */
  protected override alarmWithoutJob() {
    this.files.dropFile();
  }

  /**
   * The upload stores the file's chunks before the job exists (its create comes last). Should the
   * upload die, the alarm drops them after IMPORT_ORPHAN_FILE_MS.
   */
  async storeImportChunks(chunks: { seq: number; firstRow: number; json: string }[]): Promise<void> {
    if (this.load()) throw new Error("the job exists already; its file cannot change");
    this.files.putChunks(chunks);
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + IMPORT_ORPHAN_FILE_MS);
  }

  /** The upload failed: drop what it stored (nothing, once the job exists). */
  async discardImportFile(): Promise<void> {
    if (this.load()) return;
    this.files.dropFile();
    await this.ctx.storage.deleteAlarm();
  }

  /** A page of an import job's rejected rows; null when there is no job, `not_import` for another job. */
  async importReport(afterRow: number, limit: number): Promise<{ columns: string[]; format: string; rows: RejectedRow[] } | "not_import" | null> {
    const job = this.load();
    if (!job) return null;
    if (!job.definition.import) return "not_import";
    return { columns: job.definition.import.columns, format: job.definition.import.format, rows: this.files.rejects(afterRow, limit) };
  }

  private importHost(attemptId: string): ImportHost {
    return {
      load: () => this.load(),
      files: this.files,
      commit: (step, rejects, resetRejects) =>
        this.decide((job) => {
          const decision = engine.importProgress(job, attemptId, this.instance, step, Date.now());
          if (decision.value) {
            if (resetRejects) this.files.clearRejects();
            this.files.addRejects(rejects);
          }
          return decision;
        })?.value ?? false,
      settle: () => this.settle(),
      queueEvents: (ids) => queueImportEvents(this.env, ids),
    };
  }
}

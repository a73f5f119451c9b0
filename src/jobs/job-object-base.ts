// One Durable Object per job (addressed by idFromName(jobID)): the job's state, its log, and the
// place its attempts run. The engine is described once, in docs/jobs.md.
//
// Every entry point has the same shape: load the job, ask a decision of job-engine.ts, write its
// outcome — all in one synchronous transaction (`decide`) — and then carry out its effects (queue
// sends, runs, aborts), then write the mirror and point the alarm (`settle`). Nothing else reaches
// the stored state.
//
// This is the engine's Durable Object, below everything that runs inside jobs or makes them: what
// runs each task kind (`executors`) and what other kinds of job add (imports, src/bulk; telling a
// schedule its job ended) come from subclasses. The class the Worker exports is composed in
// src/worker/job-object.ts.
import { sha256Hex } from "../http/hash";
import { DurableObject } from "cloudflare:workers";
import type { ExecutedKind, Executor } from "./attempt";
import * as engine from "./job-engine";
import type { Decision, Effect, RunOrder } from "./job-engine";
import { MIRROR_RETRY_MS, syncMirror } from "./job-mirror";
import { jobView, newJob, type Job } from "./job-state";
import { JobStorage, type JobStore, type MirrorRow } from "./job-store";
import { ATTEMPT_RUN_BUDGET_MS, MAX_ALARM_MS, MIN_ALARM_MS } from "./limits";
import type { AttemptReport, CreateInput, DoResult, JobView, LogLine, Refusal, UpdateInput } from "./model";
import { isFinal, type JobStatus } from "./states";
import { importView } from "./import-job";

const notFound = (): DoResult<never> => ({ ok: false, refusal: { code: "not_found", message: "Job not found" } });

export abstract class JobObjectBase extends DurableObject<Env> {
  private readonly storage: JobStorage;
  /**
   * This instance's identity, kept in memory only. A run's marker names it; a DO has one live
   * instance, so a marker naming another one belongs to a run that is gone.
   */
  protected readonly instance = crypto.randomUUID();
  /** Runs in flight in this instance, by attempt ID: aborted when the job stops waiting for them. */
  private readonly runs = new Map<string, AbortController>();
  /** This instance announced that the job ended (see announceEnd). */
  private endAnnounced = false;

  /** What runs an attempt of each task kind (`delay` is the engine's own). */
  protected abstract readonly executors: Readonly<Record<ExecutedKind, Executor>>;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.storage = new JobStorage(ctx.storage.sql);
  }

  // ---------------------------------------------------------------- what subclasses add

  /** Before a job is created (synchronously, before its transaction): throws when it must not be. */
  protected beforeCreate(_input: CreateInput): void {}

  /** Before a client ends the job (cancel, or a final status): a refusal, or null to go on. */
  protected async endGate(_job: Job | null, _to: JobStatus | undefined): Promise<Refusal | null> {
    return null;
  }

  /** Once per instance, after the mirror says the job is final. Best effort: never throws. */
  protected async jobEnded(_job: Job): Promise<void> {}

  /** At the end of every settle, with the job as it is then. */
  protected async afterSettle(_job: Job | null): Promise<void> {}

  /** The alarm rang in a DO that holds no job. */
  protected alarmWithoutJob(): void {}

  // ---------------------------------------------------------------- the one way to the state

  private tx<T>(fn: () => T): T {
    try {
      return this.ctx.storage.transactionSync(fn);
    } catch (err) {
      // A rolled-back create takes its tables with it: ask SQLite again rather than trust the cache.
      this.storage.forgetTables();
      throw err;
    }
  }

  /** The job as stored (migrated to the current layout), or null when this DO holds none. */
  protected load(): Job | null {
    return this.tx(() => this.storage.load());
  }

  /** Loads, decides and writes the outcome in one transaction; null when there is no job. */
  protected decide<T>(fn: (job: Job) => Decision<T>): Decision<T> | null {
    return this.tx(() => {
      const job = this.storage.load();
      if (!job) return null;
      const decision = fn(job);
      this.storage.write(decision);
      return decision;
    });
  }

  // ---------------------------------------------------------------- API (called by the routes)

  /** Creates the job once; a repeat (same jobID) answers the existing job. */
  async create(input: CreateInput): Promise<{ job: JobView; created: boolean }> {
    const now = Date.now();
    this.beforeCreate(input);
    const decision = this.tx(() => {
      this.storage.ensureSchema();
      const d = engine.createJob(this.storage.load(), newJob(input, now), now);
      this.storage.write(d);
      return d;
    });
    await this.settle();
    return decision.value;
  }

  async get(): Promise<JobView | null> {
    const job = this.load();
    return job ? jobView(job) : null;
  }

  async logs(query: { offset: number; limit: number; after: number }): Promise<{ count: number; logs: LogLine[] } | null> {
    return this.tx(() => (this.storage.load() ? this.storage.readLogs(query) : null));
  }

  /** `POST /job/{jobID}`: all checks first, then every change in one transaction. */
  async update(input: UpdateInput): Promise<DoResult<JobView>> {
    const refused = await this.endGate(this.load(), input.status);
    if (refused) return { ok: false, refusal: refused };
    return this.answer(this.decide((job) => engine.updateJob(job, input, Date.now())));
  }

  /** `DELETE /job/{jobID}`. */
  async cancel(): Promise<DoResult<JobView>> {
    const refused = await this.endGate(this.load(), "cancelled");
    if (refused) return { ok: false, refusal: refused };
    return this.answer(this.decide((job) => engine.cancelJob(job, Date.now())));
  }

  private async answer(decision: Decision<Refusal | null> | null): Promise<DoResult<JobView>> {
    if (!decision) return notFound();
    if (decision.value) return { ok: false, refusal: decision.value };
    await this.carryOut(decision.effects, 0, false);
    await this.settle();
    const job = this.load();
    return job ? { ok: true, value: jobView(job) } : notFound();
  }

  /**
   * A trigger refused to start jobs for a change one of this job's content.* tasks made (the
   * change was past the trigger depth): the refusal is logged here, once per event however often
   * the event is dispatched. False when there is no job or the line was written before.
   */
  async noteTriggerRefusal(eventID: string, message: string, data: unknown): Promise<boolean> {
    return this.tx(() => {
      const job = this.storage.load();
      if (!job || !this.storage.firstRefusal(eventID)) return false;
      this.storage.write(engine.noteLine(job, "warn", null, message, data, Date.now()));
      return true;
    });
  }

  // ---------------------------------------------------------------- engine entry points

  /**
   * The queue consumer delivered an attempt's message: only the current, unclaimed attempt is
   * claimed, once. The claimed attempt runs in this DO's alarm, pointed at now.
   */
  async claimAttempt(attemptId: string): Promise<boolean> {
    const decision = this.decide((job) => engine.claimAttempt(job, attemptId, Date.now()));
    await this.settle();
    return decision?.value ?? false;
  }

  /** Cron sweep: start a missed start, time out an overdue job, repair the mirror. Idempotent. */
  async sweep(nowMs: number): Promise<JobView | null> {
    if (!this.load()) return null;
    await this.drive(nowMs, false);
    const job = this.load();
    return job ? jobView(job) : null;
  }

  /**
   * The alarm: the moment it was set for has come. This is where attempts run: the alarm handler
   * may take 15 minutes of wall time (an RPC or a queue consumer's waitUntil much less), and while
   * it awaits a run the DO still serves other calls (a cancel aborts the run at once).
   */
  async alarm() {
    const job = this.load();
    if (!job) {
      this.alarmWithoutJob();
      return;
    }
    const floor = job.state.alarmAt ?? 0;
    this.decide((j) => engine.alarmSet(j, null, Date.now()));
    await this.drive(floor, true);
  }

  // ---------------------------------------------------------------- driving the engine

  /**
   * Ticks the engine and carries out what it decides until it waits for something. Runs start
   * only when `canRun` (in the alarm), and at most one queue-kind run per alarm invocation, within
   * the alarm's wall time.
   */
  private async drive(floor: number, canRun: boolean) {
    const now = () => Math.max(Date.now(), floor);
    const budgetEnds = Date.now() + ATTEMPT_RUN_BUDGET_MS;
    let ranQueueKind = false;
    for (let guard = 0; guard < 1_000; guard++) {
      const decision = this.decide((job) => engine.tick(job, { now: now(), instance: this.instance, canRun, canRunQueued: canRun && !ranQueueKind }));
      if (!decision || decision.effects.length === 0) break;
      const run = decision.effects.find((e): e is Extract<Effect, { type: "run" }> => e.type === "run");
      if (run && run.run.task.kind !== "log" && run.run.task.kind !== "fail") {
        // Mirror and watchdog alarm first: the run may take minutes. (`log` and `fail` run in
        // microseconds, with no effect outside the job: the settle after the loop covers them.)
        await this.settle();
        ranQueueKind = true;
      }
      const report = await this.carryOut(decision.effects, budgetEnds, true);
      if (!report) break; // a send: the claim comes back through the queue
      this.decide((job) => engine.endAttempt(job, report.attemptId, report.report, now()));
    }
    await this.settle();
  }

  /** Sends, aborts and runs; answers the outcome of a run (null when there was none, or it was discarded). */
  private async carryOut(effects: Effect[], budgetEnds: number, mayRun: boolean): Promise<{ attemptId: string; report: AttemptReport } | null> {
    let outcome: { attemptId: string; report: AttemptReport } | null = null;
    for (const effect of effects) {
      if (effect.type === "abort") this.runs.get(effect.attemptId)?.abort(new Error(effect.reason));
      if (effect.type === "send") {
        try {
          await this.env.TASKS.send(effect.message);
        } catch (err) {
          // The attempt stays unclaimed; the watchdog alarm sends it again.
          console.error(JSON.stringify({ level: "error", msg: "queue send failed", jobID: effect.message.jobID, error: String(err) }));
        }
      }
      if (effect.type === "run" && mayRun) {
        const report = await this.run(effect.run, budgetEnds);
        if (report) outcome = { attemptId: effect.run.attemptId, report };
      }
    }
    return outcome;
  }

  /** Runs one attempt in this instance, awaited, abortable through `runs`. */
  private async run(order: RunOrder, budgetEnds: number): Promise<AttemptReport | null> {
    const job = this.load();
    if (!job) return null;
    const { state } = job;
    const controller = new AbortController();
    this.runs.set(order.attemptId, controller);
    try {
      const execute = order.task.kind === "delay" ? undefined : this.executors[order.task.kind];
      if (!execute) return { ok: false, durationMs: 0, message: `no executor for task kind '${order.task.kind}'`, final: true };
      const cut = budgetEnds < order.deadline;
      return await execute(
        this.env,
        {
          attemptId: order.attemptId,
          task: order.task,
          scope: this.storage.scope(job, order.phase),
          identity: {
            jobID: state.jobID,
            phase: order.phase,
            index: order.index,
            attempt: order.number,
            idempotencyKey: await sha256Hex(`job:${state.jobID}:${state.key}:${order.phase}:${order.index}:${order.task.name}`),
          },
          deadline: Math.min(order.deadline, budgetEnds),
          timeoutMessage: cut
            ? `timed out after ${Math.round(ATTEMPT_RUN_BUDGET_MS / 1000)} s (the most one attempt may run inside the Durable Object's 15-minute alarm)`
            : `timed out after ${order.task.timeout} s`,
        },
        controller.signal,
      );
    } finally {
      this.runs.delete(order.attemptId);
    }
  }

  // ---------------------------------------------------------------- mirror and alarm

  /** Writes the mirror if it is behind, then points the alarm at the next thing the job waits for. */
  protected async settle() {
    const behind = this.decide((job) => engine.mirrorStarting(job, MIRROR_RETRY_MS[0], Date.now()));
    if (!behind) return;
    // The alarm is pointed before the mirror write too (counting the write as one to retry): if
    // this DO dies while the write is in flight, the alarm still wakes it.
    await this.pointAlarm();
    if (behind.value) await this.writeMirror(behind.job!);
    await this.pointAlarm();
    await this.announceEnd();
    await this.afterSettle(this.load());
  }

  /** Once the job is final, after its mirror row says so: `jobEnded`, once per instance. */
  private async announceEnd() {
    if (this.endAnnounced) return;
    const job = this.load();
    if (!job || !isFinal(job.state.status)) return;
    this.endAnnounced = true;
    await this.jobEnded(job);
  }

  /**
   * syncMirror (job-mirror.ts) reads the job as a plain row and hands back the mirror bookkeeping
   * it decided on; the DO applies that through a decision like every other change.
   */
  private async writeMirror(job: Job) {
    const row: MirrorRow = {
      ...job.state,
      parameters: job.definition.parameters,
      schedule: job.definition.schedule ?? null,
      trigger: job.definition.trigger ?? null,
      importView: job.definition.import ? importView(job.definition.import, job.state.import) : null,
    };
    let after: MirrorRow | null = null;
    const view: JobStore = { load: () => structuredClone(after ?? row), save: (r) => void (after = structuredClone(r)) };
    const failed = (failures: number, retryAt: number | null): engine.MirrorOutcome => ({
      ok: false,
      failures,
      retryAt: retryAt ?? Date.now() + MIRROR_RETRY_MS[Math.min(failures, MIRROR_RETRY_MS.length) - 1],
    });
    let outcome: engine.MirrorOutcome | null;
    try {
      await syncMirror(this.env, view);
      const saved = after as MirrorRow | null;
      outcome = !saved ? null : saved.mirrored >= row.version ? { ok: true, version: row.version } : failed(saved.mirrorFailures, saved.mirrorRetryAt);
    } catch (err) {
      console.error(JSON.stringify({ level: "error", msg: "job mirror write failed", jobID: row.jobID, error: String(err) }));
      outcome = failed(row.mirrorFailures + 1, null);
    }
    if (outcome) {
      const result = outcome;
      this.decide((j) => engine.mirrorEnded(j, result, Date.now()));
    }
  }

  private async pointAlarm() {
    const job = this.load();
    if (!job) return;
    const wake = engine.wakeAt(job, Date.now(), this.instance);
    const at = wake === null ? null : Math.min(Math.max(wake, MIN_ALARM_MS), MAX_ALARM_MS);
    this.decide((j) => engine.alarmSet(j, at, Date.now()));
    if (at === null) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(at);
  }
}

// `POST /module/{moduleID}/import`: reads the file while it arrives (csv-parse.ts), checks its
// columns and bounds, hands it in chunks to the import job's Durable Object, and creates the job
// there last (docs/api/import-export.md, "Import"). A file refused half-way (a bad column, a malformed row, a limit)
// leaves nothing behind: no job, no stored chunk.
import type { Context } from "hono";
import { sql } from "drizzle-orm";
import { getDb } from "../db/client";
import { rawStatement, runBatch } from "../db/raw";
import { importRuns, jobs } from "../db/schema";
import { ApiError, badRequest } from "../http/errors";
import type { AppEnv } from "../http/types";
import type { JobView } from "../jobs/model";
import { jobStub } from "../jobs/queue";
import type { Module } from "../module-model/module";
import type { WorkflowSnapshot } from "../jobs/tasks";
import { parseFile, tooLarge, type FileRecord } from "./csv-parse";
import {
  IMPORT_BATCH_ROWS,
  IMPORT_CHUNK_BYTES,
  IMPORT_JOB_TIMEOUT_S,
  IMPORT_MAX_BYTES,
  IMPORT_MAX_COLUMNS,
  IMPORT_MAX_MULTIPART_BYTES,
  IMPORT_MAX_ROWS,
  IMPORT_RETRIES,
  IMPORT_UPLOAD_CALL_BYTES,
} from "./import-limits";
import type { ImportFormat, ImportSpec } from "../jobs/import-job";
import { IMPORT_TASK_NAME, type StoredRecord } from "./import-model";
import { resolveColumns, type ImportOptions } from "./import-options";
import { newRunStatement } from "./import-stage";
import { ID_KEY } from "./import-values";

/** The content types a file may be sent as, and the format each means. */
const BODY_TYPES: Record<string, ImportFormat> = {
  "text/csv": "csv",
  "application/csv": "csv",
  "application/json": "json",
  "application/x-ndjson": "ndjson",
  "application/ndjson": "ndjson",
  "application/jsonl": "ndjson",
  "application/x-jsonlines": "ndjson",
};

const EXTENSIONS: Record<string, ImportFormat> = { csv: "csv", json: "json", ndjson: "ndjson", jsonl: "ndjson" };

type Source = { format: ImportFormat; body: ReadableStream<Uint8Array>; maxBytes: number };

const unsupported = (type: string) =>
  new ApiError(
    "unsupported_media_type",
    `Unsupported content type '${type}'; send text/csv, application/json (an array of objects), application/x-ndjson, or a multipart form with the file`,
  );

/** A stream that errors with a 413 once more than `max` bytes passed (so a form is never read past the limit). */
function capped(body: ReadableStream<Uint8Array>, max: number): ReadableStream<Uint8Array> {
  let bytes = 0;
  return body.pipeThrough(
    new TransformStream({
      transform(chunk, controller) {
        bytes += chunk.byteLength;
        if (bytes > max) throw tooLarge(max);
        controller.enqueue(chunk);
      },
    }),
  );
}

/** Where the file is: the body itself, or the file part of a multipart form. */
async function fileSource(c: Context<AppEnv>, options: ImportOptions): Promise<Source> {
  const header = c.req.header("content-type") ?? "";
  const type = header.split(";")[0].trim().toLowerCase();
  const declared = Number(c.req.header("content-length") ?? "0");
  const body = c.req.raw.body;
  if (type === "multipart/form-data") {
    if (declared > IMPORT_MAX_MULTIPART_BYTES) throw tooLarge(IMPORT_MAX_MULTIPART_BYTES);
    let form: FormData;
    try {
      form = await new Response(body ? capped(body, IMPORT_MAX_MULTIPART_BYTES) : null, { headers: { "content-type": header } }).formData();
    } catch (err) {
      if (err instanceof ApiError) throw err;
      throw badRequest("Malformed multipart form body", undefined, "malformed_body");
    }
    const file = [...form.values()].find((v): v is File => typeof v !== "string");
    if (!file)
      throw badRequest("The form has no file part; send the file as a part with a filename (e.g. curl -F file=@leads.csv)", [
        { path: "file", message: "is required" },
      ]);
    const byType = BODY_TYPES[(file.type ?? "").split(";")[0].trim().toLowerCase()];
    const byName = EXTENSIONS[file.name.split(".").pop()?.toLowerCase() ?? ""];
    const format = options.format ?? byType ?? byName;
    if (!format) throw unsupported(file.type || "application/octet-stream");
    return { format, body: file.stream(), maxBytes: IMPORT_MAX_MULTIPART_BYTES };
  }
  const format = options.format ?? BODY_TYPES[type];
  if (!format) throw unsupported(type);
  if (declared > IMPORT_MAX_BYTES) throw tooLarge(IMPORT_MAX_BYTES);
  return { format, body: body ?? new Response("").body!, maxBytes: IMPORT_MAX_BYTES };
}

/** The import job's one task: dispatched, watched, retried and cancelled by the job engine like any task. */
const importSnapshot = (moduleId: number): WorkflowSnapshot => ({
  workflowID: "0",
  name: `import into module ${moduleId}`,
  timeout: IMPORT_JOB_TIMEOUT_S,
  tasks: [{ name: IMPORT_TASK_NAME, kind: "import", options: {}, retries: IMPORT_RETRIES, timeout: 900 }],
  onError: [],
});

/**
 * A JSON object's values: its own keys, or — for an object as the content API answers it (and a
 * JSON export writes it), `{"contentID": ..., "fields": [{name, value}]}` — the `fields` it holds,
 * when the module has no field named `fields`.
 */
function flatten(module: Module, record: Record<string, unknown>): Record<string, unknown> {
  const fields = record.fields;
  if (fields === undefined || module.fields.some((f) => f.name === "fields")) return record;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(record)) if (k !== "fields") out[k] = v;
  if (Array.isArray(fields)) {
    for (const entry of fields) {
      if (entry && typeof entry === "object" && typeof (entry as { name?: unknown }).name === "string")
        out[(entry as { name: string }).name] = (entry as { value?: unknown }).value;
    }
  } else if (fields && typeof fields === "object") Object.assign(out, fields);
  return out;
}

const utf8 = new TextEncoder();

/** Reads the file into chunks for the job's Durable Object; the job row and run row are made when the first chunks must go. */
class Upload {
  columns: string[] = [];
  private columnIndex = new Map<string, number>();
  fields: (string | null)[] | null = null;
  rows = 0;
  seq = 0;
  private parts: string[] = [];
  private partBytes = 0;
  private firstRow = 1;
  private calls: { seq: number; firstRow: number; json: string }[] = [];
  private callBytes = 0;
  jobId: number | null = null;

  constructor(
    private readonly env: Env,
    private readonly module: Module,
    private readonly format: ImportFormat,
    private readonly options: ImportOptions,
  ) {}

  async add(record: FileRecord) {
    if (Array.isArray(record)) {
      if (this.fields === null) return this.header(record);
      return this.push(record);
    }
    const values = flatten(this.module, record);
    const row: StoredRecord = {};
    for (const [key, value] of Object.entries(values)) {
      let at = this.columnIndex.get(key);
      if (at === undefined) {
        at = this.columns.length;
        this.columns.push(key);
        this.columnIndex.set(key, at);
        if (this.columns.length > IMPORT_MAX_COLUMNS) throw tooManyColumns(this.columns.length);
      }
      row[at] = value;
    }
    return this.push(row);
  }

  private header(record: string[]) {
    if (record.length > IMPORT_MAX_COLUMNS) throw tooManyColumns(record.length);
    this.columns = record;
    this.fields = resolveColumns(this.module, record, this.options);
  }

  private async push(record: StoredRecord) {
    this.rows++;
    if (this.rows > IMPORT_MAX_ROWS) {
      throw new ApiError("too_many_rows", `The file has more than ${IMPORT_MAX_ROWS} rows; split it into files of at most ${IMPORT_MAX_ROWS} rows`, [
        { path: "file", message: `at most ${IMPORT_MAX_ROWS} rows` },
      ]);
    }
    const json = JSON.stringify(record);
    // UTF-8 bytes, as the Durable Object's row limit counts them (non-ASCII text takes up to 3 per character).
    const bytes = utf8.encode(json).byteLength + 1;
    if (this.parts.length && (this.parts.length >= IMPORT_BATCH_ROWS || this.partBytes + bytes > IMPORT_CHUNK_BYTES)) await this.endChunk();
    this.parts.push(json);
    this.partBytes += bytes;
  }

  private async endChunk() {
    if (!this.parts.length) return;
    const json = `[${this.parts.join(",")}]`;
    this.calls.push({ seq: this.seq++, firstRow: this.firstRow, json });
    this.callBytes += json.length;
    this.firstRow += this.parts.length;
    this.parts = [];
    this.partBytes = 0;
    if (this.callBytes >= IMPORT_UPLOAD_CALL_BYTES) await this.send();
  }

  /** Hands the finished chunks to the job's Durable Object (making the job's rows first). */
  private async send() {
    if (!this.calls.length) return;
    const jobId = this.jobId ?? (await this.reserveJob());
    await jobStub(this.env, String(jobId)).storeImportChunks(this.calls);
    this.calls = [];
    this.callBytes = 0;
  }

  /** The job's mirror row (its ID is the jobID) and its run row, in one batch. */
  private async reserveJob(): Promise<number> {
    const db = getDb(this.env);
    const now = new Date().toISOString();
    const [[row]] = (await runBatch(db, [
      db
        .insert(jobs)
        .values({
          workflowId: 0,
          status: "queued",
          startAt: now,
          parameters: {},
          progress: { task: null, done: 0, total: 0 },
          version: 0,
          createdAt: now,
          updatedAt: now,
        })
        .returning({ id: jobs.id }),
      rawStatement(db, newRunStatement(sql`last_insert_rowid()`, this.module.id), "run"),
    ])) as [{ id: number }[]];
    this.jobId = row.id;
    return row.id;
  }

  async finish(bytes: number, userId: string): Promise<JobView> {
    if (this.rows === 0) {
      const what = this.format === "csv" && this.fields !== null ? "has a header but no rows" : "has no rows";
      throw badRequest(`The file ${what}; nothing to import`, [{ path: "file", message: what }], "empty_file");
    }
    if (this.fields === null) this.fields = resolveColumns(this.module, this.columns, this.options);
    await this.endChunk();
    await this.send();
    const spec: ImportSpec = {
      moduleID: String(this.module.id),
      format: this.format,
      mode: this.options.mode,
      key: this.options.key === ID_KEY ? ID_KEY : (this.options.key?.name ?? null),
      onConflict: this.options.onConflict,
      triggers: this.options.triggers,
      columns: this.columns,
      fields: this.fields,
      rows: this.rows,
      chunks: this.seq,
      bytes,
    };
    const jobID = String(this.jobId);
    const { job } = await jobStub(this.env, jobID).create({
      jobID,
      workflowID: "0",
      snapshot: importSnapshot(this.module.id),
      parameters: {},
      startAt: null,
      createdAt: Date.now(),
      userID: userId,
      import: spec,
    });
    return job;
  }

  /** After a refusal: whatever was made goes (the stored chunks, the job's rows). Best effort; the sweep and the orphan alarm catch the rest. */
  async abandon() {
    if (this.jobId === null) return;
    const db = getDb(this.env);
    await jobStub(this.env, String(this.jobId))
      .discardImportFile()
      .catch(() => {});
    await db
      .batch([
        db.delete(jobs).where(sql`${jobs.id} = ${this.jobId} and ${jobs.version} = 0`),
        db.delete(importRuns).where(sql`${importRuns.jobId} = ${this.jobId}`),
      ])
      .catch(() => {});
  }
}

const tooManyColumns = (n: number) =>
  badRequest(
    `The file has ${n} columns; at most ${IMPORT_MAX_COLUMNS}`,
    [{ path: "columns", message: `at most ${IMPORT_MAX_COLUMNS} columns` }],
    "too_many_columns",
  );

/** Reads the request's file and creates its import job (queued; it starts at once). */
export async function startImport(c: Context<AppEnv>, module: Module, options: ImportOptions): Promise<JobView> {
  const source = await fileSource(c, options);
  const upload = new Upload(c.env, module, source.format, options);
  try {
    const bytes = await parseFile(source.body, source.format, { maxBytes: source.maxBytes, delimiter: options.delimiter }, (record) => upload.add(record));
    return await upload.finish(bytes, c.get("user").sub);
  } catch (err) {
    await upload.abandon();
    throw err;
  }
}

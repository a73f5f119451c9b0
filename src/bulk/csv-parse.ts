// Reading an import file while it arrives: the body as a counted stream (a file over the limit is
// refused as soon as the limit is passed), checked to be UTF-8, and parsed record by record, so
// the Worker never holds the file. CSV through csv-parse (the csv.js.org parser, whose sibling
// csv-stringify writes our exports: one dialect, RFC 4180), a JSON array through
// @streamparser/json, NDJSON line by line. Writing CSV is csv.ts.
import { Buffer } from "node:buffer";
import { JSONParser } from "@streamparser/json";
import { parse as csvParser } from "csv-parse/stream";
import { ApiError, badRequest } from "../http/errors";
import { jsonDepthExceeds, MAX_JSON_DEPTH } from "../http/json";
import type { ImportFormat } from "../jobs/import-job";
import { IMPORT_MAX_RECORD_BYTES } from "./import-limits";

/** A record: a CSV record's cells (the header is the first), or one object of a JSON or NDJSON file. */
export type FileRecord = string[] | Record<string, unknown>;

type ParseOptions = {
  /** Bytes the file may have; past them a 413. */
  maxBytes: number;
  /** CSV only: the cell separator (default `,`). */
  delimiter?: string;
};

const malformed = (message: string) => badRequest(`Malformed file: ${message}`, [{ path: "file", message }], "malformed_file");

export const tooLarge = (maxBytes: number) =>
  new ApiError("payload_too_large", `The file is over the import limit of ${maxBytes} bytes (${Math.round(maxBytes / 1024 / 1024)} MiB)`, [
    { path: "file", message: `at most ${maxBytes} bytes` },
  ]);

/**
 * Counts the bytes (413 past `maxBytes`) and checks they are UTF-8 (a 400 naming the byte where
 * they stop being UTF-8: a file saved as Latin-1 or UTF-16 is refused, not imported as garbage).
 */
function countedUtf8(maxBytes: number): TransformStream<Uint8Array, Uint8Array> & { bytes: () => number } {
  let bytes = 0;
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
  const notUtf8 = () => malformed(`the file is not UTF-8 text (first bad byte within bytes ${bytes}); save it as UTF-8 and send it again`);
  const stream = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      const at = bytes;
      bytes += chunk.byteLength;
      if (bytes > maxBytes) throw tooLarge(maxBytes);
      try {
        decoder.decode(chunk, { stream: true });
      } catch {
        bytes = at + chunk.byteLength;
        throw notUtf8();
      }
      controller.enqueue(chunk);
    },
    flush() {
      try {
        decoder.decode();
      } catch {
        throw notUtf8();
      }
    },
  });
  return Object.assign(stream, { bytes: () => bytes });
}

/**
 * Reads the file, calling `onRecord` for each record in order (awaited: the caller may send a
 * chunk of rows on before the next is read). Answers the file's size in bytes. Throws 400
 * `malformed_file` (not UTF-8, unterminated quotes, rows of different lengths, bad JSON) or 413.
 * Throwing from `onRecord` stops reading (the rest of the body is never read).
 */
export async function parseFile(
  body: ReadableStream<Uint8Array>,
  format: ImportFormat,
  options: ParseOptions,
  onRecord: (record: FileRecord) => Promise<void>,
): Promise<number> {
  const counted = countedUtf8(options.maxBytes);
  const bytes = body.pipeThrough(counted);
  if (format === "csv") await readCsv(bytes, options, onRecord);
  else if (format === "ndjson") await readNdjson(bytes, onRecord);
  else await readJsonArray(bytes, onRecord);
  return counted.bytes();
}

// ---------------------------------------------------------------- CSV

/** csv-parse's errors in our words (its own message is kept: it names the line). */
function csvError(err: unknown): unknown {
  const e = err as { code?: string; message?: string };
  if (!e || typeof e.code !== "string" || !e.code.startsWith("CSV_")) return err;
  if (e.code === "CSV_MAX_RECORD_SIZE") return malformed(`a row is over ${IMPORT_MAX_RECORD_BYTES} bytes (${e.message})`);
  if (e.code === "CSV_RECORD_INCONSISTENT_FIELDS_LENGTH" || e.code === "CSV_RECORD_INCONSISTENT_COLUMNS") {
    return malformed(`every row must have as many cells as the header: ${e.message}`);
  }
  if (e.code === "CSV_QUOTE_NOT_CLOSED") return malformed(`a quoted cell is never closed: ${e.message}`);
  return malformed(String(e.message ?? e.code));
}

async function readCsv(bytes: ReadableStream<Uint8Array>, options: ParseOptions, onRecord: (record: FileRecord) => Promise<void>) {
  // csv-parse works on Node Buffers; a Buffer view of each chunk copies nothing.
  const buffers = bytes.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({ transform: (chunk, c) => c.enqueue(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)) }),
  );
  const records = buffers.pipeThrough(
    csvParser({
      bom: true,
      delimiter: options.delimiter ?? ",",
      max_record_size: IMPORT_MAX_RECORD_BYTES,
      skip_empty_lines: true,
      // Rows of another length than the header are an error (a shifted row would put every value
      // in the wrong field), not something to guess about.
      relax_column_count: false,
    }),
  ) as ReadableStream<string[]>;
  try {
    for await (const record of records) await onRecord(record);
  } catch (err) {
    throw csvError(err);
  }
}

// ---------------------------------------------------------------- NDJSON

/** One object per line; blank lines are skipped. Lines are decoded as they complete, so memory holds one line. */
async function readNdjson(bytes: ReadableStream<Uint8Array>, onRecord: (record: FileRecord) => Promise<void>) {
  const decoder = new TextDecoder();
  let pending = "";
  let line = 0;
  const take = async (text: string) => {
    line++;
    const trimmed = text.replace(/\r$/, "").trim();
    if (trimmed === "") return;
    await onRecord(jsonRecord(trimmed, `line ${line}`));
  };
  for await (const chunk of bytes) {
    pending += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = pending.indexOf("\n")) !== -1) {
      const text = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      await take(text);
    }
    if (pending.length > IMPORT_MAX_RECORD_BYTES) throw malformed(`line ${line + 1} is over ${IMPORT_MAX_RECORD_BYTES} bytes`);
  }
  pending += decoder.decode();
  if (pending.trim() !== "") await take(pending);
}

/** Parses one NDJSON line: an object, nested at most MAX_JSON_DEPTH deep, at most the record size. */
function jsonRecord(text: string, where: string): Record<string, unknown> {
  if (text.length > IMPORT_MAX_RECORD_BYTES) throw malformed(`${where} is over ${IMPORT_MAX_RECORD_BYTES} bytes`);
  if (jsonDepthExceeds(text)) throw malformed(`${where} is nested deeper than ${MAX_JSON_DEPTH} levels`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw malformed(`${where} is not JSON: ${(err as Error).message}`);
  }
  return asObject(value, where);
}

function asObject(value: unknown, where: string): Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw malformed(`${where} is not a JSON object`);
  return value as Record<string, unknown>;
}

// ---------------------------------------------------------------- JSON array

/**
 * A JSON array of objects, parsed as it arrives: each element is handed on once complete, and
 * only the current element is held. Anything but an array at the top is refused.
 */
async function readJsonArray(bytes: ReadableStream<Uint8Array>, onRecord: (record: FileRecord) => Promise<void>) {
  const parser = new JSONParser({ paths: ["$.*"], keepStack: false });
  const ready: unknown[] = [];
  let failure: unknown;
  let started = false;
  let wrote = false;
  let element = 0;
  parser.onValue = ({ value }) => void ready.push(value);
  parser.onError = (err) => void (failure ??= err);
  for await (const chunk of bytes) {
    if (!started) {
      // The first character that is not white space (or the byte order mark) must open an array.
      const text = new TextDecoder()
        .decode(chunk.subarray(0, 64))
        .replace(/^\uFEFF/, "")
        .trimStart();
      if (text !== "") {
        if (text[0] !== "[") throw malformed("a JSON file must be an array of objects ([{...}, {...}]); for one object per line send application/x-ndjson");
        started = true;
      }
    }
    try {
      parser.write(wrote ? chunk : stripBom(chunk));
      wrote = true;
    } catch (err) {
      failure ??= err;
    }
    if (failure) throw malformed(`not JSON: ${(failure as Error).message ?? failure}`);
    while (ready.length) {
      element++;
      await onRecord(checkedElement(ready.shift(), element));
    }
  }
  if (!started) return; // an empty body: no records
  if (!parser.isEnded) throw malformed("the JSON array is never closed");
}

/** The byte order mark, where a UTF-8 file starts with one (the JSON tokenizer does not skip it). */
function stripBom(chunk: Uint8Array): Uint8Array {
  return chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf ? chunk.subarray(3) : chunk;
}

function checkedElement(value: unknown, index: number): Record<string, unknown> {
  const where = `element ${index} of the array`;
  const record = asObject(value, where);
  let text: string;
  try {
    text = JSON.stringify(record);
  } catch {
    throw malformed(`${where} is nested deeper than ${MAX_JSON_DEPTH} levels`);
  }
  if (text.length > IMPORT_MAX_RECORD_BYTES) throw malformed(`${where} is over ${IMPORT_MAX_RECORD_BYTES} bytes`);
  if (jsonDepthExceeds(text)) throw malformed(`${where} is nested deeper than ${MAX_JSON_DEPTH} levels`);
  return record;
}

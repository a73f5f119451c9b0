// Reads a POST body as a plain object from JSON, urlencoded or multipart forms.
// Structured parameters in forms stay JSON strings here; their schemas (jsonParam) parse them.
import type { Context } from "hono";
import { ApiError, badRequest } from "./errors";
import { JsonTooDeepError, MAX_JSON_DEPTH, parseJson } from "./json";

const MAX_BODY_BYTES = 1024 * 1024;

const tooLarge = () => new ApiError("payload_too_large", "Request body is over the 1 MiB limit");

/**
 * The body's bytes, counted while they arrive: a body over the limit is refused as soon as the
 * limit is passed, whether or not it declared a Content-Length (a chunked upload is not read whole
 * first). The stream is cancelled so the rest is never read.
 */
async function readBytes(c: Context): Promise<Uint8Array> {
  const declared = Number(c.req.header("content-length") ?? "0");
  if (declared > MAX_BODY_BYTES) throw tooLarge();
  const stream = c.req.raw.body;
  if (!stream) return new Uint8Array(0);
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_BODY_BYTES) {
      reader.cancel().catch(() => {});
      throw tooLarge();
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

const readText = async (c: Context) => new TextDecoder().decode(await readBytes(c));

type Body = { value: Record<string, unknown>; form: boolean };

export async function readBody(c: Context): Promise<Body> {
  const contentType = (c.req.header("content-type") ?? "").split(";")[0].trim().toLowerCase();
  const form = contentType === "application/x-www-form-urlencoded" || contentType === "multipart/form-data";
  return { value: await readBodyValue(c, contentType), form };
}

async function readBodyValue(c: Context, contentType: string): Promise<Record<string, unknown>> {
  if (contentType === "") {
    const text = await readText(c);
    if (text.trim() === "") return {};
    return parseJsonObject(text); // a body without a type is read as JSON, the common client mistake
  }
  if (contentType === "application/json" || /^application\/[\w.-]+\+json$/.test(contentType)) {
    const text = await readText(c);
    if (text.trim() === "") return {};
    return parseJsonObject(text);
  }
  if (contentType === "application/x-www-form-urlencoded") {
    const text = await readText(c);
    return fromEntries(new URLSearchParams(text));
  }
  if (contentType === "multipart/form-data") {
    const bytes = await readBytes(c); // bounded while read, then parsed from memory
    let form: FormData;
    try {
      form = await new Response(bytes, { headers: { "content-type": c.req.header("content-type")! } }).formData();
    } catch {
      throw badRequest("Malformed multipart form body", undefined, "malformed_body");
    }
    return fromEntries(form);
  }
  throw new ApiError("unsupported_media_type", `Unsupported content type '${contentType}'; send JSON or a form`);
}

function parseJsonObject(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = parseJson(text);
  } catch (err) {
    if (err instanceof JsonTooDeepError) {
      throw badRequest(`The request body is nested deeper than ${MAX_JSON_DEPTH} levels`, undefined, "malformed_json");
    }
    throw badRequest("Malformed JSON in request body", undefined, "malformed_json");
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw badRequest("The request body must be a JSON object", undefined, "malformed_json");
  }
  return value as Record<string, unknown>;
}

function fromEntries(entries: Iterable<[string, unknown]>) {
  const out: Record<string, unknown> = Object.create(null);
  for (const [key, value] of entries) {
    if (key in out) continue; // first value wins; repeated keys are not part of the contract
    out[key] = typeof value === "string" ? value : "";
  }
  return { ...out };
}

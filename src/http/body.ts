// Reads a POST body as a plain object from JSON, urlencoded or multipart forms.
// Structured parameters in forms stay JSON strings here; their schemas (jsonParam) parse them.
import type { Context } from "hono";
import { ApiError, badRequest } from "./errors";

export const MAX_BODY_BYTES = 1024 * 1024;

const tooLarge = () => new ApiError(413, "payload_too_large", "Request body is over the 1 MiB limit");

async function readText(c: Context): Promise<string> {
  const declared = Number(c.req.header("content-length") ?? "0");
  if (declared > MAX_BODY_BYTES) throw tooLarge();
  const buffer = await c.req.arrayBuffer();
  if (buffer.byteLength > MAX_BODY_BYTES) throw tooLarge();
  return new TextDecoder().decode(buffer);
}

export type Body = { value: Record<string, unknown>; form: boolean };

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
    await readText(c); // enforces the size limit before parsing
    let form: FormData;
    try {
      form = await c.req.formData();
    } catch {
      throw badRequest("Malformed multipart form body", undefined, "malformed_body");
    }
    return fromEntries(form);
  }
  throw new ApiError(415, "unsupported_media_type", `Unsupported content type '${contentType}'; send JSON or a form`);
}

function parseJsonObject(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
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

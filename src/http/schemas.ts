// Reusable zod pieces for the contract's conventions. Forms send every value as a string, so
// while a form body is parsed the helpers below accept the string spelling of booleans, numbers
// and JSON structures too; in a JSON body a value of the wrong type stays a 400.
import { z } from "@hono/zod-openapi";
import { ERROR_CODES, type ErrorCode } from "./errors";
import { JsonTooDeepError, parseJson } from "./json";

const MAX_ID = Number.MAX_SAFE_INTEGER; // IDs are below 2^53

let parsingForm = false;

/**
 * Runs a (synchronous) schema parse with the form spellings allowed or not. zod's preprocessors
 * run synchronously inside `safeParse`, so a module-level flag cannot leak into another request.
 */
export function withFormSpellings<T>(form: boolean, parse: () => T): T {
  const previous = parsingForm;
  parsingForm = form;
  try {
    return parse();
  } finally {
    parsingForm = previous;
  }
}

/** Parses a JSON string (as a form sends a structured parameter); other values pass through. */
function parseJsonString(value: unknown, ctx: z.RefinementCtx) {
  if (typeof value !== "string" || !parsingForm) return value;
  try {
    return parseJson(value);
  } catch (err) {
    if (err instanceof JsonTooDeepError) {
      ctx.addIssue({ code: "custom", message: err.message });
      return z.NEVER;
    }
    return value; // the inner schema then reports the wrong type
  }
}

/** A structured parameter: a JSON value in a JSON body, or a JSON string in a form. */
export const jsonParam = <T extends z.ZodType>(schema: T) => z.preprocess(parseJsonString, schema);

/** A boolean, or "true"/"false" as a form sends it. */
export const boolParam = () =>
  z.preprocess((v) => (!parsingForm ? v : v === "true" ? true : v === "false" ? false : v), z.boolean());

/** An integer, or its decimal spelling as a form sends it. */
export const intParam = () =>
  z.preprocess((v) => (parsingForm && typeof v === "string" && /^-?\d+$/.test(v.trim()) ? Number(v) : v), z.number().int());

/** A number, or its decimal spelling as a form sends it. */
export const numberParam = () =>
  z.preprocess(
    (v) => (parsingForm && typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v)) ? Number(v) : v),
    z.number(),
  );

/** An ID given as a decimal string or a number; yields the number. */
export const idValue = () =>
  z
    .union([z.string().regex(/^[1-9][0-9]{0,15}$/, "must be a positive integer ID"), z.number().int().positive()])
    .transform((v) => Number(v))
    .refine((n) => n <= MAX_ID, "must be below 2^53")
    .openapi({ type: "string", example: "17" });

/** An optional reference where 0 (or "0") means "none", as `selfID` and `moduleID` of pages. */
export const optionalRef = () =>
  z.preprocess(
    (v) => (v === null ? 0 : v), // null reads as absent: "0 or absent" means none
    z
    .union([z.string().regex(/^(0|[1-9][0-9]{0,15})$/, "must be an ID or 0"), z.number().int().nonnegative()])
    .transform((v) => Number(v))
    .refine((n) => n <= MAX_ID, "must be below 2^53"),
  ).openapi({ type: "string", example: "0" });

/** A path ID; malformed ones are a 400 with code `invalid_id`, checked before anything else. */
export const pathId = (name: string) =>
  z
    .string()
    .openapi({ param: { name, in: "path" }, example: "1", pattern: "^[1-9][0-9]*$" });

/** The `page` and `perPage` query parameters of a listing (read by parsePaging in http/paging.ts). */
export const pagingParams = {
  page: z.string().optional().openapi({ description: "0-based page (default 0)", example: "0" }),
  perPage: z.string().optional().openapi({ description: "items per page, 1..100 (default 50)", example: "50" }),
};

export const idString = z.string().openapi({ example: "1", description: "decimal ID" });
export const timestamp = z.string().openapi({ example: "2026-11-27T20:18:49.000Z", format: "date-time" });

/** The payload wrappers for the OpenAPI document. */
export const responseOf = <T extends z.ZodType>(schema: T) => z.object({ response: schema });
export const successSchema = z.object({ success: z.object({ message: z.literal("OK") }) });
export const errorSchema = z
  .object({
    error: z.object({
      message: z.string(),
      code: z.enum(Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]]).openapi({ description: "One of the closed list of error codes (README: status codes and error codes)" }),
      details: z.array(z.object({ path: z.string(), message: z.string(), contentID: z.string().optional() })).optional(),
      requestId: z.string().optional(),
    }),
  })
  .openapi("Error");
export const listMeta = z.object({ page: z.number(), perPage: z.number(), count: z.number() });

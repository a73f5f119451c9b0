// Reusable zod pieces for the contract's conventions. Forms send every value as a string, so
// while a form body is parsed the helpers below accept the string spelling of booleans, numbers
// and JSON structures too; in a JSON body a value of the wrong type stays a 400.
import { z } from "@hono/zod-openapi";
import { ERROR_CODES, type ErrorCode } from "./errors";
import { hasIdSpelling, ID_OR_ZERO_PATTERN, ID_PATTERN, idFromValue, parseId, parseIdOrZero } from "./ids";
import { JsonTooDeepError, parseJson } from "./json";

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
export const boolParam = () => z.preprocess((v) => (!parsingForm ? v : v === "true" ? true : v === "false" ? false : v), z.boolean());

/** An integer, or its decimal spelling as a form sends it. */
export const intParam = () => z.preprocess((v) => (parsingForm && typeof v === "string" && /^-?\d+$/.test(v.trim()) ? Number(v) : v), z.number().int());

const ID_DOC = {
  anyOf: [
    { type: "string" as const, pattern: ID_PATTERN },
    { type: "integer" as const, minimum: 1, maximum: Number.MAX_SAFE_INTEGER },
  ],
  example: "17",
  description: "a positive integer ID below 2^53, as a decimal string or a number",
};

/** Why a value is not an ID: a well-formed one past 2^53 is told apart from the rest. */
const notAnId = (v: unknown) =>
  (typeof v === "number" && Number.isInteger(v) && v > 0) || (typeof v === "string" && hasIdSpelling(v))
    ? "must be a positive integer ID below 2^53"
    : "must be a positive integer ID";

/**
 * An ID given as a decimal string or a number; yields the number. With `required`, a missing
 * value, `null` or `""` (an empty form field) is "is required"; otherwise `null` is not an ID.
 */
export const idValue = (options: { required?: boolean } = {}) =>
  z
    .unknown()
    .transform((v, ctx): number => {
      if (options.required && (v === undefined || v === null || v === "")) {
        ctx.addIssue({ code: "custom", message: "is required" });
        return z.NEVER;
      }
      const id = idFromValue(v);
      if (id === undefined) {
        ctx.addIssue({ code: "custom", message: notAnId(v) });
        return z.NEVER;
      }
      return id;
    })
    .openapi(ID_DOC);

/** An optional reference where 0 (or "0") means "none", as `selfID` and `moduleID` of pages. */
export const optionalRef = () =>
  z
    .unknown()
    .transform((v, ctx): number => {
      const id = typeof v === "number" ? (v === 0 ? 0 : idFromValue(v)) : typeof v === "string" ? parseIdOrZero(v) : undefined;
      if (id === undefined) {
        ctx.addIssue({ code: "custom", message: "must be an ID or 0" });
        return z.NEVER;
      }
      return id;
    })
    .openapi({
      anyOf: [
        { type: "string", pattern: ID_OR_ZERO_PATTERN },
        { type: "integer", minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
      ],
      example: "0",
    });

/** A query-string filter naming an object by ID; absent or empty: no filter. */
export const idQuery = () =>
  z
    .string()
    .optional()
    .transform((v, ctx): number | undefined => {
      if (v === undefined || v === "") return undefined;
      const id = parseId(v);
      if (id === undefined) ctx.addIssue({ code: "custom", message: "must be a positive integer ID" });
      return id;
    })
    .openapi({ type: "string", pattern: ID_PATTERN, example: "1" });

/** A query-string reference where 0 means "none" (the top level of pages); absent or empty: 0. */
export const idOrZeroQuery = () =>
  z
    .string()
    .optional()
    .transform((v, ctx): number => {
      if (v === undefined || v === "") return 0;
      const id = parseIdOrZero(v);
      if (id === undefined) {
        ctx.addIssue({ code: "custom", message: "must be an ID or 0" });
        return z.NEVER;
      }
      return id;
    })
    .openapi({ type: "string", pattern: ID_OR_ZERO_PATTERN, example: "0" });

/** A query-string parameter from a closed set; absent or empty: not given. */
export const enumQuery = <const T extends readonly [string, ...string[]]>(values: T) =>
  z
    .preprocess((v) => (v === "" ? undefined : v), z.enum(values, { error: `must be one of ${values.join(", ")}` }).optional())
    .openapi({ type: "string", enum: [...values] });

/** A log listing's `after` query parameter (read by parseAfter in http/paging.ts). */
export const logAfterParam = z.string().optional().openapi({ type: "integer", minimum: 0, description: "only lines after this seq (for tailing)", example: 0 });

/** The `page` and `perPage` query parameters of a listing (read by parsePaging in http/paging.ts). */
export const pagingParams = {
  page: z.string().optional().openapi({ type: "integer", description: "0-based page (default 0; a negative page reads as 0)", example: 0 }),
  perPage: z.string().optional().openapi({ type: "integer", description: "items per page, clamped to 1..100 (default 50)", example: 50 }),
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
      code: z
        .enum(Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]])
        .openapi({ description: "One of the closed list of error codes (README: status codes and error codes)" }),
      details: z.array(z.object({ path: z.string(), message: z.string(), contentID: z.string().optional() })).optional(),
      requestId: z.string().optional(),
    }),
  })
  .openapi("Error");
export const listMeta = z.object({ page: z.number(), perPage: z.number(), count: z.number() });

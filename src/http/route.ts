// One way to declare a route: the same zod schemas document it in /openapi.json and validate it.
// The wrapper authenticates, checks the scope, rate-limits, validates path IDs, query and body,
// and records the path so unknown methods on known paths can answer 405.
import { z, type OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { authenticate, rateLimit, requireScope } from "./auth";
import { readBody } from "./body";
import { detailsError } from "./details";
import { badRequest, formatPath, type ErrorDetail } from "./errors";
import { ID_OR_ZERO_PATTERN, ID_PATTERN, parseId, parseIdOrZero } from "./ids";
import { errorSchema, withFormSpellings } from "./schemas";
import type { AppEnv, Scope } from "./types";

type Method = "get" | "post" | "delete";
// biome-ignore lint/suspicious/noExplicitAny: a request schema of any input type (its output is what the handler reads)
type AnyObject = z.ZodType<Record<string, unknown>, any>;

type RouteSpec<Q extends AnyObject, B extends AnyObject> = {
  method: Method;
  /** OpenAPI style: `/module/{moduleID}/content`. */
  path: string;
  tag: string;
  summary: string;
  description?: string;
  /** Scope required; `null` for public routes. Defaults to read for GET, write otherwise. */
  scope?: Scope | null;
  /** Path parameters that are numeric IDs (validated: 400 `invalid_id` when malformed). */
  ids?: string[];
  /** Path parameters that are an ID or 0 ("none": the top level of pages), validated the same way. */
  idsOrZero?: string[];
  /** Path parameters that are free strings. */
  strings?: string[];
  query?: Q;
  body?: B;
  /**
   * A body the handler reads itself (a file), documented by content type; `body` then stays unset
   * so the wrapper does not read it.
   */
  fileBody?: { description: string; contentTypes: string[] };
  /** Schema of the answer (the whole JSON body) for the documentation. */
  response?: z.ZodType;
  /** Other types the success answer may have (e.g. `image/svg+xml`), each with when it is sent. */
  alsoContent?: Record<string, string>;
  status?: 200 | 201 | 202;
  /** Another success status the route answers with the same schema, and when (e.g. a replay's 200). */
  alsoStatus?: { status: 200 | 201; description: string };
  /** Extra documented answers, e.g. { 409: "..." }. */
  errors?: Record<number, string>;
};

type RouteInput<Q extends AnyObject, B extends AnyObject> = {
  ids: Record<string, number>;
  params: Record<string, string>;
  query: z.output<Q>;
  body: z.output<B>;
};

type KnownPath = { regex: RegExp; method: string };
export const knownPaths: KnownPath[] = [];

/** Turns zod issues into the envelope's `details`, with `prefix` for the part of the request. */
function zodDetails(error: z.ZodError, prefix = ""): ErrorDetail[] {
  return error.issues.map((issue) => {
    const path = formatPath(issue.path as PropertyKey[]);
    return { path: prefix && path ? `${prefix}.${path}` : path || prefix, message: issue.message };
  });
}

function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) {
    throw detailsError(zodDetails(result.error), `Invalid ${what}`);
  }
  return result.data;
}

function pathRegex(path: string) {
  const pattern = path.replace(/\/+$/, "").replace(/\{[^}]+\}/g, "[^/]+");
  return new RegExp(`^${pattern}/?$`);
}

export function defineRoute<Q extends AnyObject = AnyObject, B extends AnyObject = AnyObject>(
  app: OpenAPIHono<AppEnv>,
  spec: RouteSpec<Q, B>,
  handler: (c: Context<AppEnv>, input: RouteInput<Q, B>) => Response | Promise<Response>,
) {
  const scope = spec.scope === undefined ? (spec.method === "get" ? "read" : "write") : spec.scope;
  const paramNames = [...(spec.ids ?? []), ...(spec.idsOrZero ?? []), ...(spec.strings ?? [])];
  const paramDoc = (name: string) =>
    spec.ids?.includes(name)
      ? { pattern: ID_PATTERN, example: "1" }
      : spec.idsOrZero?.includes(name)
        ? { pattern: ID_OR_ZERO_PATTERN, example: "0" }
        : { example: "text" };
  const paramsSchema = paramNames.length
    ? z.object(Object.fromEntries(paramNames.map((name) => [name, z.string().openapi({ param: { name, in: "path" }, ...paramDoc(name) })])))
    : undefined;
  const status = spec.status ?? 200;
  const documentedErrors: Record<number, string> = {
    400: "Malformed or invalid input",
    // The not-found handler answers 405, with `Allow`, for every other method on a known path.
    405: "The path exists, but not with this method; `Allow` lists its methods",
  };
  if (spec.body || spec.fileBody) {
    Object.assign(documentedErrors, { 413: "The body is over the 1 MiB limit", 415: "The content type is not JSON or a form" });
  }
  if (scope) Object.assign(documentedErrors, { 401: "Missing or bad credentials", 403: "The token lacks the scope", 429: "Rate limited" });
  if (paramNames.length) documentedErrors[404] = "No such object";
  Object.assign(documentedErrors, spec.errors);
  app.openAPIRegistry.registerPath({
    method: spec.method,
    path: spec.path,
    tags: [spec.tag],
    summary: spec.summary,
    description: spec.description ?? (scope ? `Requires the \`${scope}\` scope.` : "Public."),
    security: scope ? [{ bearer: [] }] : [],
    request: {
      params: paramsSchema,
      // biome-ignore lint/suspicious/noExplicitAny: @hono/zod-openapi types `query` narrower than the object schemas it accepts
      query: spec.query as any,
      body: spec.fileBody
        ? {
            description: spec.fileBody.description,
            content: Object.fromEntries(spec.fileBody.contentTypes.map((t) => [t, { schema: { type: "string", format: "binary" } }])),
          }
        : spec.body
          ? {
              content: {
                "application/json": { schema: spec.body },
                "application/x-www-form-urlencoded": { schema: spec.body },
                "multipart/form-data": { schema: spec.body },
              },
            }
          : undefined,
    },
    responses: {
      [status]: {
        description: "Success",
        content:
          spec.response || spec.alsoContent
            ? {
                ...(spec.response ? { "application/json": { schema: spec.response } } : {}),
                ...Object.fromEntries(
                  Object.entries(spec.alsoContent ?? {}).map(([type, description]) => [type, { schema: { type: "string" as const, description } }]),
                ),
              }
            : undefined,
      },
      ...(spec.alsoStatus
        ? {
            [spec.alsoStatus.status]: {
              description: spec.alsoStatus.description,
              content: spec.response ? { "application/json": { schema: spec.response } } : undefined,
            },
          }
        : {}),
      ...Object.fromEntries(
        Object.entries(documentedErrors).map(([code, description]) => [code, { description, content: { "application/json": { schema: errorSchema } } }]),
      ),
    },
  });

  // With `strict: false` Hono strips the request's trailing slash, so routes are kept without one.
  const honoPath = spec.path.replace(/\{([^}]+)\}/g, ":$1").replace(/(.)\/$/, "$1");
  knownPaths.push({ regex: pathRegex(spec.path), method: spec.method.toUpperCase() });

  app.on(spec.method.toUpperCase(), honoPath, async (c) => {
    c.set("routePath", spec.path);
    if (scope) {
      const user = await authenticate(c);
      c.set("user", user);
      requireScope(user, scope);
      await rateLimit(c, user);
    }
    const params = c.req.param() as Record<string, string>;
    const ids: Record<string, number> = {};
    for (const name of spec.ids ?? []) {
      const id = parseId(params[name]);
      if (id === undefined) {
        throw badRequest(
          `Invalid ${name} '${params[name]}': must be a positive integer ID`,
          [{ path: name, message: "must be a positive integer below 2^53" }],
          "invalid_id",
        );
      }
      ids[name] = id;
    }
    for (const name of spec.idsOrZero ?? []) {
      const id = parseIdOrZero(params[name]);
      if (id === undefined) {
        throw badRequest(
          `Invalid ${name} '${params[name]}': must be a positive integer ID or 0`,
          [{ path: name, message: "must be a positive integer below 2^53, or 0" }],
          "invalid_id",
        );
      }
      ids[name] = id;
    }
    const query = spec.query ? parseOrThrow(spec.query, c.req.query(), "query parameters") : ({} as z.output<Q>);
    let body = {} as z.output<B>;
    if (spec.body) {
      const { value, form } = await readBody(c);
      body = withFormSpellings(form, () => parseOrThrow(spec.body!, value, "request body"));
    }
    return handler(c, { ids, params, query, body });
  });
}

import { z, type OpenAPIHono } from "@hono/zod-openapi";
import { getDb } from "../db/client";
import { created, ok, success } from "../http/envelope";
import { parsePaging } from "../http/paging";
import { defineRoute } from "../http/route";
import { jsonParam, pagingParams, responseOf, successSchema } from "../http/schemas";
import type { AppEnv } from "../http/types";
import type { Context } from "hono";
import { apiOrigin, type WriteOptions } from "./events";
import { createContent, deleteContent, getContent, listContent, updateContent } from "./service";
import { contentListSchema, contentSchema } from "./schemas";

const tag = "Content";

const contentBody = z.object({
  fields: jsonParam(z.unknown())
    .optional()
    .openapi({
      description: "`[{name, value}]` or `{name: value}`; in a form, a JSON string",
      example: [{ name: "country", value: "France" }],
    }),
});

const listQuery = z.object({
  query: z.string().optional().openapi({ description: "words that must all occur in the item's text-like values" }),
  filter: z.string().optional().openapi({ description: "a condition, e.g. `country eq 'France' and value ge 1000`", example: "" }),
  sort: z.string().optional().openapi({ description: "`name [asc|desc], ...`; default `id desc`", example: "id desc" }),
  ...pagingParams,
});

/**
 * What happens to the trigger events a write through the API recorded: src/app.ts gives the
 * triggers' dispatch, run once the answer is on its way (docs/api/triggers.md, "The outbox"). Content sits below
 * triggers, so it is handed the dispatch rather than importing it.
 */
type AfterWrite = (env: Env, ctx: { waitUntil(promise: Promise<unknown>): void }, eventIds: number[]) => void;

/** A write through the API fires workflow triggers as the token's subject. */
async function writing<T>(c: Context<AppEnv>, afterWrite: AfterWrite, write: (options: WriteOptions) => Promise<T>): Promise<T> {
  const events: number[] = [];
  const result = await write({ origin: apiOrigin(c.get("user").sub), events });
  afterWrite(c.env, c.executionCtx, events);
  return result;
}

export function registerContentRoutes(app: OpenAPIHono<AppEnv>, afterWrite: AfterWrite) {
  defineRoute(
    app,
    {
      method: "get",
      path: "/module/{moduleID}/content",
      tag,
      summary: "List, search, filter and sort a module's content",
      ids: ["moduleID"],
      query: listQuery,
      response: responseOf(contentListSchema),
    },
    async (c, { ids, query }) => ok(c, await listContent(getDb(c.env), ids.moduleID, query, parsePaging(query))),
  );
  defineRoute(
    app,
    {
      method: "post",
      path: "/module/{moduleID}/content",
      tag,
      summary: "Create a content item",
      ids: ["moduleID"],
      body: contentBody,
      status: 201,
      response: responseOf(contentSchema),
      errors: { 409: "A unique field's value is taken, or the module kept changing while the item was written" },
    },
    async (c, { ids, body }) => created(c, await writing(c, afterWrite, (o) => createContent(getDb(c.env), ids.moduleID, c.get("user").sub, body.fields, o))),
  );
  defineRoute(
    app,
    {
      method: "get",
      path: "/module/{moduleID}/content/{contentID}",
      tag,
      summary: "Read a content item",
      ids: ["moduleID", "contentID"],
      response: responseOf(contentSchema),
    },
    async (c, { ids }) => ok(c, await getContent(getDb(c.env), ids.moduleID, ids.contentID)),
  );
  defineRoute(
    app,
    {
      method: "post",
      path: "/module/{moduleID}/content/{contentID}",
      tag,
      summary: "Replace a content item's fields",
      ids: ["moduleID", "contentID"],
      body: contentBody,
      response: responseOf(contentSchema),
      errors: { 409: "A unique field's value is taken, or the module kept changing while the item was written" },
    },
    async (c, { ids, body }) => ok(c, await writing(c, afterWrite, (o) => updateContent(getDb(c.env), ids.moduleID, ids.contentID, body.fields, o))),
  );
  defineRoute(
    app,
    {
      method: "delete",
      path: "/module/{moduleID}/content/{contentID}",
      tag,
      summary: "Delete a content item (soft delete)",
      ids: ["moduleID", "contentID"],
      response: successSchema,
    },
    async (c, { ids }) => {
      await writing(c, afterWrite, (o) => deleteContent(getDb(c.env), ids.moduleID, ids.contentID, o));
      return success(c);
    },
  );
}

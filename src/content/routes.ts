import { z, type OpenAPIHono } from "@hono/zod-openapi";
import { getDb } from "../db/client";
import { created, ok, success } from "../http/envelope";
import { paging } from "../http/paging";
import { defineRoute } from "../http/route";
import { idString, jsonParam, paging as pagingParams, responseOf, successSchema, timestamp } from "../http/schemas";
import type { AppEnv } from "../http/types";
import type { Context } from "hono";
import { dispatchAfterResponse } from "../triggers/dispatch";
import { apiOrigin, type WriteOptions } from "./events";
import { createContent, deleteContent, getContent, listContent, updateContent } from "./service";

const tag = "Content";

const fieldValue = z.object({ name: z.string(), value: z.unknown() }).openapi("ContentFieldValue");

export const contentSchema = z
  .object({
    contentID: idString,
    moduleID: idString,
    userID: idString,
    fields: z.array(fieldValue),
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .openapi("Content");

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

const listSchema = z.object({
  meta: z.object({ query: z.string(), filter: z.string(), sort: z.string(), page: z.number(), perPage: z.number(), count: z.number() }),
  contents: z.array(contentSchema),
});

/**
 * A write through the API fires workflow triggers as the token's subject; the events it recorded
 * are dispatched once the answer is on its way (README, "Triggers").
 */
async function writing<T>(c: Context<AppEnv>, write: (options: WriteOptions) => Promise<T>): Promise<T> {
  const events: number[] = [];
  const result = await write({ origin: apiOrigin(c.get("user").sub), events });
  dispatchAfterResponse(c.env, c.executionCtx, events);
  return result;
}

export function registerContentRoutes(app: OpenAPIHono<AppEnv>) {
  defineRoute(
    app,
    {
      method: "get",
      path: "/module/{moduleID}/content",
      tag,
      summary: "List, search, filter and sort a module's content",
      ids: ["moduleID"],
      query: listQuery,
      response: responseOf(listSchema),
    },
    async (c, { ids, query }) => ok(c, await listContent(getDb(c.env), ids.moduleID, query, paging(query))),
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
    async (c, { ids, body }) => created(c, await writing(c, (o) => createContent(getDb(c.env), ids.moduleID, c.get("user").sub, body.fields, o))),
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
    async (c, { ids, body }) => ok(c, await writing(c, (o) => updateContent(getDb(c.env), ids.moduleID, ids.contentID, body.fields, o))),
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
      await writing(c, (o) => deleteContent(getDb(c.env), ids.moduleID, ids.contentID, o));
      return success(c);
    },
  );
}

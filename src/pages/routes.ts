import { z, type OpenAPIHono } from "@hono/zod-openapi";
import { getDb } from "../db/client";
import { created, errorBody, ok, sendJson, success } from "../http/envelope";
import { defineRoute } from "../http/route";
import { responseOf, successSchema } from "../http/schemas";
import type { AppEnv } from "../http/types";
import { createPageBody, pageListQuery, pageSchema, pageTreeSchema, reorderBody, updatePageBody } from "./schemas";
import { createPage, deletePage, getPage, listChildren, pageTree, presentPage, reorderPages, updatePage } from "./service";

const tag = "Pages";

export function registerPagesRoutes(app: OpenAPIHono<AppEnv>) {
  defineRoute(
    app,
    {
      method: "get",
      path: "/page/",
      tag,
      summary: "List the children of selfID (default: top level), by weight then pageID",
      query: pageListQuery,
      response: responseOf(z.array(pageSchema)),
      errors: { 404: "No page selfID" },
    },
    async (c, { query }) => ok(c, (await listChildren(getDb(c.env), query.selfID ?? 0)).map(presentPage)),
  );
  defineRoute(
    app,
    {
      method: "post",
      path: "/page/",
      tag,
      summary: "Create a page; it becomes its parent's last child",
      scope: "admin",
      body: createPageBody,
      status: 201,
      response: responseOf(pageSchema),
      errors: { 409: "The module already has a record page" },
    },
    async (c, { body }) => created(c, presentPage(await createPage(getDb(c.env), body))),
  );

  // Registered before /page/{pageID} so "tree" is never read as an ID.
  defineRoute(
    app,
    {
      method: "get",
      path: "/page/tree",
      tag,
      summary: "Every non-record page, nested with ordered children, top level first",
      response: responseOf(z.array(pageTreeSchema)),
    },
    async (c) => ok(c, await pageTree(getDb(c.env))),
  );
  // Other methods on /page/tree would otherwise reach /page/{pageID} and fail as a bad ID.
  app.on(["POST", "DELETE"], "/page/tree", (c) =>
    sendJson(c, errorBody("method_not_allowed", `Method ${c.req.method} is not allowed on /page/tree`), 405, {
      allow: "GET, HEAD, OPTIONS",
    }),
  );

  defineRoute(
    app,
    { method: "get", path: "/page/{pageID}", tag, summary: "Read a page", ids: ["pageID"], response: responseOf(pageSchema) },
    async (c, { ids }) => ok(c, presentPage(await getPage(getDb(c.env), ids.pageID))),
  );
  defineRoute(
    app,
    {
      method: "post",
      path: "/page/{pageID}",
      tag,
      summary: "Edit a page (only the parameters given); moving it makes it the new parent's last child",
      scope: "admin",
      ids: ["pageID"],
      body: updatePageBody,
      response: responseOf(pageSchema),
      errors: { 409: "The module already has a record page, or the page has children and would become a record page" },
    },
    async (c, { ids, body }) => ok(c, presentPage(await updatePage(getDb(c.env), ids.pageID, body))),
  );
  defineRoute(
    app,
    {
      method: "post",
      path: "/page/{selfID}/reorder",
      tag,
      summary: "Set the order of exactly the children of selfID (0: the top level)",
      scope: "admin",
      idsOrZero: ["selfID"],
      body: reorderBody,
      response: successSchema,
      errors: { 404: "No page selfID", 409: "The children changed while the request ran" },
    },
    async (c, { ids, body }) => {
      await reorderPages(getDb(c.env), ids.selfID, body.pageIDs);
      return success(c);
    },
  );
  defineRoute(
    app,
    {
      method: "delete",
      path: "/page/{pageID}",
      tag,
      summary: "Delete a page without children",
      scope: "admin",
      ids: ["pageID"],
      response: successSchema,
      errors: { 409: "The page has child pages" },
    },
    async (c, { ids }) => {
      await deletePage(getDb(c.env), ids.pageID);
      return success(c);
    },
  );
}

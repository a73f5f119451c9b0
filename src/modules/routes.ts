import { z, type OpenAPIHono } from "@hono/zod-openapi";
import { getDb } from "../db/client";
import { created, ok, success } from "../http/envelope";
import { defineRoute } from "../http/route";
import { responseOf, successSchema } from "../http/schemas";
import type { AppEnv } from "../http/types";
import { moduleBody, moduleListQuery, moduleSchema } from "./schemas";
import { getModule } from "../module-model/module";
import { createModule, deleteModule, listModules, presentModule, updateModule } from "./service";

const tag = "Modules";

export function registerModuleRoutes(app: OpenAPIHono<AppEnv>) {
  defineRoute(
    app,
    { method: "get", path: "/module/", tag, summary: "List modules, oldest first", query: moduleListQuery, response: responseOf(z.array(moduleSchema)) },
    async (c, { query }) => ok(c, (await listModules(getDb(c.env), query.query)).map(presentModule)),
  );
  defineRoute(
    app,
    {
      method: "post",
      path: "/module/",
      tag,
      summary: "Create a module",
      scope: "admin",
      body: moduleBody,
      status: 201,
      response: responseOf(moduleSchema),
      errors: { 409: "Too many modules were created at the same time; send the request again" },
    },
    async (c, { body }) => created(c, presentModule(await createModule(getDb(c.env), body))),
  );
  defineRoute(
    app,
    { method: "get", path: "/module/{moduleID}", tag, summary: "Read a module", ids: ["moduleID"], response: responseOf(moduleSchema) },
    async (c, { ids }) => ok(c, presentModule(await getModule(getDb(c.env), ids.moduleID))),
  );
  defineRoute(
    app,
    {
      method: "post",
      path: "/module/{moduleID}",
      tag,
      summary: "Replace a module's name and fields",
      scope: "admin",
      ids: ["moduleID"],
      body: moduleBody,
      response: responseOf(moduleSchema),
      errors: { 409: "Existing content holds values the new fields would reject" },
    },
    async (c, { ids, body }) => ok(c, presentModule(await updateModule(getDb(c.env), ids.moduleID, body))),
  );
  defineRoute(
    app,
    {
      method: "delete",
      path: "/module/{moduleID}",
      tag,
      summary: "Delete a module and its content",
      scope: "admin",
      ids: ["moduleID"],
      response: successSchema,
      errors: { 409: "A related field of another module or a page points at it" },
    },
    async (c, { ids }) => {
      await deleteModule(getDb(c.env), ids.moduleID);
      return success(c);
    },
  );
}

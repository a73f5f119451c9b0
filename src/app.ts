// Builds the Hono app: request-wide middleware, every resource's routes, docs, errors.
import { OpenAPIHono, z } from "@hono/zod-openapi";
import { JSON_TYPE, ok } from "./http/envelope";
import { corsFromConfig, d1Session, handleError, handleNotFound, requestContext } from "./http/middleware";
import { defineRoute } from "./http/route";
import { responseOf } from "./http/schemas";
import type { AppEnv } from "./http/types";
import { registerFieldRoutes } from "./fields/routes";
import { registerModuleRoutes } from "./modules/routes";
import { registerContentRoutes } from "./content/routes";
import { registerChartsRoutes } from "./charts/routes";
import { registerPagesRoutes } from "./pages/routes";
import { registerWorkflowsRoutes } from "./workflows/routes";
import { registerJobsRoutes } from "./jobs/routes";
import { registerSchedulesRoutes } from "./schedules/routes";
import { registerBulkRoutes } from "./bulk/routes";
import { dispatchAfterResponse } from "./triggers/dispatch";
import { registerDocsRoutes } from "./docs/routes";

const API_NAME = "edge-crm-api";
const API_VERSION = "0.1.0";

export function buildApp() {
  const app = new OpenAPIHono<AppEnv>({ strict: false });
  app.use("*", requestContext);
  app.use("*", corsFromConfig);
  app.use("*", d1Session);

  defineRoute(
    app,
    {
      method: "get",
      path: "/",
      tag: "Health",
      summary: "Health: name and version",
      scope: null,
      response: responseOf(z.object({ name: z.string(), version: z.string() })),
    },
    (c) => ok(c, { name: API_NAME, version: API_VERSION }),
  );

  registerFieldRoutes(app);
  registerModuleRoutes(app);
  registerContentRoutes(app, dispatchAfterResponse);
  registerChartsRoutes(app);
  registerPagesRoutes(app);
  registerWorkflowsRoutes(app);
  registerJobsRoutes(app);
  registerSchedulesRoutes(app);
  registerBulkRoutes(app);

  app.use("/openapi.json", async (c, next) => {
    await next();
    c.res.headers.set("content-type", JSON_TYPE); // every JSON answer names its charset
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", { type: "http", scheme: "bearer", bearerFormat: "JWT" });
  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "Edge CRM API",
      version: API_VERSION,
      description: "Modules, content, charts, pages, workflows, jobs and schedules. Conventions: docs/api/conventions.md in the repository.",
    },
  });
  registerDocsRoutes(app);

  app.notFound(handleNotFound);
  app.onError(handleError);
  return app;
}

// Moving a module's records in and out in bulk: /module/{moduleID}/import (a job) and
// /module/{moduleID}/export (a stream).
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../http/types";
import { registerExportRoutes } from "./export-routes";
import { registerImportRoutes } from "./import-routes";

export function registerBulkRoutes(app: OpenAPIHono<AppEnv>) {
  registerImportRoutes(app);
  registerExportRoutes(app);
}

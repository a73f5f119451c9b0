// /module/{moduleID}/export (see README "Import and export").
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../http/types";

export function registerExportRoutes(_app: OpenAPIHono<AppEnv>) {}

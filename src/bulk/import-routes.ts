// /module/{moduleID}/import (see README "Import and export").
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../http/types";

export function registerImportRoutes(_app: OpenAPIHono<AppEnv>) {}

import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../http/types";

export function registerJobsRoutes(_app: OpenAPIHono<AppEnv>) {}

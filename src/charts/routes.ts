import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../http/types";

export function registerChartsRoutes(_app: OpenAPIHono<AppEnv>) {}

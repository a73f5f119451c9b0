import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../http/types";

export function registerContentRoutes(_app: OpenAPIHono<AppEnv>) {}

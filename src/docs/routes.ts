// GET /docs, its start script and the Swagger UI files: no token, like /openapi.json.
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../http/types";
import { DOCS_CSP, DOCS_HTML, START_SCRIPT, START_SCRIPT_PATH, VENDOR_FILES, VENDOR_PATH } from "./page";

const IMMUTABLE = "public, max-age=31536000, immutable";
// The page and start script have no version in their URL: revalidated each time (they are small).
const REVALIDATE = "no-cache";

export function registerDocsRoutes(app: OpenAPIHono<AppEnv>) {
  app.get("/docs", (c) =>
    c.body(DOCS_HTML, 200, {
      "content-type": "text/html; charset=utf-8",
      "content-security-policy": DOCS_CSP,
      "cache-control": REVALIDATE,
      "x-content-type-options": "nosniff",
    }),
  );

  app.get(START_SCRIPT_PATH, (c) =>
    c.body(START_SCRIPT, 200, {
      "content-type": "text/javascript; charset=utf-8",
      "cache-control": REVALIDATE,
      "x-content-type-options": "nosniff",
    }),
  );

  app.get(`${VENDOR_PATH}/:file`, async (c, next) => {
    const file = c.req.param("file");
    const type = Object.hasOwn(VENDOR_FILES, file) ? VENDOR_FILES[file] : undefined;
    if (!type) return next(); // the API's 404
    // The assets binding answers 304 itself when the browser already holds this version.
    const ifNoneMatch = c.req.header("if-none-match");
    const asset = await c.env.ASSETS.fetch(new URL(`/${file}`, c.req.url), { headers: ifNoneMatch ? { "if-none-match": ifNoneMatch } : {} });
    if (asset.status !== 200 && asset.status !== 304) throw new Error(`docs asset ${file}: the assets binding answered ${asset.status}`);
    const headers = new Headers(asset.headers);
    headers.set("content-type", type);
    headers.set("cache-control", IMMUTABLE);
    headers.set("x-content-type-options", "nosniff");
    return new Response(asset.body, { status: asset.status, headers });
  });
}

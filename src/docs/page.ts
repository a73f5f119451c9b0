// The /docs page: Swagger UI from files the Worker serves itself, so it renders with no internet,
// behind a strict CSP and in an air-gapped deployment. The vendor files come from the
// swagger-ui-dist package (wrangler.toml [assets]); the page and its start script are written here.
import swaggerUiPackage from "swagger-ui-dist/package.json";

/** In the vendor files' URLs, so they can be cached for a year and a new version is a new URL. */
const SWAGGER_UI_VERSION: string = swaggerUiPackage.version;
export const VENDOR_PATH = `/docs/swagger-ui/${SWAGGER_UI_VERSION}`;
export const START_SCRIPT_PATH = "/docs/start.js";

/** The files of swagger-ui-dist the page needs; nothing else in the package is served. */
export const VENDOR_FILES: Record<string, string> = {
  "swagger-ui.css": "text/css; charset=utf-8",
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
  "favicon-32x32.png": "image/png",
  "favicon-16x16.png": "image/png",
};

/**
 * Same origin only, and nothing inline: the start script is its own file. `data:` images are the
 * icons Swagger UI's stylesheet embeds.
 */
export const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

export const DOCS_HTML = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Edge CRM API</title>
    <link rel="stylesheet" href="${VENDOR_PATH}/swagger-ui.css">
    <link rel="icon" type="image/png" href="${VENDOR_PATH}/favicon-32x32.png" sizes="32x32">
    <link rel="icon" type="image/png" href="${VENDOR_PATH}/favicon-16x16.png" sizes="16x16">
  </head>
  <body>
    <div id="swagger-ui" data-url="/openapi.json"></div>
    <script src="${VENDOR_PATH}/swagger-ui-bundle.js"></script>
    <script src="${START_SCRIPT_PATH}"></script>
  </body>
</html>
`;

// The document's URL is the page's (data-url). validatorUrl: null, or Swagger UI would load a
// badge from validator.swagger.io.
export const START_SCRIPT = `window.ui = SwaggerUIBundle({
  url: document.getElementById("swagger-ui").dataset.url,
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
});
`;

// GET /docs: Swagger UI served by the Worker itself (src/docs), so the page works with no internet
// and under its own strict Content-Security-Policy. scripts/check-docs-ui.mjs renders it in a browser.
import { describe, expect, it } from "vitest";
import { call } from "./helpers";

/** The `src` and `href` values of a page. */
function references(html: string) {
  return [...html.matchAll(/\b(?:src|href)="([^"]*)"/g)].map((m) => m[1]);
}

async function docsPage() {
  const res = await call("/docs", { token: null });
  expect(res.status).toBe(200);
  return res;
}

describe("GET /docs", () => {
  it("answers an HTML page without a token", async () => {
    const res = await docsPage();
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(res.text).toContain('<div id="swagger-ui" data-url="/openapi.json"></div>');
  });

  it("references only files of its own origin", async () => {
    const refs = references((await docsPage()).text);
    expect(refs.length).toBeGreaterThanOrEqual(3);
    for (const ref of refs) expect(ref).toMatch(/^\/docs\/[\w./-]+$/);
  });

  it("has no inline script: every script is a file", async () => {
    const { text } = await docsPage();
    const scripts = [...text.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBe(2);
    for (const [, attributes, body] of scripts) {
      expect(attributes).toMatch(/ src="\/docs\//);
      expect(body.trim()).toBe("");
    }
    expect(text).not.toMatch(/ on\w+=/); // no inline event handlers either
  });

  it("sends a Content-Security-Policy that allows its own origin only", async () => {
    const csp = (await docsPage()).headers.get("content-security-policy") ?? "";
    const directives = Object.fromEntries(
      csp
        .split(";")
        .map((d) => d.trim().split(/\s+/))
        .map(([name, ...values]) => [name, values]),
    );
    expect(directives["default-src"]).toEqual(["'none'"]);
    expect(directives["script-src"]).toEqual(["'self'"]);
    expect(directives["style-src"]).toEqual(["'self'"]);
    expect(directives["connect-src"]).toEqual(["'self'"]);
    expect(directives["img-src"]).toEqual(["'self'", "data:"]);
    expect(csp).not.toContain("unsafe-");
    expect(csp).not.toMatch(/https?:/);
  });

  it("is the same with a trailing slash", async () => {
    const res = await call("/docs/", { token: null });
    expect(res.status).toBe(200);
    expect(res.text).toBe((await docsPage()).text);
  });
});

describe("the files /docs loads", () => {
  const expectedTypes: Record<string, string> = {
    css: "text/css; charset=utf-8",
    js: "text/javascript; charset=utf-8",
    png: "image/png",
  };

  it("each answers 200 without a token, with its content type", async () => {
    const refs = references((await docsPage()).text);
    for (const ref of refs) {
      const res = await call(ref, { token: null });
      expect(res.status, ref).toBe(200);
      expect(res.headers.get("content-type"), ref).toBe(expectedTypes[ref.split(".").pop()!]);
      expect(res.headers.get("x-content-type-options"), ref).toBe("nosniff");
      expect(res.text.length, ref).toBeGreaterThan(100);
    }
  });

  it("are Swagger UI's, cached for a year under a versioned URL", async () => {
    const refs = references((await docsPage()).text);
    const bundle = refs.find((r) => r.endsWith("/swagger-ui-bundle.js"))!;
    const css = refs.find((r) => r.endsWith("/swagger-ui.css"))!;
    expect(bundle).toMatch(/^\/docs\/swagger-ui\/\d+\.\d+\.\d+\/swagger-ui-bundle\.js$/);
    const bundleRes = await call(bundle, { token: null });
    expect(bundleRes.text).toContain("SwaggerUIBundle");
    expect(bundleRes.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    const cssRes = await call(css, { token: null });
    expect(cssRes.text).toContain(".swagger-ui");
    expect(cssRes.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
  });

  it("answer 304 to a browser that holds the same version", async () => {
    const css = references((await docsPage()).text).find((r) => r.endsWith(".css"))!;
    const first = await call(css, { token: null });
    const etag = first.headers.get("etag");
    expect(etag).toBeTruthy();
    const again = await call(css, { token: null, headers: { "if-none-match": etag! } });
    expect(again.status).toBe(304);
    expect(again.text).toBe("");
  });

  it("the start script loads the document the page names, which answers without a token", async () => {
    const start = references((await docsPage()).text).find((r) => r.endsWith("/start.js"))!;
    const script = await call(start, { token: null });
    expect(script.text).toContain('getElementById("swagger-ui").dataset.url');
    expect(script.text).toContain("validatorUrl: null"); // no request to validator.swagger.io
    expect((await call("/openapi.json", { token: null })).status).toBe(200);
  });

  it("nothing else of the package is served", async () => {
    const bundle = references((await docsPage()).text).find((r) => r.endsWith("/swagger-ui-bundle.js"))!;
    const dir = bundle.slice(0, bundle.lastIndexOf("/"));
    for (const path of [
      `${dir}/package.json`,
      `${dir}/index.html`,
      `${dir}/swagger-ui-bundle.js.map`,
      "/docs/swagger-ui/0.0.1/swagger-ui.css",
      "/swagger-ui.css",
      "/index.html",
    ]) {
      const res = await call(path, { token: null });
      expect(res.status, path).toBe(404);
      expect(res.json.error.code, path).toBe("not_found");
    }
    // `/` stays the health answer, not the package's index.html.
    expect((await call("/", { token: null })).json.response.name).toBe("edge-crm-api");
  });
});

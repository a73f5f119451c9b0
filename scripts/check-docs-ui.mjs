// `npm run check:docs-ui`: renders /docs in headless Chromium against `npm run dev` and checks
// that Swagger UI drew every operation of /openapi.json. The browser may reach 127.0.0.1 only
// (every other host name fails to resolve), so a file still loaded from a CDN fails the check.
// Chromium: `chromium` on PATH (Debian: apt-get install chromium) or CHROMIUM=/path/to/binary.
// `-- --screenshot=/tmp/docs.png` also saves what the browser drew; CHECK_DOCS_UI_DOM=/tmp/docs.html
// saves the rendered DOM.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, waitForHealth } from "../bench/server.mjs";

const screenshot = process.argv.find((a) => a.startsWith("--screenshot="))?.slice("--screenshot=".length);

function findChromium() {
  const candidates = [process.env.CHROMIUM, "chromium", "chromium-browser", "google-chrome"].filter(Boolean);
  const found = candidates.find((bin) => spawnSync(bin, ["--version"], { stdio: "ignore" }).status === 0);
  if (!found) throw new Error(`no Chromium found (tried ${candidates.join(", ")}); install it or set CHROMIUM`);
  return found;
}

/** Runs headless Chromium on `url`: answers the rendered DOM (or saves a PNG) and what it logged. */
function render(chromium, url, { screenshotTo } = {}) {
  const profile = mkdtempSync(join(tmpdir(), "check-docs-ui-"));
  try {
    const args = [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      `--user-data-dir=${profile}`,
      // Offline: only the local server resolves.
      "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
      "--enable-logging=stderr",
      "--v=0",
      "--virtual-time-budget=10000",
      "--window-size=1280,2400",
      screenshotTo ? `--screenshot=${screenshotTo}` : "--dump-dom",
      url,
    ];
    const run = spawnSync(chromium, args, { encoding: "utf8", timeout: 120_000, maxBuffer: 64 * 1024 * 1024 });
    if (run.error) throw run.error;
    if (run.status !== 0) throw new Error(`Chromium exited with ${run.status}:\n${run.stderr}`);
    return { dom: run.stdout, log: run.stderr };
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}

const count = (text, re) => (text.match(re) ?? []).length;

async function check(url, chromium) {
  const doc = await (await fetch(`${url}/openapi.json`)).json();
  const methods = new Set(["get", "post", "put", "patch", "delete"]);
  const operations = Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.keys(ops)
      .filter((m) => methods.has(m))
      .map((m) => ({ method: m, path })),
  );

  const { dom, log } = render(chromium, `${url}/docs`);
  if (process.env.CHECK_DOCS_UI_DOM) writeFileSync(process.env.CHECK_DOCS_UI_DOM, dom);
  const failures = [];
  // Drawn by Swagger UI from the document (the page's own <title> does not count).
  const titleDrawn = new RegExp(`<h[12] class="title">${doc.info.title.replace(/\W/g, "\\$&")}\\b`).test(dom);
  if (!titleDrawn) failures.push(`the document's title "${doc.info.title}" is not drawn`);
  if (dom.includes("Failed to load API definition")) failures.push("Swagger UI could not load /openapi.json");
  const opblocks = count(dom, /class="opblock opblock-(get|post|put|patch|delete)[ "]/g);
  if (opblocks !== operations.length) failures.push(`${opblocks} operations drawn, /openapi.json has ${operations.length}`);
  const missing = operations.filter(({ path }) => !dom.includes(`data-path="${path}"`)).map((o) => `${o.method.toUpperCase()} ${o.path}`);
  if (missing.length) failures.push(`paths not drawn: ${missing.slice(0, 10).join(", ")}${missing.length > 10 ? ", ..." : ""}`);
  // What the page logged (Chromium writes it to stderr as CONSOLE lines), CSP refusals included.
  const consoleLines = log.split("\n").filter((line) => line.includes(":CONSOLE"));
  const refused = consoleLines.filter((line) => /Content Security Policy|Refused to/.test(line));
  if (refused.length) failures.push(`the browser refused something under the page's CSP:\n  ${refused.join("\n  ")}`);

  const tags = new Set(operations.flatMap(({ method, path }) => doc.paths[path][method].tags ?? []));
  console.log(
    `/docs rendered in ${chromium}: title "${doc.info.title}" ${titleDrawn ? "drawn" : "MISSING"}, ` +
      `${opblocks} of ${operations.length} operations drawn in ${count(dom, /class="opblock-tag-section/g)} sections (${tags.size} tags in the document), ` +
      `${consoleLines.length} console messages, ${refused.length} of them CSP refusals`,
  );
  for (const line of consoleLines.slice(0, 5)) console.log(`  console: ${line.replace(/^\[[^\]]*\]\s*/, "")}`);
  return failures;
}

const chromium = findChromium();
const port = await freePort();
const url = `http://127.0.0.1:${port}`;
const server = spawn("npm", ["run", "dev", "--", "--port", String(port), "--ip", "127.0.0.1", "--log-level", "error"], {
  stdio: ["ignore", "ignore", "inherit"],
  detached: true, // its own process group: stopping it stops wrangler and workerd too
  env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
});

let failures;
try {
  await waitForHealth(url, server, 90_000);
  failures = await check(url, chromium);
  if (screenshot) {
    render(chromium, `${url}/docs`, { screenshotTo: screenshot });
    console.log(`screenshot of /docs saved to ${screenshot}`);
  }
} finally {
  try {
    process.kill(-server.pid, "SIGTERM");
  } catch {
    /* already gone */
  }
}
if (failures.length) {
  console.error(`check:docs-ui FAILED\n- ${failures.join("\n- ")}`);
  process.exit(1);
}
console.log("check:docs-ui passed");

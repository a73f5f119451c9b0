// `npm run bench [-- --quick]`: measures the API through `wrangler dev` as its data grows.
// Prints one table (scenario, req/s, p50, p99, errors, p50 as a multiple of the floor) and
// writes the same rows to bench/results.json (or bench/results-quick.json with --quick).
import autocannon from "autocannon";
import { writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { startServer, wrangler } from "./server.mjs";
import { LIST_QUERY, MODULE_FIELDS, client, item, pool, uncachedChart, uncachedList } from "./scenarios.mjs";

const quick = process.argv.includes("--quick");
const SIZES = quick ? [1_000] : [1_000, 10_000, 100_000];
const DURATION = quick ? 2 : 5; // seconds per measurement
const rows = [];

function measure(url, token, { path, method = "GET", body, vary }, connections) {
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url: `${url}${path}`,
        method,
        // `vary` gives each request its own path, so no cached result can answer it.
        requests: vary ? [{ method, setupRequest: (req) => ({ ...req, path: vary() }) }] : undefined,
        connections,
        duration: DURATION,
        headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      },
      (err, result) => (err ? reject(err) : resolve(result)),
    );
  });
}

async function scenario(server, name, size, request) {
  const single = await measure(server.url, server.token, request, 1);
  const many = await measure(server.url, server.token, request, 16);
  const row = {
    scenario: name,
    items: size,
    p50: single.latency.p50,
    p99: single.latency.p99,
    rps1: Math.round(single.requests.average),
    rps16: Math.round(many.requests.average),
    errors: single.errors + single.non2xx + many.errors + many.non2xx,
  };
  rows.push(row);
  console.error(`  ${name} @${size}: p50 ${row.p50} ms, p99 ${row.p99} ms, ${row.rps16} req/s at 16, errors ${row.errors}`);
  return row;
}

/**
 * Seeds `target` items: 500 through the API (so every storage side effect of a create happens),
 * then doubles them inside D1 with the server stopped, varying the numeric values.
 */
async function seed(server, api, moduleId, have, target) {
  const viaApi = Math.min(target, 500) - have;
  if (viaApi > 0) {
    await pool(viaApi, 8, (i) => api(`/module/${moduleId}/content`, { body: { fields: item(have + i) } }));
    have += viaApi;
  }
  if (have >= target || !server.restart) return have;
  let sql = "";
  while (have < target) {
    const add = Math.min(have, target - have);
    sql += `INSERT INTO content (module_id, user_id, data, search, created_at, updated_at)
      SELECT module_id, user_id,
        json_set(data, '$.value', (id * 7919 + ${have}) % 5000, '$.score', (id + ${have}) % 100),
        search, created_at, updated_at
      FROM content WHERE module_id = ${moduleId} AND deleted_at IS NULL ORDER BY id LIMIT ${add};\n`;
    have += add;
  }
  await server.stop();
  writeFileSync(`${server.stateDir}/seed.sql`, sql);
  wrangler(["d1", "execute", "DB", "--local", "--file", `${server.stateDir}/seed.sql`], server.stateDir);
  await server.restart();
  return have;
}

/** How long the slow target takes to answer (some tasks of real workflows wait on slow services). */
const SLOW_TARGET_MS = quick ? 10_000 : 40_000;

/**
 * A local HTTP target for `http` tasks that counts the requests it receives (by URL and by
 * Idempotency-Key); paths under /slow/ answer after SLOW_TARGET_MS.
 */
function httpTarget() {
  const hits = new Map();
  const keys = new Map();
  const srv = createServer((req, res) => {
    hits.set(req.url, (hits.get(req.url) ?? 0) + 1);
    const key = req.headers["idempotency-key"];
    if (key) keys.set(key, (keys.get(key) ?? 0) + 1);
    const answer = () => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ ok: true }));
    };
    if (req.url.startsWith("/slow/")) setTimeout(answer, SLOW_TARGET_MS);
    else answer();
  });
  return new Promise((resolve) =>
    srv.listen(0, "127.0.0.1", () => resolve({ port: srv.address().port, hits, keys, close: () => srv.close(), closeAll: () => srv.closeAllConnections() })),
  );
}

async function waitFor(check, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

async function jobScenarios(server, api) {
  const target = await httpTarget();
  try {
    const wf = (
      await api("/workflow/", {
        body: {
          name: "bench",
          tasks: [
            { name: "first", kind: "log", options: { message: "job {{job.jobID}} starts" } },
            { name: "call", kind: "http", options: { method: "POST", url: `http://127.0.0.1:${target.port}/hit/{{job.jobID}}`, body: { job: "{{job.jobID}}" } } },
            { name: "last", kind: "log", options: { message: "done with {{tasks.call.status}}" } },
          ],
        },
      })
    ).response;
    const started = Date.now();
    const jobIds = [];
    await pool(60, 60, async () => {
      jobIds.push((await api("/job/", { body: { workflowID: wf.workflowID } })).response.jobID);
    });
    const finished = await waitFor(async () => {
      const res = await api(`/job/?workflowID=${wf.workflowID}&status=ok&perPage=1`);
      return res.response.meta.count === 60;
    }, 120_000);
    const seconds = (Date.now() - started) / 1000;
    let duplicateLogs = 0;
    for (const id of jobIds) {
      const logs = (await api(`/job/${id}/logs?perPage=100`)).response.logs;
      const seen = new Set();
      for (const line of logs) {
        const key = `${line.task}|${line.message}`;
        if (seen.has(key)) duplicateLogs++;
        seen.add(key);
      }
    }
    const duplicateCalls = [...target.hits.values()].reduce((sum, n) => sum + Math.max(0, n - 1), 0);
    rows.push({
      scenario: "60 three-task jobs",
      items: 60,
      jobsPerSecond: finished ? Math.round((60 / seconds) * 10) / 10 : 0,
      seconds,
      allOk: finished,
      duplicates: duplicateLogs + duplicateCalls,
      errors: finished ? 0 : 1,
    });
    console.error(`  60 jobs: ${finished ? "all ok" : "NOT all ok"} in ${seconds.toFixed(2)} s, duplicates ${duplicateLogs + duplicateCalls}`);

    const lateness = [];
    const delayed = [];
    const startAt = new Date(Date.now() + 3000).toISOString();
    await pool(20, 20, async () => {
      delayed.push((await api("/job/", { body: { workflowID: wf.workflowID, startAt } })).response.jobID);
    });
    await waitFor(async () => (await api(`/job/?workflowID=${wf.workflowID}&status=ok&perPage=1`)).response.meta.count === 80, 30_000);
    for (const id of delayed) {
      const job = (await api(`/job/${id}`)).response;
      if (job.startedAt) lateness.push(Date.parse(job.startedAt) - Date.parse(job.startAt));
    }
    lateness.sort((a, b) => a - b);
    const pct = (p) => lateness[Math.min(lateness.length - 1, Math.floor((p / 100) * lateness.length))];
    rows.push({ scenario: "delayed start lateness", items: 20, p50: pct(50), p99: pct(99), errors: 20 - lateness.length });
    console.error(`  delayed start: p50 ${pct(50)} ms, p99 ${pct(99)} ms over ${lateness.length} jobs`);

    await slowNeighbours(api, target, wf);
  } finally {
    target.closeAll();
    target.close();
  }
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

/**
 * Fast jobs next to slow ones: 5 jobs whose `http` task waits SLOW_TARGET_MS on its target are
 * started, then 30 fast three-task jobs. Reports how long the fast jobs took (createdAt →
 * finishedAt) while the slow requests were in flight, and whether any request was sent twice.
 */
async function slowNeighbours(api, target, fastWorkflow) {
  const slow = (
    await api("/workflow/", {
      body: {
        name: "bench slow",
        tasks: [{ name: "wait", kind: "http", timeout: Math.ceil(SLOW_TARGET_MS / 1000) + 20, options: { method: "POST", url: `http://127.0.0.1:${target.port}/slow/{{job.jobID}}` } }],
      },
    })
  ).response;
  const slowIds = [];
  await pool(5, 5, async () => slowIds.push((await api("/job/", { body: { workflowID: slow.workflowID } })).response.jobID));
  await new Promise((r) => setTimeout(r, 500)); // the slow requests are in flight
  const fastIds = [];
  await pool(30, 10, async () => fastIds.push((await api("/job/", { body: { workflowID: fastWorkflow.workflowID } })).response.jobID));
  const fastDone = await waitFor(async () => {
    const jobs = await Promise.all(fastIds.map(async (id) => (await api(`/job/${id}`)).response));
    return jobs.every((j) => j.status === "ok");
  }, SLOW_TARGET_MS + 60_000);
  const took = [];
  for (const id of fastIds) {
    const job = (await api(`/job/${id}`)).response;
    if (job.finishedAt) took.push(Date.parse(job.finishedAt) - Date.parse(job.createdAt));
  }
  took.sort((a, b) => a - b);
  const slowStillRunning = (await Promise.all(slowIds.map(async (id) => (await api(`/job/${id}`)).response.status))).filter((s) => s === "running").length;
  const slowDone = await waitFor(async () => {
    const statuses = await Promise.all(slowIds.map(async (id) => (await api(`/job/${id}`)).response.status));
    return statuses.every((s) => s === "ok");
  }, SLOW_TARGET_MS + 60_000);
  const duplicateSends = [...target.keys.values()].reduce((sum, n) => sum + Math.max(0, n - 1), 0);
  rows.push({
    scenario: `fast jobs next to ${SLOW_TARGET_MS / 1000} s requests`,
    items: 30,
    p50: percentile(took, 50),
    p99: percentile(took, 99),
    duplicates: duplicateSends,
    errors: (fastDone ? 0 : 1) + (slowDone ? 0 : 1) + (30 - took.length),
  });
  console.error(
    `  fast jobs next to slow ones: p50 ${percentile(took, 50)} ms, p99 ${percentile(took, 99)} ms (${slowStillRunning} of 5 slow jobs still running then); ` +
      `slow jobs ${slowDone ? "all ok" : "NOT all ok"}; requests sent twice (same Idempotency-Key): ${duplicateSends}`,
  );
}

function printTable(floor) {
  const head = ["scenario", "items", "req/s@1", "req/s@16", "p50 ms", "p99 ms", "x floor", "errors"];
  const lines = rows.map((r) => [
    r.scenario,
    r.items,
    r.rps1 ?? (r.jobsPerSecond !== undefined ? `${r.jobsPerSecond} jobs/s` : ""),
    r.rps16 ?? (r.duplicates !== undefined ? `dup ${r.duplicates}` : ""),
    r.p50 ?? "",
    r.p99 ?? "",
    r.rps1 !== undefined && floor ? (r.p50 / floor).toFixed(1) : "",
    r.errors,
  ].map(String));
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
  console.log(fmt(head));
  console.log(`| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`);
  for (const l of lines) console.log(fmt(l));
}

async function main() {
  console.error(`Starting the local server (${quick ? "quick" : "full"} run)...`);
  const server = await startServer();
  const api = client(server.url, server.token);
  try {
    const module = (await api("/module/", { body: { name: "Bench", fields: MODULE_FIELDS } })).response;
    const moduleId = module.moduleID;
    const floor = await scenario(server, "floor: GET / (health)", 0, { path: "/" });
    await scenario(server, "floor: indexed D1 read (GET /module/{id})", 0, { path: `/module/${moduleId}` });
    let have = 0;
    for (const size of SIZES) {
      console.error(`Seeding ${size} items...`);
      have = await seed(server, api, moduleId, have, size);
      const sample = (await api(`/module/${moduleId}/content?perPage=1`)).response.contents[0].contentID;
      await scenario(server, "read one item", size, { path: `/module/${moduleId}/content/${sample}` });
      await scenario(server, "list: filter+sort+query, 50", size, { path: `/module/${moduleId}/content?${LIST_QUERY}` });
      await scenario(server, "list: same, count not cached", size, { path: "/", vary: () => `/module/${moduleId}/content?${uncachedList()}` });
      await scenario(server, "chart: grouped count", size, { path: `/module/${moduleId}/chart?kind=bar&groupBy=country` });
      await scenario(server, "chart: grouped sum", size, { path: `/module/${moduleId}/chart?kind=bar&groupBy=country&sum=value` });
      await scenario(server, "chart: grouped count, not cached", size, { path: "/", vary: () => `/module/${moduleId}/chart?kind=bar&groupBy=country&${uncachedChart()}` });
      await scenario(server, "chart: grouped sum, not cached", size, { path: "/", vary: () => `/module/${moduleId}/chart?kind=bar&groupBy=country&sum=value&${uncachedChart()}` });
      await scenario(server, "create one item", size, { path: `/module/${moduleId}/content`, method: "POST", body: { fields: item(size + 1) } });
    }
    await jobScenarios(server, api);
    printTable(floor.p50);
    const out = { machine: "2 cores, wrangler dev (local workerd, D1, DO, Queues)", date: new Date().toISOString(), quick, rows };
    writeFileSync(quick ? "bench/results-quick.json" : "bench/results.json", `${JSON.stringify(out, null, 2)}\n`);
  } finally {
    await server.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

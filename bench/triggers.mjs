// Trigger latency through `wrangler dev`: `node bench/triggers.mjs [--quick] [--items N]` (or call
// `recordTriggerLatency(api)` / `dateTriggerLateness(api)` from another benchmark with an API
// client of scenarios.mjs).
//
// Record triggers: a workflow (one `log` task) with a `content.created` trigger on a module; N items
// (1,000; 100 with --quick) are created through the API, 10 at a time. For each item: the jobs
// its event started (`GET /job/?workflowID=`, by `triggeredBy.contentID`); none is a lost event,
// more than one a duplicate; the latency is the job's `startedAt` minus the item's `createdAt`
// (the write's own time), with the job's `createdAt` minus the item's `createdAt` beside it.
//
// Date triggers: a workflow with a `content.date` trigger (offset PT0S) on a stamp field; N items
// due over the following minutes (the first 60 s after the last create, then one every 120 ms).
// Lateness: the job's `startedAt` minus its `triggeredBy.dueAt`; lost and duplicates as above.
// Targets: 0 lost, 0 duplicates; date trigger lateness p99 < 1 s.
import { writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { startServer } from "./server.mjs";
import { client, pool } from "./scenarios.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
const percentile = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : null);
const FIELDS = [
  { name: "title", kind: "text" },
  { name: "value", kind: "number" },
  { name: "remindAt", kind: "stamp" },
];

/** Every job of a workflow, by the item that started it. */
async function jobsByItem(api, workflowID) {
  const byItem = new Map();
  for (let page = 0; ; page++) {
    const { jobs, meta } = (await api(`/job/?workflowID=${workflowID}&perPage=100&page=${page}`)).response;
    for (const job of jobs) {
      const id = job.triggeredBy?.contentID;
      if (!byItem.has(id)) byItem.set(id, []);
      byItem.get(id).push(job);
    }
    if ((page + 1) * 100 >= meta.count) return byItem;
  }
}

/** Polls until every item has a started job (or `timeoutMs` passes); answers the jobs by item. */
async function waitForStarts(api, workflowID, itemIds, timeoutMs) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const byItem = await jobsByItem(api, workflowID);
    const waiting = itemIds.filter((id) => !(byItem.get(id) ?? []).some((j) => j.startedAt));
    if (waiting.length === 0 || Date.now() > until) return byItem;
    await sleep(1000);
  }
}

function summarise(scenario, itemIds, byItem, latencyOf, createdOf) {
  const latencies = [];
  const created = [];
  let lost = 0;
  let duplicates = 0;
  for (const id of itemIds) {
    const jobs = byItem.get(id) ?? [];
    if (jobs.length === 0 || !jobs[0].startedAt) lost += 1;
    duplicates += Math.max(0, jobs.length - 1);
    if (jobs[0]?.startedAt) latencies.push(latencyOf(id, jobs[0]));
    if (jobs[0] && createdOf) created.push(createdOf(id, jobs[0]));
  }
  latencies.sort((a, b) => a - b);
  created.sort((a, b) => a - b);
  return {
    scenario,
    items: itemIds.length,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: latencies.at(-1) ?? null,
    ...(createdOf ? { createdP50: percentile(created, 50), createdP99: percentile(created, 99) } : {}),
    lost,
    duplicates,
    errors: lost + duplicates,
  };
}

export async function recordTriggerLatency(api, { items = 1000 } = {}) {
  const module = (await api("/module/", { body: { name: "bench triggers", fields: FIELDS } })).response;
  const wf = (
    await api("/workflow/", {
      body: {
        name: "bench record trigger",
        tasks: [{ name: "note", kind: "log", options: { message: "item {{params.contentID}}" } }],
        triggers: [{ on: "content.created", moduleID: module.moduleID }],
      },
    })
  ).response;
  const createdAt = new Map();
  await pool(items, 10, async (i) => {
    const item = (await api(`/module/${module.moduleID}/content`, { body: { fields: { title: `item ${i}`, value: i } } })).response;
    createdAt.set(item.contentID, Date.parse(item.createdAt));
  });
  const ids = [...createdAt.keys()];
  const byItem = await waitForStarts(api, wf.workflowID, ids, 120_000);
  const row = summarise(
    "record trigger: content write → job started",
    ids,
    byItem,
    (id, job) => Date.parse(job.startedAt) - createdAt.get(id),
    (id, job) => Date.parse(job.createdAt) - createdAt.get(id),
  );
  console.error(
    `  record triggers over ${row.items} writes: job started p50 ${row.p50} ms, p99 ${row.p99} ms, max ${row.max} ms (job made: p50 ${row.createdP50} ms, p99 ${row.createdP99} ms); lost ${row.lost}, duplicates ${row.duplicates}`,
  );
  return row;
}

export async function dateTriggerLateness(api, { items = 1000, spacingMs = 120 } = {}) {
  const module = (await api("/module/", { body: { name: "bench date triggers", fields: FIELDS } })).response;
  const wf = (
    await api("/workflow/", {
      body: {
        name: "bench date trigger",
        tasks: [{ name: "note", kind: "log", options: { message: "due {{params.dueAt}}" } }],
        triggers: [{ on: "content.date", moduleID: module.moduleID, field: "remindAt", offset: "PT0S" }],
      },
    })
  ).response;
  // Time to create them all first (~10 ms each, 10 at a time), then 60 s of margin.
  const start = Date.now() + Math.ceil(items / 10) * 40 + 60_000;
  const ids = [];
  await pool(items, 10, async (i) => {
    const due = new Date(start + i * spacingMs).toISOString();
    ids.push((await api(`/module/${module.moduleID}/content`, { body: { fields: { title: `item ${i}`, remindAt: due } } })).response.contentID);
  });
  const last = start + (items - 1) * spacingMs;
  console.error(`  ${items} items due from ${new Date(start).toISOString()} to ${new Date(last).toISOString()}`);
  await sleep(last - Date.now() + 5_000);
  const byItem = await waitForStarts(api, wf.workflowID, ids, 60_000);
  const row = summarise("date trigger: due time → job started", ids, byItem, (_id, job) => Date.parse(job.startedAt) - Date.parse(job.triggeredBy.dueAt));
  console.error(
    `  date triggers over ${row.items} items: started p50 ${row.p50} ms, p99 ${row.p99} ms, max ${row.max} ms after the due time; lost ${row.lost}, duplicates ${row.duplicates}`,
  );
  return row;
}

async function main() {
  const quick = process.argv.includes("--quick");
  const at = process.argv.indexOf("--items");
  const items = at > 0 ? Number(process.argv[at + 1]) : quick ? 100 : 1000;
  console.error("Starting the local server...");
  const server = await startServer();
  try {
    const api = client(server.url, server.token);
    const rows = [await recordTriggerLatency(api, { items }), await dateTriggerLateness(api, { items })];
    const out = { machine: "wrangler dev (local workerd, D1, DO, Queues)", date: new Date().toISOString(), items, rows };
    writeFileSync(quick ? "bench/results-triggers-quick.json" : "bench/results-triggers.json", `${JSON.stringify(out, null, 2)}\n`);
    console.log(JSON.stringify(rows));
  } finally {
    await server.stop();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}

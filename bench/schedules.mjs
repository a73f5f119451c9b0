// Schedule start lateness through `wrangler dev`: `node bench/schedules.mjs [--quick]` (or call
// `scheduleLateness(api)` from another benchmark with an API client of scenarios.mjs).
//
// 100 schedules `* * * * *` (overlap allow_all, a one-`log`-task workflow) fire at the next two
// minute boundaries (one with --quick): 200 fire times. For each fire time: its jobs by
// `GET /job/?scheduleID=`; none is a lost start, more than one a duplicate; the lateness is the
// job's `startedAt` minus its `scheduledFor` (and, reported beside it, `createdAt` minus
// `scheduledFor`: when the schedule made the job). Targets: p99 < 1 s, 0 lost, 0 duplicates.
import { writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { startServer } from "./server.mjs";
import { client, pool } from "./scenarios.mjs";

const MINUTE = 60_000;
const sleep = (ms) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
const percentile = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : null);

export async function scheduleLateness(api, { schedules = 100, boundaries = 2 } = {}) {
  const wf = (
    await api("/workflow/", { body: { name: "bench schedule", tasks: [{ name: "note", kind: "log", options: { message: "fired {{job.jobID}}" } }] } })
  ).response;
  const ids = [];
  await pool(schedules, 10, async () => {
    ids.push((await api("/schedule/", { body: { workflowID: wf.workflowID, cron: "* * * * *", overlap: "allow_all" } })).response.scheduleID);
  });
  // Every schedule exists before the first boundary counted.
  const first = Math.floor(Date.now() / MINUTE) * MINUTE + MINUTE;
  const fireTimes = Array.from({ length: boundaries }, (_, i) => first + i * MINUTE);
  console.error(`  ${schedules} schedules; waiting for ${fireTimes.map((t) => new Date(t).toISOString()).join(", ")}`);
  await sleep(fireTimes.at(-1) + 20_000 - Date.now()); // the last fire time, then time for its jobs to start

  const started = [];
  const created = [];
  let lost = 0;
  let duplicates = 0;
  await pool(ids.length, 10, async (i) => {
    const jobs = (await api(`/job/?scheduleID=${ids[i]}&perPage=100`)).response.jobs;
    for (const t of fireTimes) {
      const mine = jobs.filter((j) => j.scheduledFor === new Date(t).toISOString());
      if (mine.length === 0 || mine[0].startedAt === null) lost += 1;
      duplicates += Math.max(0, mine.length - 1);
      if (mine[0]?.startedAt) started.push(Date.parse(mine[0].startedAt) - t);
      if (mine[0]) created.push(Date.parse(mine[0].createdAt) - t);
    }
  });
  await pool(ids.length, 10, (i) => api(`/schedule/${ids[i]}`, { method: "DELETE" }));
  started.sort((a, b) => a - b);
  created.sort((a, b) => a - b);
  const row = {
    scenario: "schedule start lateness",
    items: schedules * boundaries,
    p50: percentile(started, 50),
    p99: percentile(started, 99),
    createdP50: percentile(created, 50),
    createdP99: percentile(created, 99),
    lost,
    duplicates,
    errors: lost + duplicates,
  };
  console.error(
    `  schedule lateness over ${row.items} fire times: start p50 ${row.p50} ms, p99 ${row.p99} ms (job made: p50 ${row.createdP50} ms, p99 ${row.createdP99} ms); lost ${lost}, duplicates ${duplicates}`,
  );
  return row;
}

async function main() {
  const quick = process.argv.includes("--quick");
  console.error("Starting the local server...");
  const server = await startServer();
  try {
    const row = await scheduleLateness(client(server.url, server.token), { boundaries: quick ? 1 : 2 });
    const out = { machine: "wrangler dev (local workerd, D1, DO, Queues)", date: new Date().toISOString(), quick, rows: [row] };
    writeFileSync(quick ? "bench/results-schedules-quick.json" : "bench/results-schedules.json", `${JSON.stringify(out, null, 2)}\n`);
    console.log(JSON.stringify(row));
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

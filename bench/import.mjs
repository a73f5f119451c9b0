// `npm run bench:import`: imports a ten-field CSV of 10,000 and 100,000 rows through `wrangler dev`
// (fresh local state, see server.mjs) and reports rows/s end to end (upload answered 202 → job
// ok), the upload alone, and the publish batch (from the job's log). `--rows=N` runs one size.
// Needs a quiet machine: the numbers are wall time.
import { startServer } from "./server.mjs";

const sizes = process.argv.find((a) => a.startsWith("--rows=")) ? [Number(process.argv.find((a) => a.startsWith("--rows=")).slice(7))] : [10_000, 100_000];

const fields = [
  { name: "name", kind: "text", isRequired: true },
  { name: "email", kind: "email", isUnique: true },
  { name: "value", kind: "number" },
  { name: "score", kind: "number" },
  { name: "active", kind: "bool" },
  { name: "stage", kind: "enum", options: { options: ["Open", "Won", "Lost"] } },
  { name: "country", kind: "enum", options: { options: ["France", "Slovenia", "Spain"] } },
  { name: "closeDate", kind: "date" },
  { name: "seenAt", kind: "stamp" },
  { name: "notes", kind: "textarea" },
];

function file(rows, tag) {
  const lines = ["name,email,value,score,active,stage,country,closeDate,seenAt,notes"];
  for (let i = 1; i <= rows; i++) {
    const d = String((i % 28) + 1).padStart(2, "0");
    lines.push(
      [
        `lead ${i}`,
        `lead${i}.${tag}@example.com`,
        (i * 1.5).toFixed(2),
        i % 100,
        i % 2 ? "true" : "false",
        ["Open", "Won", "Lost"][i % 3],
        ["France", "Slovenia", "Spain"][i % 3],
        `2027-0${(i % 9) + 1}-${d}`,
        `2026-11-${d}T10:00:00Z`,
        `"notes about lead ${i}, alpha beta"`,
      ].join(","),
    );
  }
  return `${lines.join("\n")}\n`;
}

async function api(server, path, init = {}) {
  const res = await fetch(`${server.url}${path}`, { ...init, headers: { authorization: `Bearer ${server.token}`, ...(init.headers ?? {}) } });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

const server = await startServer();
const results = [];
try {
  for (const rows of sizes) {
    const mod = await api(server, "/module/", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: `Bench ${rows}`, fields }),
    });
    const moduleID = mod.json.response.moduleID;
    const body = file(rows, rows);
    const t0 = performance.now();
    const posted = await api(server, `/module/${moduleID}/import`, { method: "POST", headers: { "content-type": "text/csv" }, body });
    const uploaded = performance.now();
    if (posted.status !== 202) throw new Error(`import answered ${posted.status}: ${JSON.stringify(posted.json)}`);
    const jobID = posted.json.response.jobID;
    let job;
    for (;;) {
      job = (await api(server, `/job/${jobID}`)).json.response;
      if (["ok", "error", "cancelled"].includes(job.status)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const done = performance.now();
    if (job.status !== "ok") throw new Error(`import ended ${job.status}: ${job.error}`);
    const logs = [];
    for (let page = 0; page < 100; page++) {
      const got = (await api(server, `/job/${jobID}/logs?perPage=100&page=${page}`)).json.response.logs;
      logs.push(...got);
      if (got.length < 100) break;
    }
    const at = (re) => Date.parse(logs.find((l) => re.test(l.message))?.time ?? "");
    const publishMs = at(/^import published/) - at(/^publishing /);
    const count = (await api(server, `/module/${moduleID}/content?perPage=1`)).json.response.meta.count;
    const total = (done - t0) / 1000;
    results.push({
      rows,
      MB: +(body.length / 1e6).toFixed(1),
      "upload s": +((uploaded - t0) / 1000).toFixed(2),
      "total s": +total.toFixed(2),
      "rows/s": Math.round(rows / total),
      "publish s": +(publishMs / 1000).toFixed(2),
      listed: count,
    });
    console.log(results[results.length - 1]);
  }
} finally {
  await server.stop();
}
console.table(results);

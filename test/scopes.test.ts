// Every route's scope, from one table: the contract's scopes (read: every GET; write: content,
// imports, jobs and schedules; admin: modules, pages and workflows, implying read and write).
// For each route, no token is a 401 and a token lacking its scope a 403 `forbidden`, both changing
// nothing; a token holding exactly that scope gets past authorisation (neither 401 nor 403). The
// table must name every route of /openapi.json, so a new route cannot go unchecked.
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { call, createItem, makeModule } from "./helpers";
import { longWorkflow, makeJob } from "./jobs-helpers";
import { makePage } from "./pages-helpers";
import { makeSchedule } from "./schedules-helpers";

type Scope = "read" | "write" | "admin";

/** Route (method and path as /openapi.json spells them) → the scope it needs; null: public. */
const ROUTE_SCOPES: Record<string, Scope | null> = {
  "GET /": null,
  "GET /openapi.json": null,
  "GET /docs": null,

  "GET /field/": "read",
  "GET /field/{typeID}": "read",

  "GET /module/": "read",
  "POST /module/": "admin",
  "GET /module/{moduleID}": "read",
  "POST /module/{moduleID}": "admin",
  "DELETE /module/{moduleID}": "admin",

  "GET /module/{moduleID}/content": "read",
  "POST /module/{moduleID}/content": "write",
  "GET /module/{moduleID}/content/{contentID}": "read",
  "POST /module/{moduleID}/content/{contentID}": "write",
  "DELETE /module/{moduleID}/content/{contentID}": "write",

  "GET /module/{moduleID}/chart": "read",
  "GET /module/{moduleID}/export": "read",
  "POST /module/{moduleID}/import": "write",
  "GET /job/{jobID}/report": "read",

  "GET /page/": "read",
  "POST /page/": "admin",
  "GET /page/tree": "read",
  "GET /page/{pageID}": "read",
  "POST /page/{pageID}": "admin",
  "DELETE /page/{pageID}": "admin",
  "POST /page/{selfID}/reorder": "admin",

  "GET /workflow/": "read",
  "POST /workflow/": "admin",
  "GET /workflow/{workflowID}": "read",
  "POST /workflow/{workflowID}": "admin",
  "DELETE /workflow/{workflowID}": "admin",

  "GET /job/": "read",
  "POST /job/": "write",
  "GET /job/{jobID}": "read",
  "GET /job/{jobID}/logs": "read",
  "POST /job/{jobID}": "write",
  "DELETE /job/{jobID}": "write",

  "GET /schedule/": "read",
  "POST /schedule/": "write",
  "GET /schedule/{scheduleID}": "read",
  "POST /schedule/{scheduleID}": "write",
  "DELETE /schedule/{scheduleID}": "write",
  "POST /schedule/{scheduleID}/trigger": "write",
  "POST /schedule/{scheduleID}/backfill": "write",
  "GET /schedule/{scheduleID}/log": "read",
};

/** A token lacking the scope: `write` does not imply `read`; `read write` is not `admin`. */
const LACKING: Record<Scope, string> = { read: "write", write: "read", admin: "read write" };

const FUTURE = "2099-01-01T00:00:00Z";

type Fixtures = { moduleID: string; contentID: string; pageID: string; childID: string; workflowID: string; jobID: string; scheduleID: string };
let f: Fixtures;

/** A concrete request for each route, on existing objects, with a body the route accepts. */
function requestFor(route: string): { path: string; body?: unknown; headers?: Record<string, string> } {
  const [, template] = route.split(" ");
  const path = template
    .replace("{typeID}", "text")
    .replace("{moduleID}", f.moduleID)
    .replace("{contentID}", f.contentID)
    .replace("{pageID}", f.pageID)
    .replace("{selfID}", f.pageID)
    .replace("{workflowID}", f.workflowID)
    .replace("{jobID}", f.jobID)
    .replace("{scheduleID}", f.scheduleID);
  const bodies: Record<string, { body: unknown; headers?: Record<string, string> }> = {
    "POST /module/": { body: { name: "Scoped", fields: [{ name: "title", kind: "text" }] } },
    "POST /module/{moduleID}": { body: { name: "Renamed", fields: [{ name: "title", kind: "text" }] } },
    "POST /module/{moduleID}/content": { body: { fields: { title: "new" } } },
    "POST /module/{moduleID}/content/{contentID}": { body: { fields: { title: "edited" } } },
    // A column the module lacks: refused as a whole before anything is stored, so no job runs on.
    "POST /module/{moduleID}/import": { body: "nope\nA\n", headers: { "content-type": "text/csv" } },
    "POST /page/": { body: { title: "Scoped", blocks: [] } },
    "POST /page/{pageID}": { body: { title: "Renamed" } },
    "POST /page/{selfID}/reorder": { body: { pageIDs: [f.childID] } },
    "POST /workflow/": { body: { name: "Scoped" } },
    "POST /workflow/{workflowID}": { body: { name: "Renamed", tasks: [{ name: "wait", kind: "delay", options: { seconds: 86_400 } }] } },
    "POST /job/": { body: { workflowID: f.workflowID, startAt: FUTURE } },
    "POST /job/{jobID}": { body: { log: { message: "a note" } } },
    "POST /schedule/": { body: { workflowID: f.workflowID, cron: "@daily", startAt: FUTURE } },
    "POST /schedule/{scheduleID}": { body: { paused: true } },
    // Requests that start a job would leave it running beside the next test's snapshot: these
    // pass authorisation and are then refused (an unknown overlap policy; `to` before `from`).
    "POST /schedule/{scheduleID}/trigger": { body: { overlap: "never" } },
    "POST /schedule/{scheduleID}/backfill": { body: { from: "2026-01-02T00:00:00Z", to: "2026-01-01T00:00:00Z" } },
  };
  return { path, ...bodies[route] };
}

/** Every row of every D1 table, and the job as its Durable Object answers it. */
async function stored() {
  const { results: tables } = await env.DB.prepare(
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name NOT LIKE 'd1_%' ORDER BY name",
  ).all<{ name: string }>();
  const rows: Record<string, unknown[]> = {};
  for (const { name } of tables) rows[name] = (await env.DB.prepare(`SELECT * FROM "${name}"`).all()).results;
  return { rows, job: (await call(`/job/${f.jobID}`)).json };
}

beforeAll(async () => {
  const m = await makeModule("Guarded", [{ name: "title", kind: "text" }]);
  const contentID = await createItem(m.moduleID, { title: "kept" });
  const page = await makePage({ title: "Parent" });
  const child = await makePage({ title: "Child", selfID: page.pageID });
  const workflowID = await longWorkflow();
  const job = await makeJob(workflowID, { startAt: FUTURE });
  const schedule = await makeSchedule({ workflowID, cron: "@daily", startAt: FUTURE });
  f = { moduleID: m.moduleID, contentID, pageID: page.pageID, childID: child.pageID, workflowID, jobID: job.jobID, scheduleID: schedule.scheduleID };
});

describe("the scope table", () => {
  it("names every route of /openapi.json, and only routes that exist", async () => {
    const doc = (await call("/openapi.json", { token: null })).json as { paths: Record<string, Record<string, unknown>> };
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`));
    const undocumented = ["GET /openapi.json", "GET /docs"];
    expect(
      Object.keys(ROUTE_SCOPES)
        .filter((r) => !undocumented.includes(r))
        .sort(),
    ).toEqual(documented.sort());
  });
});

// The calls that hold the scope really run, on shared fixtures: deletes go last, dependents first.
const routes = Object.entries(ROUTE_SCOPES);
const inOrder = [...routes.filter(([r]) => !r.startsWith("DELETE")), ...routes.filter(([r]) => r.startsWith("DELETE")).reverse()];

describe("every route needs its scope", () => {
  for (const [route, scope] of inOrder) {
    const method = route.split(" ")[0];
    if (scope === null) {
      it(`${route} is public`, async () => {
        const res = await call(route.split(" ")[1], { token: null });
        expect(res.status, res.text).toBe(200);
      });
      continue;
    }
    it(`${route} needs ${scope}`, async () => {
      const { path, body, headers } = requestFor(route);
      const before = await stored();
      const anonymous = await call(path, { method, body, headers, token: null });
      expect(anonymous.status, anonymous.text).toBe(401);
      expect(anonymous.json.error.code).toBe("unauthorized");
      const refused = await call(path, { method, body, headers, scope: LACKING[scope] });
      expect(refused.status, refused.text).toBe(403);
      expect(refused.json.error.code).toBe("forbidden");
      expect(await stored()).toEqual(before);

      const allowed = await call(path, { method, body, headers, scope });
      expect([401, 403], `${route} with ${scope}: ${allowed.status} ${allowed.text}`).not.toContain(allowed.status);
      expect(allowed.status, allowed.text).toBeLessThan(500);
    });
  }
});

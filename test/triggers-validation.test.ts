// Workflow `triggers` at create and update: every problem a 400 detail at `triggers[i].x`, nothing
// stored when refused; accepted triggers answered normalised, kept in step in workflow_triggers,
// and documented in /openapi.json.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { MAX_TRIGGERS_PER_WORKFLOW } from "../src/triggers/limits";
import { call } from "./helpers";
import { logTask, makeDeals, makeTriggered } from "./triggers-helpers";

const tasks = [logTask()];

async function expectRefused(triggers: unknown, expected: Array<[string, RegExp | string]>, path = "/workflow/") {
  const before = { workflows: (await call("/workflow/")).text, rows: await triggerRows() };
  const res = await call(path, { body: { name: "w", tasks, triggers } });
  expect(res.status, res.text).toBe(400);
  expect(res.json.error.code).toMatch(/^invalid_(workflow|input)$/);
  const details = res.json.error.details as Array<{ path: string; message: string }>;
  for (const [p, message] of expected) {
    const found = details.find((d) => d.path === p);
    expect(found, `${p} in ${JSON.stringify(details)}`).toBeDefined();
    if (typeof message === "string") expect(found!.message).toBe(message);
    else expect(found!.message).toMatch(message);
  }
  expect(details).toHaveLength(expected.length);
  expect((await call("/workflow/")).text, "a refused request changes nothing").toBe(before.workflows);
  expect(await triggerRows()).toEqual(before.rows);
}

async function triggerRows(workflowID?: string) {
  const q = workflowID
    ? "SELECT * FROM workflow_triggers WHERE workflow_id = ? ORDER BY position"
    : "SELECT * FROM workflow_triggers ORDER BY workflow_id, position";
  const stmt = env.DB.prepare(q);
  const { results } = await (workflowID ? stmt.bind(Number(workflowID)) : stmt).all<Record<string, any>>();
  return results;
}

describe("refused triggers", () => {
  it("points at the module, the event, the filter and the fields of each trigger", async () => {
    const m = await makeDeals();
    await expectRefused(
      [
        { on: "content.created", moduleID: "999999" },
        { on: "content.changed", moduleID: m.moduleID },
        { on: "content.updated", moduleID: m.moduleID, filter: "stage eq 'Won' and" },
        { on: "content.updated", moduleID: m.moduleID, filter: "colour eq 'red'" },
        { on: "content.created", moduleID: m.moduleID, fields: ["stage"] },
        { on: "content.updated", moduleID: m.moduleID, fields: ["stage", "nope", "STAGE"] },
        { on: "content.updated", moduleID: m.moduleID, fields: [] },
        { moduleID: m.moduleID },
        { on: "content.created", moduleID: "abc" },
        "content.created",
      ],
      [
        ["triggers[0].moduleID", "module 999999 does not exist"],
        ["triggers[1].on", "must be one of content.created, content.updated, content.deleted, content.date"],
        ["triggers[2].filter", /^position \d+: /],
        ["triggers[3].filter", /colour/],
        ["triggers[4].fields", /only content.updated triggers take fields/],
        ["triggers[5].fields[1]", `module ${m.moduleID} has no field 'nope'`],
        ["triggers[5].fields[2]", "'stage' is listed twice"],
        ["triggers[6].fields", /at least one field/],
        ["triggers[7].on", "is required"],
        ["triggers[8].moduleID", "must be a positive integer ID"],
        ["triggers[9]", /must be a trigger object/],
      ],
    );
  });

  it(`at most ${MAX_TRIGGERS_PER_WORKFLOW} triggers, no duplicates, and triggers must be an array`, async () => {
    const m = await makeDeals();
    const one = { on: "content.created", moduleID: m.moduleID };
    await expectRefused(
      Array.from({ length: MAX_TRIGGERS_PER_WORKFLOW + 1 }, () => one),
      [["triggers", `at most ${MAX_TRIGGERS_PER_WORKFLOW} triggers`]],
    );
    await expectRefused([one, { ...one, moduleID: Number(m.moduleID) }], [["triggers[1]", "duplicates triggers[0]"]]);
    await expectRefused({ on: "content.created" }, [["triggers", "must be an array of triggers"]]);
  });

  it("date fields belong to content.date triggers only", async () => {
    const m = await makeDeals();
    await expectRefused(
      [{ on: "content.created", moduleID: m.moduleID, field: "closeDate", offset: "P1D" }],
      [
        ["triggers[0].field", /only content.date triggers/],
        ["triggers[0].offset", /only content.date triggers/],
      ],
    );
  });

  it("an update is refused the same way and changes nothing", async () => {
    const m = await makeDeals();
    const wf = await makeTriggered([{ on: "content.created", moduleID: m.moduleID }]);
    await expectRefused([{ on: "content.updated", moduleID: m.moduleID, filter: "(" }], [["triggers[0].filter", /^position/]], `/workflow/${wf.workflowID}`);
  });
});

describe("accepted triggers", () => {
  it("are answered normalised and stored one row each", async () => {
    const m = await makeDeals();
    const wf = await makeTriggered([
      { on: "content.updated", moduleID: Number(m.moduleID), filter: "  stage eq 'Won'  ", fields: ["STAGE", "value"], ignored: true },
      { on: "content.deleted", moduleID: m.moduleID, filter: "" },
    ]);
    expect(wf.triggers).toEqual([
      { on: "content.updated", moduleID: m.moduleID, filter: "stage eq 'Won'", fields: ["stage", "value"] },
      { on: "content.deleted", moduleID: m.moduleID },
    ]);
    expect((await call(`/workflow/${wf.workflowID}`)).json.response.triggers).toEqual(wf.triggers);
    const rows = await triggerRows(wf.workflowID);
    expect(rows.map((r) => [r.position, r.module_id, r.event, JSON.parse(r.definition)])).toEqual([
      [0, Number(m.moduleID), "content.updated", wf.triggers[0]],
      [1, Number(m.moduleID), "content.deleted", wf.triggers[1]],
    ]);
  });

  it("a form sends triggers as a JSON string", async () => {
    const m = await makeDeals();
    const res = await call("/workflow/", {
      form: { name: "form", tasks: JSON.stringify(tasks), triggers: JSON.stringify([{ on: "content.created", moduleID: m.moduleID }]) },
    });
    expect(res.status, res.text).toBe(201);
    expect(res.json.response.triggers).toEqual([{ on: "content.created", moduleID: m.moduleID }]);
  });

  it("an update keeps the rows of kept triggers, adds new ones and drops removed ones; a delete drops them all", async () => {
    const m = await makeDeals();
    const a = { on: "content.created", moduleID: m.moduleID };
    const b = { on: "content.deleted", moduleID: m.moduleID };
    const c = { on: "content.updated", moduleID: m.moduleID, fields: ["stage"] };
    const wf = await makeTriggered([a, b]);
    const [rowA] = await triggerRows(wf.workflowID);
    const res = await call(`/workflow/${wf.workflowID}`, { body: { name: "w", tasks, triggers: [c, a] } });
    expect(res.status).toBe(200);
    expect(res.json.response.triggers).toEqual([c, a]);
    const rows = await triggerRows(wf.workflowID);
    expect(rows.map((r) => r.event)).toEqual(["content.updated", "content.created"]);
    expect(rows[1]).toMatchObject({ key: rowA.key, armed_at: rowA.armed_at, position: 1 });
    // Without triggers the workflow answers without the key, and has no rows.
    const none = await call(`/workflow/${wf.workflowID}`, { body: { name: "w", tasks } });
    expect(none.json.response.triggers).toBeUndefined();
    expect(await triggerRows(wf.workflowID)).toEqual([]);
    await call(`/workflow/${wf.workflowID}`, { body: { name: "w", tasks, triggers: [a] } });
    expect(await triggerRows(wf.workflowID)).toHaveLength(1);
    expect((await call(`/workflow/${wf.workflowID}`, { method: "DELETE" })).status).toBe(200);
    expect(await triggerRows(wf.workflowID)).toEqual([]);
  });

  it("are documented in /openapi.json", async () => {
    const doc = (await call("/openapi.json")).json;
    expect(doc.components.schemas.WorkflowTrigger.properties.on.enum).toEqual(["content.created", "content.updated", "content.deleted", "content.date"]);
    expect(doc.components.schemas.Workflow.properties.triggers.items.$ref).toBe("#/components/schemas/WorkflowTrigger");
    const body = doc.paths["/workflow/"].post.requestBody.content["application/json"].schema;
    expect(body.properties.triggers.maxItems).toBe(MAX_TRIGGERS_PER_WORKFLOW);
    expect(doc.components.schemas.Job.properties.triggeredBy).toBeDefined();
  });
});

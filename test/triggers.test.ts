// Record triggers end to end inside workerd: each event kind starts one job carrying the change,
// filters see the item after the change, `fields` narrows updates, content.* tasks fire triggers
// too and the loop depth stops a workflow that keeps triggering itself. Writes to modules without
// triggers and workflows without triggers behave as they always did.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createContent } from "../src/content/service";
import { getDb } from "../src/db/client";
import { MAX_TRIGGER_DEPTH } from "../src/triggers/limits";
import { call, createItem, makeModule } from "./helpers";
import { getJob, logsOf, makeJob, makeWorkflow, waitFor, waitForJob, isFinal } from "./jobs-helpers";
import { deleteItem, drained, logTask, makeDeals, makeTriggered, outbox, settledJobs, triggeredJobs, updateItem } from "./triggers-helpers";

const deal = { title: "Acme renewal", stage: "Open", value: 1200, closeDate: "2026-12-01" };

describe("each event kind", () => {
  it("content.created starts one job whose parameters carry the item, readable in templates", async () => {
    const m = await makeDeals();
    const wf = await makeTriggered(
      [{ on: "content.created", moduleID: m.moduleID }],
      [logTask("{{params.item_stage}} deal {{params.item_title}} worth {{params.item_value}}")],
    );
    const id = await createItem(m.moduleID, deal);
    const [row] = await settledJobs(id, 1);
    const job = await waitForJob(String(row.id), isFinal);
    expect(job).toMatchObject({
      workflowID: wf.workflowID,
      status: "ok",
      triggeredBy: { event: "content.created", moduleID: m.moduleID, contentID: id, depth: 1 },
      parameters: {
        event: "content.created",
        moduleID: m.moduleID,
        contentID: id,
        item_title: "Acme renewal",
        item_stage: "Open",
        item_value: "1200",
        item_closeDate: "2026-12-01",
        item: JSON.stringify(deal),
      },
    });
    expect(Object.keys(job.parameters)).not.toContain("changed");
    expect((await logsOf(job.jobID)).map((l) => l.message)).toContain("Open deal Acme renewal worth 1200");
    // The listing (from the mirror) says the same, and filters by the item.
    const listed = await call(`/job/?triggerContentID=${id}`);
    expect(listed.json.response.meta.count).toBe(1);
    expect(listed.json.response.jobs[0]).toEqual(await getJob(job.jobID));
    expect(await triggeredJobs(id)).toHaveLength(1);
  });

  it("content.updated carries the changed fields and their previous values", async () => {
    const m = await makeDeals();
    await makeTriggered([{ on: "content.updated", moduleID: m.moduleID }]);
    const id = await createItem(m.moduleID, deal);
    await drained();
    expect(await triggeredJobs(id)).toHaveLength(0); // a create is not an update
    await updateItem(m.moduleID, id, { ...deal, stage: "Won", value: 1500 });
    const [row] = await settledJobs(id, 1);
    const job = await getJob(String(row.id));
    expect(job.triggeredBy).toEqual({ event: "content.updated", moduleID: m.moduleID, contentID: id, depth: 1 });
    expect(job.parameters).toMatchObject({
      event: "content.updated",
      item_stage: "Won",
      item_value: "1500",
      changed: JSON.stringify(["stage", "value"]),
      previous_stage: "Open",
      previous_value: "1200",
      previous: JSON.stringify({ stage: "Open", value: 1200 }),
    });
    expect(job.parameters.previous_title).toBeUndefined(); // unchanged fields are not repeated
  });

  it("content.deleted carries the item's last values", async () => {
    const m = await makeDeals();
    await makeTriggered([{ on: "content.deleted", moduleID: m.moduleID }]);
    const id = await createItem(m.moduleID, deal);
    await updateItem(m.moduleID, id, { ...deal, stage: "Lost" });
    await drained();
    expect(await triggeredJobs(id)).toHaveLength(0);
    await deleteItem(m.moduleID, id);
    const [row] = await settledJobs(id, 1);
    expect((await getJob(String(row.id))).parameters).toMatchObject({ event: "content.deleted", contentID: id, item_stage: "Lost" });
  });

  it("a change through a content.* task fires triggers as one through the API does", async () => {
    const m = await makeDeals();
    const listener = await makeTriggered([{ on: "content.created", moduleID: m.moduleID }]);
    const writer = await makeWorkflow([{ name: "make", kind: "content.create", options: { moduleID: m.moduleID, fields: { title: "from a job" } } }]);
    const job = await makeJob(writer);
    const done = await waitForJob(job.jobID, isFinal);
    expect(done.status).toBe("ok");
    const { results } = await env.DB.prepare("SELECT id FROM content WHERE module_id = ?").bind(Number(m.moduleID)).all<{ id: number }>();
    const [row] = await settledJobs(String(results[0].id), 1);
    const started = await getJob(String(row.id));
    expect(started).toMatchObject({
      workflowID: listener.workflowID,
      triggeredBy: { event: "content.created", depth: 1 },
      parameters: { item_title: "from a job" },
    });
  });
});

describe("filters and fields", () => {
  it("a filter is evaluated on the item after the change, with the listing's semantics", async () => {
    const m = await makeDeals();
    // Case-insensitive like a listing's filter on a text-like field.
    await makeTriggered([{ on: "content.updated", moduleID: m.moduleID, filter: "stage eq 'won' and value ge 1000" }]);
    const id = await createItem(m.moduleID, deal);
    await updateItem(m.moduleID, id, { ...deal, stage: "Won" }); // Open → Won: holds after
    await settledJobs(id, 1);
    await updateItem(m.moduleID, id, { ...deal, stage: "Lost" }); // Won → Lost: held before, not after
    await updateItem(m.moduleID, id, { ...deal, stage: "Won", value: 10 }); // too small
    await drained();
    expect(await triggeredJobs(id)).toHaveLength(1);
    // The listing agrees on the same filter over the same values.
    await updateItem(m.moduleID, id, { ...deal, stage: "Won", value: 5000 });
    await settledJobs(id, 2);
    const listing = await call(`/module/${m.moduleID}/content?filter=${encodeURIComponent("stage eq 'won' and value ge 1000")}`);
    expect(listing.json.response.meta.count).toBe(1);
  });

  it("a filter on a deleted item sees its last values; builtins (id, userID) work too", async () => {
    const m = await makeDeals();
    await makeTriggered([{ on: "content.deleted", moduleID: m.moduleID, filter: "stage eq 'Won' and userID eq 7 and id ge 1" }]);
    const won = await createItem(m.moduleID, { ...deal, stage: "Won" });
    const open = await createItem(m.moduleID, deal);
    await deleteItem(m.moduleID, open);
    await deleteItem(m.moduleID, won);
    await settledJobs(won, 1);
    expect(await triggeredJobs(open)).toHaveLength(0);
  });

  it("fields: an update fires only when one of the listed fields changed", async () => {
    const m = await makeDeals();
    await makeTriggered([{ on: "content.updated", moduleID: m.moduleID, fields: ["stage"] }]);
    const id = await createItem(m.moduleID, deal);
    await updateItem(m.moduleID, id, { ...deal, title: "renamed" });
    await updateItem(m.moduleID, id, { ...deal, title: "renamed" }); // nothing changes at all
    await drained();
    expect(await triggeredJobs(id)).toHaveLength(0);
    await updateItem(m.moduleID, id, { ...deal, title: "renamed", stage: "Won" });
    const [row] = await settledJobs(id, 1);
    expect((await getJob(String(row.id))).parameters.changed).toBe(JSON.stringify(["stage"]));
  });

  it("two workflows on one event each start one job; two matching triggers of one workflow start one", async () => {
    const m = await makeDeals();
    const a = await makeTriggered([
      { on: "content.created", moduleID: m.moduleID },
      { on: "content.created", moduleID: m.moduleID, filter: "stage eq 'Open'" },
    ]);
    const b = await makeTriggered([{ on: "content.created", moduleID: m.moduleID, filter: "value gt 100" }]);
    const id = await createItem(m.moduleID, deal);
    const jobs = await settledJobs(id, 2);
    expect(jobs.map((j) => String(j.workflow_id)).sort()).toEqual([a.workflowID, b.workflowID].sort());
  });
});

describe("without triggers", () => {
  it("writes to a module no trigger listens to record no event and answer as before", async () => {
    const m = await makeDeals();
    const other = await makeDeals("Other");
    await makeTriggered([{ on: "content.created", moduleID: other.moduleID }]);
    const events: number[] = [];
    const item = await createContent(getDb(env), Number(m.moduleID), "7", deal, { events });
    expect(events).toEqual([]);
    const res = await call(`/module/${m.moduleID}/content`, { body: { fields: deal } });
    expect(res.status).toBe(201);
    expect(Object.keys(res.json.response)).toEqual(["contentID", "moduleID", "userID", "fields", "createdAt", "updatedAt"]);
    expect(Object.keys(item)).toEqual(Object.keys(res.json.response));
    expect(await outbox()).toEqual([]);
    expect(await triggeredJobs(res.json.response.contentID)).toEqual([]);
  });

  it("a workflow without triggers answers without the key, and jobs without triggeredBy", async () => {
    const res = await call("/workflow/", { body: { name: "plain", tasks: [logTask("hi")] } });
    expect(res.status).toBe(201);
    expect(Object.keys(res.json.response)).toEqual(["workflowID", "name", "timeout", "tasks", "onError", "createdAt", "updatedAt"]);
    const empty = await call(`/workflow/${res.json.response.workflowID}`, { body: { name: "plain", tasks: [logTask("hi")], triggers: [] } });
    expect(Object.keys(empty.json.response)).not.toContain("triggers");
    const job = await makeJob(res.json.response.workflowID);
    expect(Object.keys(job)).not.toContain("triggeredBy");
    const { results } = await env.DB.prepare("SELECT * FROM workflow_triggers WHERE workflow_id = ?").bind(Number(res.json.response.workflowID)).all();
    expect(results).toEqual([]);
  });
});

describe("loop depth", () => {
  it(`a workflow that keeps changing the item it listens to stops after ${MAX_TRIGGER_DEPTH} jobs, the refusal logged in the last`, async () => {
    const m = await makeModule("Loop", [{ name: "title", kind: "text" }]);
    const wf = await makeTriggered(
      [{ on: "content.updated", moduleID: m.moduleID }],
      [
        {
          name: "again",
          kind: "content.update",
          options: { moduleID: m.moduleID, contentID: "{{params.contentID}}", fields: { title: "{{params.item_title}}+" } },
        },
      ],
    );
    const id = await createItem(m.moduleID, { title: "a" });
    await updateItem(m.moduleID, id, { title: "a" });
    const jobs = await waitFor(
      "the last job of the chain to log the refusal",
      async () => {
        const rows = await triggeredJobs(id);
        if (rows.length < MAX_TRIGGER_DEPTH) return null;
        const last = rows[MAX_TRIGGER_DEPTH - 1];
        const lines = await logsOf(String(last.id));
        return lines.some((l) => l.message.startsWith("trigger refused")) && rows;
      },
      30_000,
    );
    await drained();
    expect(await triggeredJobs(id)).toHaveLength(MAX_TRIGGER_DEPTH);
    const depths = await Promise.all(jobs.map(async (j) => (await getJob(String(j.id))).triggeredBy.depth));
    expect(depths).toEqual([1, 2, 3, 4, 5]);
    const last = String(jobs[MAX_TRIGGER_DEPTH - 1].id);
    const refusal = (await logsOf(last)).filter((l) => l.message.startsWith("trigger refused"));
    expect(refusal).toHaveLength(1);
    expect(refusal[0]).toMatchObject({
      level: "warn",
      message: `trigger refused: content.updated of item ${id} in module ${m.moduleID} would start workflow ${wf.workflowID} at trigger depth 6; at most ${MAX_TRIGGER_DEPTH} triggered jobs may follow one another, so no job was started`,
      data: { contentID: id, depth: 6, workflowIDs: [wf.workflowID] },
    });
    const item = await call(`/module/${m.moduleID}/content/${id}`);
    expect(item.json.response.fields).toEqual([{ name: "title", value: "a+++++" }]);
  });
});

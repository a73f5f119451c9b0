// Date triggers inside workerd: one clock (Durable Object) per trigger, pointed at the earliest due
// item through the date field's index. Due times are in 2099 and the tests move the clock by waking
// it at a chosen instant (what its alarm or the sweep does then): no test waits for a real time.
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { layoutOf } from "../src/content/storage";
import { fieldValue } from "../src/module-model/typed-table";
import { getDb } from "../src/db/client";
import { toQuery } from "../src/db/raw";
import { getModule } from "../src/module-model/module";
import { sweepDateClocks } from "../src/triggers/date-dispatch";
import { DATE_ITEMS_PER_WAKE } from "../src/triggers/limits";
import { dueItemsSql, nextDueSql } from "../src/triggers/date-trigger-object";
import { call, createItem } from "./helpers";
import { getJob, isFinal, logsOf, waitForJob } from "./jobs-helpers";
import { deleteItem, drained, logTask, makeDeals, makeTriggered, triggeredJobs, updateItem } from "./triggers-helpers";

const at = (text: string) => Date.parse(text);
const HOUR = 3_600_000;

/** The workflow's (first) date trigger: its key, its clock's stub, and helpers around them. */
async function clockOf(workflowID: string) {
  const row = await env.DB.prepare("SELECT * FROM workflow_triggers WHERE workflow_id = ? AND event = 'content.date' ORDER BY position")
    .bind(Number(workflowID))
    .first<Record<string, any>>();
  if (!row) throw new Error(`workflow ${workflowID} has no date trigger`);
  const stub = env.DATE_TRIGGERS.get(env.DATE_TRIGGERS.idFromName(`${workflowID}:${row.key}`));
  return {
    key: row.key as string,
    stub,
    wake: (ms: number) => stub.wake(Number(workflowID), row.key, ms),
    alarm: () => runInDurableObject(stub, (_instance, ctx) => ctx.storage.getAlarm()),
    nextDueAt: async () =>
      (await env.DB.prepare("SELECT next_due_at FROM workflow_triggers WHERE workflow_id = ? AND key = ?")
        .bind(Number(workflowID), row.key)
        .first<{ next_due_at: string | null }>())!.next_due_at,
  };
}

const remind = (moduleID: string, extra: Record<string, unknown> = {}) => ({ on: "content.date", moduleID, field: "remindAt", offset: "-PT1H", ...extra });

describe("a date trigger", () => {
  it("starts one job when the item's date plus the offset arrives, with the item in its parameters", async () => {
    const m = await makeDeals();
    const wf = await makeTriggered([remind(m.moduleID)], [logTask("remind {{params.item_title}} at {{params.dueAt}}")]);
    expect(wf.triggers).toEqual([{ on: "content.date", moduleID: m.moduleID, field: "remindAt", offset: "-PT1H" }]);
    const id = await createItem(m.moduleID, { title: "Acme", remindAt: "2099-01-01T01:00:00Z" });
    await drained();
    const clock = await clockOf(wf.workflowID);
    const due = at("2099-01-01T00:00:00.000Z");
    expect(await clock.alarm()).toBe(due); // pointed at the item's time
    expect(await clock.nextDueAt()).toBe("2099-01-01T00:00:00.000Z");
    expect(await clock.wake(due - 1)).toMatchObject({ due: 0, started: 0 });
    expect(await triggeredJobs(id)).toEqual([]);
    expect(await clock.wake(due)).toMatchObject({ due: 1, started: 1, nextDueAt: null });
    const [row] = await triggeredJobs(id);
    const job = await waitForJob(String(row.id), isFinal);
    expect(job).toMatchObject({
      status: "ok",
      triggeredBy: { event: "content.date", moduleID: m.moduleID, contentID: id, depth: 1, field: "remindAt", dueAt: "2099-01-01T00:00:00.000Z" },
      parameters: { event: "content.date", contentID: id, dueAt: "2099-01-01T00:00:00.000Z", item_title: "Acme", item_remindAt: "2099-01-01T01:00:00.000Z" },
    });
    expect((await logsOf(job.jobID)).map((l) => l.message)).toContain("remind Acme at 2099-01-01T00:00:00.000Z");
    expect(await clock.alarm()).toBeNull();
    expect(await clock.nextDueAt()).toBeNull();
  });

  it("on a date field, a date is midnight UTC: three days before 2099-01-04 is 2099-01-01T00:00Z", async () => {
    const m = await makeDeals();
    const wf = await makeTriggered([{ on: "content.date", moduleID: m.moduleID, field: "closedate", offset: "-p3d", filter: "stage ne 'Won'" }]);
    expect(wf.triggers[0]).toEqual({ on: "content.date", moduleID: m.moduleID, field: "closeDate", offset: "-P3D", filter: "stage ne 'Won'" });
    const id = await createItem(m.moduleID, { title: "x", stage: "Open", closeDate: "2099-01-04" });
    await drained();
    const clock = await clockOf(wf.workflowID);
    expect(await clock.alarm()).toBe(at("2099-01-01T00:00:00Z"));
    await clock.wake(at("2099-01-01T00:00:00Z"));
    expect((await getJob(String((await triggeredJobs(id))[0].id))).triggeredBy.dueAt).toBe("2099-01-01T00:00:00.000Z");
  });

  it("moves when the item's date moves, earlier or later", async () => {
    const m = await makeDeals();
    const wf = await makeTriggered([remind(m.moduleID)]);
    const id = await createItem(m.moduleID, { title: "x", remindAt: "2099-03-01T01:00:00Z" });
    await drained();
    const clock = await clockOf(wf.workflowID);
    expect(await clock.alarm()).toBe(at("2099-03-01T00:00:00Z"));
    await updateItem(m.moduleID, id, { title: "x", remindAt: "2099-02-01T01:00:00Z" }); // earlier: the clock is woken
    await drained();
    expect(await clock.alarm()).toBe(at("2099-02-01T00:00:00Z"));
    await updateItem(m.moduleID, id, { title: "x", remindAt: "2099-04-01T01:00:00Z" }); // later
    await drained();
    expect(await clock.wake(at("2099-02-01T00:00:00Z"))).toMatchObject({ started: 0, nextDueAt: "2099-04-01T00:00:00.000Z" });
    expect(await clock.alarm()).toBe(at("2099-04-01T00:00:00Z"));
    expect(await clock.wake(at("2099-03-01T00:00:00Z"))).toMatchObject({ started: 0 });
    expect(await clock.wake(at("2099-04-01T00:00:00Z"))).toMatchObject({ started: 1 });
    const jobs = await triggeredJobs(id);
    expect(jobs).toHaveLength(1);
    expect(JSON.parse(jobs[0].triggered_by).dueAt).toBe("2099-04-01T00:00:00.000Z");
  });

  it("is cancelled by deleting the item, or by a change that makes the filter false", async () => {
    const m = await makeDeals();
    const wf = await makeTriggered([remind(m.moduleID, { filter: "stage ne 'Won'" })]);
    const when = { remindAt: "2099-05-01T01:00:00Z" };
    const deleted = await createItem(m.moduleID, { title: "deleted", stage: "Open", ...when });
    const won = await createItem(m.moduleID, { title: "won", stage: "Open", ...when });
    const open = await createItem(m.moduleID, { title: "open", stage: "Open", ...when });
    await deleteItem(m.moduleID, deleted);
    await updateItem(m.moduleID, won, { title: "won", stage: "Won", ...when });
    await drained();
    const clock = await clockOf(wf.workflowID);
    expect(await clock.wake(at("2099-05-01T00:00:00Z"))).toMatchObject({ due: 2, started: 1 });
    expect(await triggeredJobs(deleted)).toEqual([]);
    expect(await triggeredJobs(won)).toEqual([]);
    expect(await triggeredJobs(open)).toHaveLength(1);
  });

  it("does not fire for a time already past when the trigger is created, or when the item gets it", async () => {
    const m = await makeDeals();
    const now = Date.now();
    const before = await createItem(m.moduleID, { title: "before", remindAt: new Date(now + HOUR / 2).toISOString() }); // due half an hour ago
    const wf = await makeTriggered([remind(m.moduleID)]);
    const pastAtCreation = await createItem(m.moduleID, { title: "late", remindAt: new Date(now + HOUR / 4).toISOString() });
    const soon = await createItem(m.moduleID, { title: "soon", remindAt: new Date(now + HOUR + 60_000).toISOString() }); // due in a minute
    await drained();
    const clock = await clockOf(wf.workflowID);
    expect(await clock.alarm()).toBe(now + 60_000);
    expect(await clock.wake(now + 120_000)).toMatchObject({ due: 1, started: 1 });
    expect(await triggeredJobs(before)).toEqual([]);
    expect(await triggeredJobs(pastAtCreation)).toEqual([]);
    expect(await triggeredJobs(soon)).toHaveLength(1);
  });

  it("starts one job per (trigger, item, date value) however wakes, sweeps and a lost cursor race", async () => {
    const m = await makeDeals();
    const wf = await makeTriggered([remind(m.moduleID)]);
    const id = await createItem(m.moduleID, { title: "x", remindAt: "2099-06-01T01:00:00Z" });
    await drained();
    const clock = await clockOf(wf.workflowID);
    const due = at("2099-06-01T00:00:00Z");
    await Promise.all([clock.wake(due), clock.wake(due + 1000), sweepDateClocks(env, new Date(due + 5000)), clock.wake(due)]);
    expect(await triggeredJobs(id)).toHaveLength(1);
    // The clock loses its progress (a restart before it saved it): the item's job is found, not made again.
    await runInDurableObject(clock.stub, (_instance, ctx) => ctx.storage.delete("clock"));
    expect(await clock.wake(due)).toMatchObject({ due: 1, started: 0 });
    const jobs = await triggeredJobs(id);
    expect(jobs).toHaveLength(1);
    expect(jobs[0].trigger_key).toBe(`date:${wf.workflowID}:${clock.key}:${id}:2099-06-01T01:00:00.000Z`);
  });

  it(`does bounded work per wake (${DATE_ITEMS_PER_WAKE} items), through the date field's index`, async () => {
    const m = await makeDeals();
    const wf = await makeTriggered([remind(m.moduleID)]);
    const when = "2099-07-01T01:00:00Z";
    const ids: string[] = [];
    for (let i = 0; i < 2 * DATE_ITEMS_PER_WAKE + 5; i++) ids.push(await createItem(m.moduleID, { title: `item ${i}`, remindAt: when }));
    await drained();
    const clock = await clockOf(wf.workflowID);
    const due = at("2099-07-01T00:00:00Z");
    const first = await clock.wake(due);
    expect(first).toMatchObject({ due: DATE_ITEMS_PER_WAKE, started: DATE_ITEMS_PER_WAKE });
    // More are due: the alarm is set for now, not for their time (and may be running already).
    expect(Date.parse((first as { nextDueAt: string }).nextDueAt)).toBeLessThanOrEqual(Date.now());
    expect(await clock.wake(due)).toMatchObject({ started: DATE_ITEMS_PER_WAKE });
    expect(await clock.wake(due)).toMatchObject({ started: 5, nextDueAt: null });
    for (const id of ids) expect(await triggeredJobs(id)).toHaveLength(1);
    // The queries walk the field's index in the module's typed table.
    const module = await getModule(getDb(env), Number(m.moduleID));
    const value = fieldValue(layoutOf(module), module.fields.find((f) => f.name === "remindAt")!);
    const index = `c_${m.moduleID}__remindat`;
    for (const query of [dueItemsSql(module, value, { value: "2099", id: 0 }, "2100"), nextDueSql(module, value, { value: "2099", id: 0 })]) {
      const { sql, params } = toQuery(query);
      const plan = await env.DB.prepare(`EXPLAIN QUERY PLAN ${sql}`)
        .bind(...params)
        .all<{ detail: string }>();
      const details = plan.results.map((r) => r.detail).join("; ");
      expect(details).toContain(index);
      expect(details).not.toMatch(/TEMP B-TREE/);
    }
  });

  it("stops when the trigger is removed from the workflow", async () => {
    const m = await makeDeals();
    const wf = await makeTriggered([remind(m.moduleID)]);
    const id = await createItem(m.moduleID, { title: "x", remindAt: "2099-08-01T01:00:00Z" });
    await drained();
    const clock = await clockOf(wf.workflowID);
    expect(await clock.alarm()).not.toBeNull();
    const res = await call(`/workflow/${wf.workflowID}`, {
      body: { name: "w", tasks: [logTask()], triggers: [{ on: "content.created", moduleID: m.moduleID }] },
    });
    expect(res.status).toBe(200);
    expect(await clock.wake(at("2099-08-01T00:00:00Z"))).toEqual({ stopped: true });
    expect(await clock.alarm()).toBeNull();
    expect(await triggeredJobs(id)).toEqual([]);
  });

  it("a lost alarm is repaired by the sweep, which wakes the clock once its next_due_at has passed", async () => {
    const m = await makeDeals();
    const wf = await makeTriggered([remind(m.moduleID)]);
    const id = await createItem(m.moduleID, { title: "x", remindAt: "2099-09-01T01:00:00Z" });
    await drained();
    const clock = await clockOf(wf.workflowID);
    await runInDurableObject(clock.stub, (_instance, ctx) => ctx.storage.deleteAlarm());
    const due = at("2099-09-01T00:00:00Z");
    expect(await sweepDateClocks(env, new Date(due))).toEqual({ woken: 0, failed: 0 }); // not yet past the grace
    expect((await sweepDateClocks(env, new Date(due + 5000))).woken).toBe(1);
    expect(await triggeredJobs(id)).toHaveLength(1);
  });
});

describe("date trigger validation", () => {
  it("needs a single-valued date or stamp field and a fixed-length ISO 8601 offset", async () => {
    const m = await makeDeals();
    const res = await call("/workflow/", {
      body: {
        name: "w",
        tasks: [logTask()],
        triggers: [
          { on: "content.date", moduleID: m.moduleID, field: "title", offset: "P1D" },
          { on: "content.date", moduleID: m.moduleID, field: "closeDate", offset: "-P1M" },
          { on: "content.date", moduleID: m.moduleID, field: "nope", offset: "3 days" },
          { on: "content.date", moduleID: m.moduleID },
          { on: "content.date", moduleID: m.moduleID, field: "closeDate", offset: "PT2H", fields: ["stage"] },
        ],
      },
    });
    expect(res.status).toBe(400);
    const byPath = Object.fromEntries(res.json.error.details.map((d: { path: string; message: string }) => [d.path, d.message]));
    expect(byPath).toEqual({
      "triggers[0].field": "'title' is a text field; a date trigger needs a date or stamp field",
      "triggers[1].offset": "years and months have no fixed length: write the offset in weeks, days, hours, minutes or seconds (e.g. -P30D)",
      "triggers[2].offset": "must be an ISO 8601 duration such as P3D, -P3D (before), PT2H or P1DT12H",
      "triggers[3].field": "is required for a content.date trigger",
      "triggers[3].offset": "is required for a content.date trigger",
      "triggers[4].fields": "only content.updated triggers take fields (the fields whose change fires them)",
    });
    const unknownField = await call("/workflow/", {
      body: { name: "w", tasks: [logTask()], triggers: [{ on: "content.date", moduleID: m.moduleID, field: "nope", offset: "P1D" }] },
    });
    expect(unknownField.json.error.details).toEqual([{ path: "triggers[0].field", message: `module ${m.moduleID} has no field 'nope'` }]);
  });
});

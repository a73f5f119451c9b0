// The outbox: an event is recorded with its change, survives a Worker that dies before the
// dispatch and a dispatcher that throws (the sweep delivers it later), and however often it is
// delivered — concurrently, again after it was done, twice in one queue batch — it starts one job.
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { apiOrigin } from "../src/content/events";
import { createContent, updateContent } from "../src/content/service";
import { getDb } from "../src/db/client";
import { handleTaskBatch } from "../src/worker/queue";
import { dispatchEvents } from "../src/triggers/dispatch";
import { sweepEvents } from "../src/triggers/sweep";
import { call, runCron } from "./helpers";
import { getJob, isFinal, waitForJob } from "./jobs-helpers";
import { waitFor } from "./jobs-helpers";
import { makeDeals, makeTriggered, outbox, triggeredJobs } from "./triggers-helpers";

const deal = { title: "Acme", stage: "Open", value: 10 };
const db = () => getDb(env);

/** A change whose Worker dies right after its batch: the event is recorded, nobody dispatches it. */
async function createWithoutDispatch(moduleID: string, fields = deal) {
  const events: number[] = [];
  const item = await createContent(db(), Number(moduleID), "7", fields, { origin: apiOrigin("7"), events });
  return { contentID: item.contentID, events };
}

const later = () => new Date(Date.now() + 60_000);

/** An env whose job Durable Objects cannot be reached. */
const brokenJobs = (): Env =>
  ({
    ...env,
    JOBS: {
      idFromName: () => {
        throw new Error("job objects unreachable");
      },
      get: () => {
        throw new Error("job objects unreachable");
      },
    },
  }) as unknown as Env;

describe("the outbox", () => {
  it("records the event in the change's own batch, with the item after the change", async () => {
    const m = await makeDeals();
    await makeTriggered([{ on: "content.updated", moduleID: m.moduleID }]);
    const { contentID } = await createWithoutDispatch(m.moduleID);
    expect(await outbox()).toEqual([]); // nothing listens to creates
    const events: number[] = [];
    await updateContent(db(), Number(m.moduleID), Number(contentID), { ...deal, stage: "Won" }, { origin: apiOrigin("9"), events });
    const rows = await outbox();
    expect(rows.map((r) => r.id)).toEqual(events);
    expect(rows[0]).toMatchObject({
      module_id: Number(m.moduleID),
      content_id: Number(contentID),
      event: "content.updated",
      depth: 1,
      actor: "9",
      user_id: "7",
      attempts: 0,
    });
    expect(JSON.parse(rows[0].data)).toEqual({ ...deal, stage: "Won" });
    expect(JSON.parse(rows[0].previous)).toEqual(deal);
    await sweepEvents(env, later());
    expect(await triggeredJobs(contentID)).toHaveLength(1);
  });

  it("a write that fails records no event", async () => {
    const m = await makeDeals();
    await makeTriggered([{ on: "content.created", moduleID: m.moduleID }]);
    const res = await call(`/module/${m.moduleID}/content`, { body: { fields: { ...deal, stage: "Closed" } } });
    expect(res.status).toBe(400);
    expect(await outbox()).toEqual([]);
  });

  it("survives a Worker that dies between the write and the dispatch: the sweep delivers the event", async () => {
    const m = await makeDeals();
    await makeTriggered([{ on: "content.created", moduleID: m.moduleID }]);
    const { contentID, events } = await createWithoutDispatch(m.moduleID);
    expect(events).toHaveLength(1);
    // A sweep within the grace period leaves the young event to its own dispatch.
    expect((await sweepEvents(env, new Date())).events).toBe(0);
    expect(await outbox()).toHaveLength(1);
    expect(await sweepEvents(env, later())).toMatchObject({ events: 1, done: 1, started: 1, failed: 0 });
    const [row] = await triggeredJobs(contentID);
    expect((await waitForJob(String(row.id), isFinal)).status).toBe("ok");
    expect(await outbox()).toEqual([]);
  });

  it("survives a dispatcher that throws: the event stays (with the error) and the sweep starts its job", async () => {
    const m = await makeDeals();
    await makeTriggered([{ on: "content.created", moduleID: m.moduleID }]);
    const { contentID, events } = await createWithoutDispatch(m.moduleID);
    const outcome = await dispatchEvents(brokenJobs(), events);
    expect(outcome).toMatchObject({ failed: 1, done: 0, started: 0 });
    const [kept] = await outbox();
    expect(kept).toMatchObject({ id: events[0], attempts: 1, error: "job objects unreachable" });
    // The dispatch died after the job's mirror row and before its Durable Object: the sweep finishes that job.
    const half = await triggeredJobs(contentID);
    expect(half.map((j) => j.status)).toEqual(["queued"]);
    await sweepEvents(env, later());
    const jobs = await triggeredJobs(contentID);
    expect(jobs).toHaveLength(1);
    expect(jobs[0].id).toBe(half[0].id);
    expect((await waitForJob(String(jobs[0].id), isFinal)).status).toBe("ok");
    expect(await outbox()).toEqual([]);
  });

  it("sweeps the least tried events first, so ones that keep failing cannot crowd out the rest", async () => {
    const m = await makeDeals();
    await makeTriggered([{ on: "content.created", moduleID: m.moduleID }]);
    const stuck = await createWithoutDispatch(m.moduleID);
    const fresh = await createWithoutDispatch(m.moduleID);
    await env.DB.prepare("UPDATE content_events SET attempts = 7 WHERE id = ?").bind(stuck.events[0]).run();
    expect(await sweepEvents(env, later(), { starts: 10, events: 1 })).toMatchObject({ events: 1, started: 1 });
    expect(await triggeredJobs(fresh.contentID)).toHaveLength(1);
    expect(await triggeredJobs(stuck.contentID)).toEqual([]);
    await sweepEvents(env, later());
    expect(await triggeredJobs(stuck.contentID)).toHaveLength(1);
  });

  it("is swept through the cron trigger (the sweep runs in the queue consumer)", async () => {
    const m = await makeDeals();
    await makeTriggered([{ on: "content.created", moduleID: m.moduleID }]);
    const { contentID } = await createWithoutDispatch(m.moduleID);
    await runCron(later().getTime());
    await waitFor("the swept event's job", async () => (await triggeredJobs(contentID)).length === 1 && (await outbox()).length === 0);
  });
});

describe("one job per event and workflow", () => {
  it("two dispatches at once, and one more after the event was done, make one job", async () => {
    const m = await makeDeals();
    await makeTriggered([{ on: "content.created", moduleID: m.moduleID }]);
    const { contentID, events } = await createWithoutDispatch(m.moduleID);
    const [saved] = await outbox();
    const outcomes = await Promise.all([dispatchEvents(env, events), dispatchEvents(env, events), sweepEvents(env, later())]);
    expect(outcomes.every((o) => o.failed === 0)).toBe(true);
    expect(await triggeredJobs(contentID)).toHaveLength(1);
    // The same event delivered again after it was deleted (a redelivery whose delete was lost).
    const columns = Object.keys(saved);
    await env.DB.prepare(`INSERT INTO content_events (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`)
      .bind(...columns.map((c) => saved[c]))
      .run();
    expect(await dispatchEvents(env, events)).toMatchObject({ done: 1, failed: 0, started: 0 });
    const jobs = await triggeredJobs(contentID);
    expect(jobs).toHaveLength(1);
    expect((await getJob(String(jobs[0].id))).triggeredBy).toMatchObject({ contentID, event: "content.created" });
    expect(await outbox()).toEqual([]);
  });

  it("a queue batch that holds the event's message twice acks both and makes one job", async () => {
    const m = await makeDeals();
    await makeTriggered([{ on: "content.created", moduleID: m.moduleID }]);
    const { contentID, events } = await createWithoutDispatch(m.moduleID);
    const body = { type: "content-events", eventIDs: events };
    const batch = createMessageBatch("crm-tasks", [
      { id: "e1", timestamp: Date.now(), attempts: 1, body },
      { id: "e2", timestamp: Date.now(), attempts: 1, body },
    ]);
    const ctx = createExecutionContext();
    await handleTaskBatch(batch, env);
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks.sort()).toEqual(["e1", "e2"]);
    expect(result.retryMessages).toEqual([]);
    expect(await triggeredJobs(contentID)).toHaveLength(1);
  });

  it("an event whose workflow was deleted meanwhile starts nothing and is dropped", async () => {
    const m = await makeDeals();
    const wf = await makeTriggered([{ on: "content.created", moduleID: m.moduleID }]);
    const { contentID, events } = await createWithoutDispatch(m.moduleID);
    expect((await call(`/workflow/${wf.workflowID}`, { method: "DELETE" })).status).toBe(200);
    expect(await dispatchEvents(env, events)).toMatchObject({ done: 1, failed: 0, started: 0 });
    expect(await triggeredJobs(contentID)).toEqual([]);
    expect(await outbox()).toEqual([]);
  });

  it("a trigger whose filter no longer compiles (its field was removed) matches nothing", async () => {
    const m = await makeDeals();
    await makeTriggered([{ on: "content.created", moduleID: m.moduleID, filter: "stage eq 'Open'" }]);
    const mod = (await call(`/module/${m.moduleID}`)).json.response;
    const edited = await call(`/module/${m.moduleID}`, { body: { name: mod.name, fields: mod.fields.filter((f: any) => f.name !== "stage") } });
    expect(edited.status).toBe(200);
    const { contentID, events } = await createWithoutDispatch(m.moduleID, { title: "x" } as typeof deal);
    expect(events).toHaveLength(1);
    expect(await dispatchEvents(env, events)).toMatchObject({ done: 1, started: 0 });
    expect(await triggeredJobs(contentID)).toEqual([]);
  });
});

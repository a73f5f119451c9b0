// Helpers for the trigger tests: a deals module, workflows with triggers, and the jobs and outbox
// events a change left behind (read from D1, polled while the dispatch after the write runs).
import { env } from "cloudflare:workers";
import { call, makeModule } from "./helpers";
import { waitFor } from "./jobs-helpers";

const DEAL_FIELDS = [
  { name: "title", kind: "text" },
  { name: "stage", kind: "enum", options: { options: ["Open", "Won", "Lost"] } },
  { name: "value", kind: "number" },
  { name: "closeDate", kind: "date" },
  { name: "remindAt", kind: "stamp" },
];

export const makeDeals = (name = "Deal") => makeModule(name, DEAL_FIELDS) as Promise<{ moduleID: string }>;

export const logTask = (message = "item {{params.contentID}} {{params.event}}") => ({ name: "note", kind: "log", options: { message } });

/** A workflow with `triggers` (and one log task unless `tasks` says otherwise); answers its JSON. */
export async function makeTriggered(triggers: unknown[], tasks: unknown[] = [logTask()], name = "triggered") {
  const res = await call("/workflow/", { body: { name, tasks, triggers } });
  if (res.status !== 201) throw new Error(`workflow create failed: ${res.status} ${res.text}`);
  return res.json.response as Record<string, any>;
}

export async function updateItem(moduleID: string, contentID: string, fields: Record<string, unknown>) {
  const res = await call(`/module/${moduleID}/content/${contentID}`, { body: { fields } });
  if (res.status !== 200) throw new Error(`content update failed: ${res.status} ${res.text}`);
  return res.json.response;
}

export async function deleteItem(moduleID: string, contentID: string) {
  const res = await call(`/module/${moduleID}/content/${contentID}`, { method: "DELETE" });
  if (res.status !== 200) throw new Error(`content delete failed: ${res.status} ${res.text}`);
}

type JobRow = {
  id: number;
  workflow_id: number;
  status: string;
  trigger_key: string;
  trigger_content_id: number;
  triggered_by: string;
  parameters: string;
};

/** Mirror rows of the jobs triggers started for an item, oldest first. */
export async function triggeredJobs(contentID: string | number): Promise<JobRow[]> {
  const { results } = await env.DB.prepare("SELECT * FROM jobs WHERE trigger_content_id = ? ORDER BY id").bind(Number(contentID)).all<JobRow>();
  return results;
}

export async function outbox() {
  const { results } = await env.DB.prepare("SELECT * FROM content_events ORDER BY id").all<Record<string, any>>();
  return results;
}

/** Waits for the item's jobs to reach `count` and the outbox to be empty (the dispatch is over); answers them. */
export async function settledJobs(contentID: string, count: number) {
  return waitFor(`${count} job(s) of item ${contentID} and an empty outbox`, async () => {
    const jobs = await triggeredJobs(contentID);
    return jobs.length >= count && (await outbox()).length === 0 && jobs;
  });
}

/** Waits until the outbox is empty (every dispatch after the test's writes is over). */
export const drained = () => waitFor("an empty outbox", async () => (await outbox()).length === 0);

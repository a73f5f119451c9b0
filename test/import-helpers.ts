// Helpers for the import tests: posting files, waiting for the import job, reading what it made.
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import { call } from "./helpers";
import { getJob, isFinal, logsOf, waitForJob } from "./jobs-helpers";

type Posted = { status: number; json: any; text: string };

/** POSTs a file to /module/{moduleID}/import (`query` as query parameters). */
export async function postImport(moduleID: string, body: string, type = "text/csv", query: Record<string, string> = {}, scope?: string): Promise<Posted> {
  const qs = new URLSearchParams(query).toString();
  return call(`/module/${moduleID}/import${qs ? `?${qs}` : ""}`, { body, headers: { "content-type": type }, scope });
}

/** Imports a file and waits until its job is final; answers the job and its log. */
export async function importFile(moduleID: string, body: string, type = "text/csv", query: Record<string, string> = {}) {
  const res = await postImport(moduleID, body, type, query);
  expect(res.status, res.text).toBe(202);
  const job = await waitForJob(res.json.response.jobID, isFinal, 60_000);
  return { job, logs: await logsOf(job.jobID, "perPage=100"), jobID: job.jobID as string };
}

/** Every live item of a module as name → value objects, oldest first (through the API). */
export async function items(moduleID: string): Promise<Array<Record<string, unknown> & { contentID: string }>> {
  const out: Array<Record<string, unknown> & { contentID: string }> = [];
  for (let page = 0; page < 1000; page++) {
    const res = await call(`/module/${moduleID}/content?sort=id&perPage=100&page=${page}`);
    expect(res.status).toBe(200);
    for (const c of res.json.response.contents) out.push({ contentID: c.contentID, ...Object.fromEntries(c.fields.map((f: any) => [f.name, f.value])) });
    if (res.json.response.contents.length < 100) return out;
  }
  return out;
}

/** The number of live items of a module, counted in D1 (content and typed table). */
export async function countRows(moduleID: string) {
  const content = await env.DB.prepare("select count(*) as n from content where module_id = ? and deleted_at is null")
    .bind(Number(moduleID))
    .first<{ n: number }>();
  const typed = await env.DB.prepare(`select count(*) as n from c_${Number(moduleID)}`).first<{ n: number }>();
  return { content: content!.n, typed: typed!.n };
}

/** The report CSV of an import job. */
export async function reportOf(jobID: string) {
  const res = await call(`/job/${jobID}/report`);
  return { status: res.status, text: res.text.replace(/^\uFEFF/, ""), headers: res.headers, json: res.json };
}

export async function stagedRows(jobID: string) {
  return (await env.DB.prepare("select count(*) as n from import_rows where job_id = ?").bind(Number(jobID)).first<{ n: number }>())!.n;
}

export async function runStateOf(jobID: string) {
  return (await env.DB.prepare("select state from import_runs where job_id = ?").bind(Number(jobID)).first<{ state: string }>())?.state ?? null;
}

/** A CSV text of `rows` rows (header first), each row from `row(i)` (i from 1). */
export function csv(header: string[], rows: number, row: (i: number) => (string | number)[]) {
  const lines = [header.join(",")];
  for (let i = 1; i <= rows; i++) lines.push(row(i).join(","));
  return `${lines.join("\n")}\n`;
}

export { getJob };

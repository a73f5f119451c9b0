// Helpers for the page tests: create pages, read orders, and snapshot the pages table so a refused
// request can be shown to change nothing.
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import { call } from "./helpers";

export async function makePage(body: Record<string, unknown> = {}) {
  const res = await call("/page/", { body: { title: "Page", blocks: [], ...body } });
  if (res.status !== 201) throw new Error(`page create failed: ${res.status} ${res.text}`);
  return res.json.response as { pageID: string; selfID: string; moduleID: string; weight: number; title: string } & Record<string, any>;
}

/** The IDs of selfID's children, in the order GET /page/ answers them. */
export async function childIDs(selfID: string | number) {
  const res = await call(`/page/?selfID=${selfID}`);
  expect(res.status, res.text).toBe(200);
  return res.json.response.map((p: any) => p.pageID) as string[];
}

/** Every row of the pages table, as stored. */
export async function snapshot() {
  return (await env.DB.prepare("select * from pages order by id").all()).results;
}

/** Asserts a refused request: its status, error code, a details path, and that no page changed. */
export async function expectRefused(
  request: () => Promise<{ status: number; json: any; text: string }>,
  status: number,
  opts: { code?: string; path?: string } = {},
) {
  const before = await snapshot();
  const res = await request();
  expect(res.status, res.text).toBe(status);
  if (opts.code) expect(res.json.error.code).toBe(opts.code);
  if (opts.path)
    expect(
      res.json.error.details?.map((d: any) => d.path),
      res.text,
    ).toContain(opts.path);
  expect(await snapshot()).toEqual(before);
  return res;
}

// Helpers for the chart tests: items seeded through the content API, and the c3 / billboard.js
// `columns` shape check.
import { XMLParser } from "fast-xml-parser";
import { expect } from "vitest";
import { call, createItem } from "./helpers";

export async function addItems(moduleID: string, items: Record<string, unknown>[]): Promise<string[]> {
  const ids: string[] = [];
  for (const fields of items) ids.push(await createItem(moduleID, fields));
  return ids;
}

export async function chart(moduleID: string, query: string) {
  return call(`/module/${moduleID}/chart?${query}`);
}

/** The answer's data, after checking the request succeeded. */
export async function chartData(moduleID: string, query: string) {
  const res = await chart(moduleID, query);
  expect(res.status, `${query}: ${res.text}`).toBe(200);
  expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
  assertColumns(res.json.response.data);
  return res.json.response.data as unknown[][];
}

/**
 * What billboard.js / c3.js accept as `data.columns`: an array of columns, each an array whose
 * first element is the column's name (a string; our null category is JSON null, which both
 * libraries key as "null") followed by its values (numbers, or x values for the x column).
 */
function assertColumns(data: unknown) {
  expect(Array.isArray(data)).toBe(true);
  for (const column of data as unknown[]) {
    expect(Array.isArray(column)).toBe(true);
    const [name, ...values] = column as unknown[];
    expect(name === null || typeof name === "string").toBe(true);
    for (const v of values) expect(["number", "string", "boolean"]).toContain(typeof v);
  }
}

/** billboard.js's own conversion of `columns` into rows keyed by column name (its convertColumnsToData). */
export function billboardRows(columns: unknown[][]): Record<string, unknown>[] {
  const rows: Record<string, unknown>[] = [];
  for (const column of columns) {
    const key = String(column[0]);
    for (let j = 1; j < column.length; j++) {
      rows[j - 1] ??= {};
      rows[j - 1][key] = column[j];
    }
  }
  return rows;
}

/** Every element of the document, flattened, with its attributes and its own text. */
export function elements(text: string) {
  const tree = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "", preserveOrder: true, trimValues: false }).parse(text);
  const out: { tag: string; attrs: Record<string, string>; text: string }[] = [];
  const walk = (nodes: any[]) => {
    for (const node of nodes) {
      const tag = Object.keys(node).find((k) => k !== ":@");
      if (!tag || tag === "#text") continue;
      const children = node[tag] as any[];
      // The parser decodes the named entities; the renderer writes ' as &#39;.
      const own = children
        .filter((c) => "#text" in c)
        .map((c) => String(c["#text"]).replace(/&#39;/g, "'"))
        .join("");
      out.push({ tag, attrs: node[":@"] ?? {}, text: own });
      walk(children);
    }
  };
  walk(tree);
  return out;
}

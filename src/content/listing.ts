// `sort` and `query` of the content listing, compiled to SQL.
import { sql, type SQL } from "drizzle-orm";
import { content } from "../db/schema";
import { badRequest } from "../http/errors";
import type { Module } from "../modules/service";
import { knownNames, positionError, resolveName, tokenize } from "./filter";
import { searchFold } from "./storage";

export const DEFAULT_SORT = "id desc";
export const MAX_SORT_KEYS = 10;
export const MAX_QUERY_WORDS = 20;

/**
 * `name [asc|desc], ...` → ORDER BY terms. Items without a value come last in either direction;
 * ties are broken by `id` in the direction of the last key (so a single-key sort is one index scan).
 */
export function compileSort(module: Module, sort: string | undefined): SQL[] {
  return sortPlan(module, sort).terms;
}

/** The ORDER BY terms and the module field sorted by first (when the first key is one). */
export function sortPlan(module: Module, sort: string | undefined): { terms: SQL[]; firstField?: string } {
  const text = sort === undefined || sort.trim() === "" ? DEFAULT_SORT : sort;
  const tokens = tokenize(text, "sort");
  const terms: SQL[] = [];
  const seen = new Set<string>();
  let firstField: string | undefined;
  let i = 0;
  let lastDir = "desc";
  for (;;) {
    const nameTok = tokens[i++];
    if (nameTok.t !== "word") throw positionError("sort", nameTok.pos, "expected a field name");
    const ref = resolveName(module, nameTok.text);
    if (!ref) throw positionError("sort", nameTok.pos, `unknown field '${nameTok.text}'; known: ${knownNames(module).join(", ")}`);
    if (ref.multi) throw positionError("sort", nameTok.pos, `'${ref.name}' holds several values and cannot be sorted by`);
    if (seen.has(ref.name)) throw positionError("sort", nameTok.pos, `'${ref.name}' is named twice`);
    if (seen.size === 0 && ref.field) firstField = ref.field.name;
    seen.add(ref.name);
    if (seen.size > MAX_SORT_KEYS) throw positionError("sort", nameTok.pos, `at most ${MAX_SORT_KEYS} sort keys`);
    let dir = "asc";
    const dirTok = tokens[i];
    if (dirTok.t === "word" && ["asc", "desc"].includes(dirTok.text.toLowerCase())) {
      dir = dirTok.text.toLowerCase();
      i++;
    }
    lastDir = dir;
    terms.push(sql`${ref.expr} ${sql.raw(dir)} nulls last`);
    const sep = tokens[i++];
    if (sep.t === "end") break;
    if (sep.t !== ",") throw positionError("sort", sep.pos, "expected ',' , 'asc', 'desc' or the end");
  }
  if (!seen.has("id")) terms.push(sql`${content.id} ${sql.raw(lastDir)}`);
  return { terms, firstField };
}

/** Every word must occur (case-insensitively, as a substring) in the item's text-like values. */
export function compileQuery(query: string | undefined): SQL[] {
  if (!query) return [];
  const words = [...new Set(searchFold(query).split(/\s+/u).filter(Boolean))];
  if (words.length > MAX_QUERY_WORDS) {
    throw badRequest(`Invalid query: at most ${MAX_QUERY_WORDS} words`, [{ path: "query", message: `at most ${MAX_QUERY_WORDS} words` }], "invalid_query");
  }
  return words.map((w) => sql`instr(${content.search}, ${w}) > 0`);
}

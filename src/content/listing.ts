// `sort` and `query` of the content listing, compiled to SQL.
import { sql, type SQL } from "drizzle-orm";
import { content } from "../db/schema";
import { badRequest } from "../http/errors";
import type { Module } from "../modules/service";
import { knownNames, positionError, resolveName, tokenize } from "./filter";
import { isIndexed, searchFold, sortKeyExpr, wrongTypeRange } from "./storage";

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

export type SortPlan = {
  /** The ORDER BY terms. */
  terms: SQL[];
  /** The module field sorted by first (when the first key is one). */
  firstField?: string;
  /**
   * When `terms` sort by an indexed field's value as its index holds it (so a page is an ordered
   * walk of the index): items whose value there has another type than the field's kind stores,
   * which that order would put among the values. When any item matches, read the page with
   * `tolerantTerms` instead.
   */
  wrongTyped?: SQL;
  /** The same order with such values sorted as missing ones (last): a sort, no index walk. */
  tolerantTerms: SQL[];
};

/** The ORDER BY terms of `sort`, and what `SortPlan` says about them. */
export function sortPlan(module: Module, sort: string | undefined): SortPlan {
  const text = sort === undefined || sort.trim() === "" ? DEFAULT_SORT : sort;
  const tokens = tokenize(text, "sort");
  const terms: SQL[] = [];
  const tolerantTerms: SQL[] = [];
  const seen = new Set<string>();
  let firstField: string | undefined;
  let wrongTyped: SQL | undefined;
  let i = 0;
  let lastDir = "desc";
  for (;;) {
    const nameTok = tokens[i++];
    if (nameTok.t !== "word") throw positionError("sort", nameTok.pos, "expected a field name");
    const ref = resolveName(module, nameTok.text);
    if (!ref) throw positionError("sort", nameTok.pos, `unknown field '${nameTok.text}'; known: ${knownNames(module).join(", ")}`);
    if (ref.multi) throw positionError("sort", nameTok.pos, `'${ref.name}' holds several values and cannot be sorted by`);
    if (seen.has(ref.name)) throw positionError("sort", nameTok.pos, `'${ref.name}' is named twice`);
    const first = seen.size === 0;
    if (first && ref.field) firstField = ref.field.name;
    seen.add(ref.name);
    if (seen.size > MAX_SORT_KEYS) throw positionError("sort", nameTok.pos, `at most ${MAX_SORT_KEYS} sort keys`);
    let dir = "asc";
    const dirTok = tokens[i];
    if (dirTok.t === "word" && ["asc", "desc"].includes(dirTok.text.toLowerCase())) {
      dir = dirTok.text.toLowerCase();
      i++;
    }
    lastDir = dir;
    const order = (key: SQL) => sql`${key} ${sql.raw(dir)} nulls last`;
    const tolerant = ref.field ? sortKeyExpr(ref.field) : ref.expr;
    // Only the first key can be an index walk; elsewhere the tolerant key costs nothing more.
    if (first && ref.field && isIndexed(ref.field)) {
      terms.push(order(ref.expr));
      wrongTyped = wrongTypeRange(ref.field);
    } else {
      terms.push(order(tolerant));
    }
    tolerantTerms.push(order(tolerant));
    const sep = tokens[i++];
    if (sep.t === "end") break;
    if (sep.t !== ",") throw positionError("sort", sep.pos, "expected ',' , 'asc', 'desc' or the end");
  }
  if (!seen.has("id")) {
    terms.push(sql`${content.id} ${sql.raw(lastDir)}`);
    tolerantTerms.push(sql`${content.id} ${sql.raw(lastDir)}`);
  }
  return { terms, firstField, wrongTyped, tolerantTerms };
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

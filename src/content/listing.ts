// `sort` and `query` of the content listing, compiled to SQL.
import { sql, type SQL } from "drizzle-orm";
import { badRequest } from "../http/errors";
import type { Module } from "../module-model/module";
import { knownFieldNames, orderedValue, resolveField } from "./field-resolver";
import { positionError, tokenize } from "./filter";
import { searchFold } from "./storage";
import { DOC, itemColumn, searchTableName } from "../module-model/typed-table";
import { ident } from "../db/raw";

export const DEFAULT_SORT = "id desc";
const MAX_SORT_KEYS = 10;
const MAX_QUERY_WORDS = 20;

// Sorts: `name [asc|desc], ...` → ORDER BY terms (`sortPlan`). Items without a value come last in
// either direction; ties are broken by `id` in the direction of the last key (so a single-key sort
// is one index scan).

/** `missing`: whether items may lack the value (then they come last, in either direction). */
export type SortKey = { expr: SQL; dir: "asc" | "desc"; nocase: boolean; missing: boolean };

type SortPlan = {
  /** The ORDER BY terms. */
  terms: SQL[];
  /** The same order as keys (the last is `id` unless a key named it earlier). */
  keys: SortKey[];
  /** The module field sorted by first (when the first key is one). */
  firstField?: string;
};

/** The ORDER BY terms of `sort`, and the field it sorts by first. */
export function sortPlan(module: Module, sort: string | undefined): SortPlan {
  const text = sort === undefined || sort.trim() === "" ? DEFAULT_SORT : sort;
  const tokens = tokenize(text, "sort");
  const keys: SortKey[] = [];
  const seen = new Set<string>();
  let firstField: string | undefined;
  let i = 0;
  let lastDir: SortKey["dir"] = "desc";
  for (;;) {
    const nameTok = tokens[i++];
    if (nameTok.t !== "word") throw positionError("sort", nameTok.pos, "expected a field name");
    const ref = resolveField(module, nameTok.text);
    if (!ref) throw positionError("sort", nameTok.pos, `unknown field '${nameTok.text}'; known: ${knownFieldNames(module).join(", ")}`);
    if (ref.multi) throw positionError("sort", nameTok.pos, `'${ref.name}' holds several values and cannot be sorted by`);
    if (seen.has(ref.name)) throw positionError("sort", nameTok.pos, `'${ref.name}' is named twice`);
    if (seen.size === 0 && ref.definition) firstField = ref.definition.name;
    seen.add(ref.name);
    if (seen.size > MAX_SORT_KEYS) throw positionError("sort", nameTok.pos, `at most ${MAX_SORT_KEYS} sort keys`);
    let dir: SortKey["dir"] = "asc";
    const dirTok = tokens[i];
    if (dirTok.t === "word" && ["asc", "desc"].includes(dirTok.text.toLowerCase())) {
      dir = dirTok.text.toLowerCase() as SortKey["dir"];
      i++;
    }
    lastDir = dir;
    keys.push({ expr: orderedValue(module, ref), dir, nocase: ref.comparison === "text", missing: true });
    const sep = tokens[i++];
    if (sep.t === "end") break;
    if (sep.t !== ",") throw positionError("sort", sep.pos, "expected ',' , 'asc', 'desc' or the end");
  }
  if (!seen.has("id")) keys.push({ expr: itemColumn("id"), dir: lastDir, nocase: false, missing: false });
  return { terms: orderTerms(keys), keys, firstField };
}

/** ORDER BY terms for keys, over their expressions or over `at(i)`, the i-th key selected by an inner query. */
export function orderTerms(keys: SortKey[], at?: (i: number) => SQL): SQL[] {
  return keys.map((k, i) => {
    const x = at ? sql`${at(i)}${sql.raw(k.nocase ? " collate nocase" : "")}` : k.expr;
    return sql`${x} ${sql.raw(k.dir)}${sql.raw(k.missing ? " nulls last" : "")}`;
  });
}

/** Words this long or longer are found through the module's FTS5 trigram index. */
const INDEXED_WORD_CHARS = 3;

/**
 * Every word must occur (case-insensitively, as a substring) in the item's text-like values.
 * Words of three characters or more are matched through the module's full-text index (one
 * MATCH of quoted phrases, each a substring match with trigram tokens); shorter ones, which no
 * trigram can hold, scan the document's `search` column (the query then joins `content` as `doc`).
 */
export function compileQuery(module: Module, query: string | undefined): SQL[] {
  if (!query) return [];
  const words = [...new Set(searchFold(query).split(/\s+/u).filter(Boolean))];
  if (words.length > MAX_QUERY_WORDS) {
    throw badRequest(`Invalid query: at most ${MAX_QUERY_WORDS} words`, [{ path: "query", message: `at most ${MAX_QUERY_WORDS} words` }], "invalid_query");
  }
  const long = words.filter((w) => [...w].length >= INDEXED_WORD_CHARS);
  const out = words.filter((w) => !long.includes(w)).map((w) => sql`instr(${DOC}."search", ${w}) > 0`);
  if (long.length) {
    const match = long.map((w) => `"${w.replaceAll('"', '""')}"`).join(" AND ");
    const index = ident(searchTableName(module.id));
    out.unshift(sql`${itemColumn("id")} in (select "rowid" from ${index} where ${index} match ${match})`);
  }
  return out;
}

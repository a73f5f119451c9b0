// The content filter language, compiled to parameterised SQL over `content`.
//
//   expr       := or
//   or         := and ("or" and)*
//   and        := unary ("and" unary)*
//   unary      := "not" unary | "(" expr ")" | comparison
//   comparison := name op value | name "in" "(" value ("," value)* ")" | name "is" ["not"] "null"
//   op         := eq | ne | lt | le | gt | ge | contains | startswith
//   value      := 'quoted' | "quoted" (a quote doubled inside) | number | true | false
//
// Keywords are case-insensitive; names are resolved by field-resolver.ts (module fields, matched
// exactly, else case-insensitively, or id, createdAt, updatedAt, userID). Errors are a 400 naming
// the 1-based character position. Field names reach SQL only through the resolver's expressions
// after being resolved against the module; every value is a bound parameter.
import { D1_MAX_LIKE_PATTERN_BYTES } from "../platform/limits";
import { sql, type SQL } from "drizzle-orm";
import { isValidDate, normaliseStamp } from "../fields/registry";
import { badRequest } from "../http/errors";
import { idFromValue } from "../http/ids";
import type { Module } from "../module-model/module";
import { comparedValue, hasIndex, knownFieldNames, orderedValue, resolveField, type ResolvedField } from "./field-resolver";
import { elementHasStoredType, isTextField } from "./storage";

/**
 * Most comparisons one filter may hold: each binds one value, and the listing's statement binds
 * the query words (MAX_QUERY_WORDS) and its own few besides, within D1_MAX_BOUND_PARAMETERS.
 */
const MAX_FILTER_VALUES = 60;
export const MAX_FILTER_LENGTH = 10000;
const MAX_IN_VALUES = 1000;
/** Most nesting of parentheses and `not`. */
const MAX_DEPTH = 32;
/** D1's limit on the length of a LIKE pattern. */
const MAX_LIKE_BYTES = D1_MAX_LIKE_PATTERN_BYTES;
/** `in` lists up to this long bind one parameter per value. */
const SHORT_IN = 10;

type Token =
  | { t: "word"; text: string; pos: number }
  | { t: "string"; value: string; pos: number }
  | { t: "number"; value: number; text: string; pos: number }
  | { t: "(" | ")" | "," | "end"; pos: number };

const COMPARISON_OPS = new Set(["eq", "ne", "lt", "le", "gt", "ge", "contains", "startswith"]);

export function positionError(param: "filter" | "sort", pos: number, message: string) {
  return badRequest(`Invalid ${param} at position ${pos}: ${message}`, [{ path: param, message: `position ${pos}: ${message}` }], `invalid_${param}`);
}

const WORD_START = /[A-Za-z_]/;
const WORD_CHAR = /[A-Za-z0-9_]/;
const NUMBER = /^-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/;

export function tokenize(text: string, param: "filter" | "sort" = "filter"): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    const pos = i + 1;
    if (/\s/.test(ch)) {
      i++;
    } else if (ch === "(" || ch === ")" || ch === ",") {
      out.push({ t: ch, pos });
      i++;
    } else if (ch === "'" || ch === '"') {
      let value = "";
      let j = i + 1;
      for (;;) {
        if (j >= text.length) throw positionError(param, pos, "unterminated string");
        if (text[j] === ch) {
          if (text[j + 1] === ch) {
            value += ch;
            j += 2;
            continue;
          }
          break;
        }
        value += text[j++];
      }
      out.push({ t: "string", value, pos });
      i = j + 1;
    } else if (/[-.0-9]/.test(ch)) {
      const m = NUMBER.exec(text.slice(i));
      if (!m || (i + m[0].length < text.length && WORD_CHAR.test(text[i + m[0].length]))) {
        throw positionError(param, pos, `malformed number`);
      }
      const value = Number(m[0]);
      if (!Number.isFinite(value)) throw positionError(param, pos, "number out of range");
      out.push({ t: "number", value, text: m[0], pos });
      i += m[0].length;
    } else if (WORD_START.test(ch)) {
      let j = i + 1;
      while (j < text.length && WORD_CHAR.test(text[j])) j++;
      out.push({ t: "word", text: text.slice(i, j), pos });
      i = j;
    } else {
      throw positionError(param, pos, `unexpected character '${ch}'`);
    }
  }
  out.push({ t: "end", pos: text.length + 1 });
  return out;
}

const describe = (tok: Token) =>
  tok.t === "end"
    ? "end of input"
    : tok.t === "word"
      ? `'${tok.text}'`
      : tok.t === "string"
        ? "a string"
        : tok.t === "number"
          ? `number ${tok.text}`
          : `'${tok.t}'`;

type Literal = { value: string | number | boolean; pos: number; kind: "string" | "number" | "bool" };

class Parser {
  private i = 0;
  private depth = 0;
  values = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly module: Module,
  ) {}

  private peek(offset = 0) {
    return this.tokens[Math.min(this.i + offset, this.tokens.length - 1)];
  }
  private next() {
    return this.tokens[this.i++];
  }
  private isWord(tok: Token, ...words: string[]): boolean {
    return tok.t === "word" && words.includes(tok.text.toLowerCase());
  }
  private fail(tok: Token, expected: string): never {
    throw positionError("filter", tok.pos, `expected ${expected}, found ${describe(tok)}`);
  }

  parse(orderedBy?: string): SQL {
    if (this.peek().t === "end") this.fail(this.peek(), "a condition");
    const top = this.or();
    if (this.peek().t !== "end") this.fail(this.peek(), "'and', 'or' or the end");
    return steer(top, orderedBy);
  }

  private or(): Node {
    const parts = [this.and()];
    while (this.isWord(this.peek(), "or")) {
      this.next();
      parts.push(this.and());
    }
    return parts.length === 1 ? parts[0] : { sql: sql`(${sql.join(parts.map(toSql), sql` or `)})` };
  }

  private and(): Node {
    // Nested AND groups (parentheses) are flattened so the top level sees every conjunct.
    const terms = [this.unary()].flatMap((n) => n.terms ?? [n]);
    while (this.isWord(this.peek(), "and")) {
      this.next();
      const n = this.unary();
      terms.push(...(n.terms ?? [n]));
    }
    return terms.length === 1 ? terms[0] : { sql: sql`(${sql.join(terms.map(toSql), sql` and `)})`, terms };
  }

  private unary(): Node {
    const tok = this.peek();
    // SQLite refuses expressions nested over 1000 deep; keep far below.
    if (++this.depth > MAX_DEPTH) throw positionError("filter", tok.pos, `nested more than ${MAX_DEPTH} levels deep`);
    try {
      return this.unaryAt(tok);
    } finally {
      this.depth--;
    }
  }

  private unaryAt(tok: Token): Node {
    // `not` is the operator unless it is a field called "not" followed by an operator.
    if (this.isWord(tok, "not") && !this.isOperatorWord(this.peek(1))) {
      this.next();
      // Two-valued: an item without a value does not match `x eq 1`, so it matches `not (x eq 1)`.
      return { sql: sql`((${toSql(this.unary())}) is not 1)` };
    }
    if (tok.t === "(") {
      this.next();
      const inner = this.or();
      if (this.peek().t !== ")") this.fail(this.peek(), "')'");
      this.next();
      return inner;
    }
    return this.comparison();
  }

  private isOperatorWord(tok: Token) {
    return tok.t === "word" && (COMPARISON_OPS.has(tok.text.toLowerCase()) || ["in", "is"].includes(tok.text.toLowerCase()));
  }

  private comparison(): Node {
    const nameTok = this.next();
    if (nameTok.t !== "word") this.fail(nameTok, "a field name");
    // Each comparison binds one parameter (a short `in` list one per value, a long one a single
    // JSON array); D1 allows 100 per statement.
    if (++this.values > MAX_FILTER_VALUES) throw positionError("filter", nameTok.pos, `too long: at most ${MAX_FILTER_VALUES} bound values`);
    const ref = resolveField(this.module, nameTok.text);
    if (!ref) {
      throw positionError("filter", nameTok.pos, `unknown field '${nameTok.text}'; known: ${knownFieldNames(this.module).join(", ")}`);
    }
    const opTok = this.next();
    if (opTok.t !== "word") this.fail(opTok, "an operator (eq ne lt le gt ge in contains startswith is)");
    const op = opTok.text.toLowerCase();
    if (op === "is") {
      let negate = false;
      if (this.isWord(this.peek(), "not")) {
        this.next();
        negate = true;
      }
      const nullTok = this.next();
      if (!this.isWord(nullTok, "null")) this.fail(nullTok, "'null'");
      return { sql: nullCheck(this.module, ref, negate) };
    }
    if (op === "in") {
      if (this.peek().t !== "(") this.fail(this.peek(), "'(' after 'in'");
      this.next();
      const values: unknown[] = [];
      for (;;) {
        if (values.length >= MAX_IN_VALUES) this.fail(this.peek(), `at most ${MAX_IN_VALUES} values in a list`);
        values.push(this.coerce(ref, this.literal(), "in"));
        const sep = this.next();
        if (sep.t === ")") break;
        if (sep.t !== ",") this.fail(sep, "',' or ')'");
      }
      if (values.length <= SHORT_IN && values.length > 1) {
        this.values += values.length - 1;
        if (this.values > MAX_FILTER_VALUES) throw positionError("filter", nameTok.pos, `too long: at most ${MAX_FILTER_VALUES} bound values`);
      }
      return { sql: compare(this.module, ref, "in", values) };
    }
    if (!COMPARISON_OPS.has(op)) this.fail(opTok, "an operator (eq ne lt le gt ge in contains startswith is)");
    const lit = this.literal();
    const value = this.coerce(ref, lit, op);
    const node: Node = { sql: compare(this.module, ref, op, [value]) };
    const indexed = indexedName(this.module, ref);
    if (op === "eq" && ref.comparison !== "bool") node.eq = indexed; // true/false splits in about two: not selective
    if (RANGE_OPS.has(op) && indexed !== undefined) {
      node.range = indexed;
      node.lower = op === "gt" || op === "ge";
      // The same test with the field's expression behind a unary `+`, which no index can serve.
      const v = comparedValue(this.module, ref);
      const plain = isTextField(ref.definition!) ? sql`(+${v}) collate nocase` : sql`(+${v})`;
      node.unindexed = sql`${plain} ${sql.raw(SQL_OPS[op])} ${value}`;
    }
    return node;
  }

  private literal(): Literal {
    const tok = this.next();
    if (tok.t === "string") return { value: tok.value, pos: tok.pos, kind: "string" };
    if (tok.t === "number") return { value: tok.value, pos: tok.pos, kind: "number" };
    if (this.isWord(tok, "true", "false")) return { value: tok.t === "word" && tok.text.toLowerCase() === "true", pos: tok.pos, kind: "bool" };
    if (this.isWord(tok, "null")) throw positionError("filter", tok.pos, "use 'is null' or 'is not null' to test for a missing value");
    this.fail(tok, "a value (a quoted string, a number, true or false)");
  }

  /** Checks a literal against the field's kind and answers the value to bind. */
  private coerce(ref: ResolvedField, lit: Literal, op: string): unknown {
    const wrong = (what: string): never => {
      throw positionError("filter", lit.pos, `'${ref.name}' ${op} expects ${what}`);
    };
    if ((op === "contains" || op === "startswith") && ref.comparison !== "text") {
      throw positionError("filter", lit.pos, `'${op}' applies to text fields only; '${ref.name}' is not text`);
    }
    switch (ref.comparison) {
      case "text":
        return lit.kind === "string" ? lit.value : wrong("a quoted string");
      case "number":
        return lit.kind === "number" ? lit.value : wrong("a number");
      case "bool":
        if (!["eq", "ne", "in"].includes(op)) throw positionError("filter", lit.pos, `'${ref.name}' is true/false: use eq, ne or in`);
        return lit.kind === "bool" ? (lit.value ? 1 : 0) : wrong("true or false");
      case "date":
        return lit.kind === "string" && isValidDate(lit.value as string) ? lit.value : wrong("a date 'YYYY-MM-DD'");
      case "stamp": {
        if (lit.kind !== "string") return wrong("a date-time or date in quotes");
        const text = lit.value as string;
        const stamp = isValidDate(text) ? `${text}T00:00:00.000Z` : normaliseStamp(text);
        return stamp ?? wrong("an RFC 3339 date-time or a date 'YYYY-MM-DD'");
      }
      case "id": {
        const v = lit.value;
        return idFromValue(v) ?? wrong("an ID");
      }
    }
  }
}

const SQL_OPS: Record<string, string> = { eq: "=", lt: "<", le: "<=", gt: ">", ge: ">=" };
const RANGE_OPS = new Set(["lt", "le", "gt", "ge"]);

/**
 * A compiled part of a filter. Comparisons remember whether they are an equality on an indexed
 * field (`eq`) or a range on one (`range`, with the same test written so no index serves it).
 */
type Node = { sql: SQL; terms?: Node[]; eq?: string; range?: string; lower?: boolean; unindexed?: SQL };

const toSql = (n: Node) => n.sql;

/** The field's name when it is a module field with an index of its own. */
const indexedName = (module: Module, ref: ResolvedField) => (ref.definition && hasIndex(module, ref) ? ref.definition.name : undefined);

/**
 * Steers SQLite's choice of index. Without statistics its planner prefers a range on one field's
 * index over an equality on another's (a 100,000-item `country eq 'France' and value ge 1000`
 * count walked the 80,000 entries of `value` and parsed each row: ~90 ms, against ~20 ms through
 * `country`). So when the top-level conjunction holds an `eq` on an indexed non-bool field, one-sided
 * ranges on other fields are written so that no index serves them, unless their field is the
 * first sort key (walking its index in order lets the page stop after 50 rows). A range bounded
 * on both sides is usually narrow and keeps its index; so does everything when there is no `eq`
 * (an `in` list is not assumed selective). Results are the same either way.
 */
function steer(top: Node, orderedBy?: string): SQL {
  if (!top.terms) return top.sql;
  const eqFields = new Set(top.terms.map((t) => t.eq).filter(Boolean));
  if (eqFields.size === 0) return top.sql;
  const bounds = new Map<string, Set<boolean>>();
  for (const t of top.terms) if (t.range) bounds.set(t.range, (bounds.get(t.range) ?? new Set()).add(Boolean(t.lower)));
  const parts = top.terms.map((t) =>
    t.range && t.unindexed && t.range !== orderedBy && !eqFields.has(t.range) && bounds.get(t.range)!.size === 1 ? t.unindexed : t.sql,
  );
  return sql`(${sql.join(parts, sql` and `)})`;
}

function nullCheck(module: Module, ref: ResolvedField, negate: boolean): SQL {
  const value = comparedValue(module, ref);
  if (ref.multi && ref.definition) {
    // An element count, never raising: a value that is not an array has no elements.
    const len = sql`coalesce(json_array_length(${value}), 0)`;
    return negate ? sql`${len} > 0` : sql`${len} = 0`;
  }
  return negate ? sql`${value} is not null` : sql`${value} is null`;
}

/**
 * One comparison; for multi fields it holds when any element matches (`ne`: when none equals).
 * Values of another type than the kind stores are not in the typed row: they match no comparison
 * (but `ne`, like a missing one). Elements of a multi field's array are checked one by one.
 */
function compare(module: Module, ref: ResolvedField, op: string, values: unknown[]): SQL {
  // A single field's `orderedValue` already carries COLLATE NOCASE for text; json_each's `value` needs it.
  const nocase = ref.definition ? isTextField(ref.definition) && ref.multi : false;
  const collate = sql.raw(nocase ? " collate nocase" : "");
  const test = (x: SQL): SQL => {
    switch (op) {
      case "in":
        // A short list binds each value (the planner estimates it well); a long one binds one JSON array.
        return values.length <= SHORT_IN
          ? sql`${x}${collate} in (${sql.join(
              values.map((v) => sql`${v}`),
              sql`, `,
            )})`
          : sql`${x}${collate} in (select value from json_each(${JSON.stringify(values)}))`;
      case "ne":
      case "eq":
        return sql`${x} = ${values[0]}${collate}`;
      case "contains":
      case "startswith": {
        // LIKE folds ASCII case like NOCASE, and a prefix LIKE is answered from the field's NOCASE
        // index. D1 refuses LIKE patterns over 50 bytes: longer values use instr/substr, which
        // fold the same way (lower() is ASCII-only too).
        const needle = values[0] as string;
        const pattern = `${op === "contains" ? "%" : ""}${needle.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
        if (new TextEncoder().encode(pattern).length <= MAX_LIKE_BYTES) return sql`${x} like ${pattern} escape '\\'`;
        if (op === "contains") return sql`instr(lower(${x}), lower(${needle})) > 0`;
        // The length is a number computed here, not client text.
        return sql`lower(substr(${x}, 1, ${sql.raw(String([...needle].length))})) = lower(${needle})`;
      }
      default:
        return sql`${x} ${sql.raw(SQL_OPS[op])} ${values[0]}${collate}`;
    }
  };
  if (ref.multi && ref.definition) {
    // Only elements of an array, and of the kind's type: a scalar, an object or text that is not
    // JSON in a multi field matches nothing (json_each over such text would raise).
    const each = sql`exists (select 1 from json_each(${comparedValue(module, ref)}) where ${elementHasStoredType(ref.definition)} and ${test(sql`value`)})`;
    return op === "ne" ? sql`not ${each}` : each;
  }
  const expr = orderedValue(module, ref);
  if (op === "ne") return sql`${expr} is not ${values[0]}${collate}`;
  return test(expr);
}

/**
 * Compiles a filter into a SQL condition over the module's typed rows (module-model/typed-table.ts).
 * Throws a 400 ApiError naming the position on any error. `orderedBy`: the field the query is
 * ordered by first, if any (see `steer`); leave it out for counts and aggregates.
 */
export function compileFilter(module: Module, filter: string, options: { orderedBy?: string } = {}): SQL {
  if (filter.length > MAX_FILTER_LENGTH) {
    throw positionError("filter", MAX_FILTER_LENGTH + 1, `a filter is at most ${MAX_FILTER_LENGTH} characters`);
  }
  return new Parser(tokenize(filter), module).parse(options.orderedBy);
}

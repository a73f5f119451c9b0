// The chart aggregates as SQL run inside D1: GROUP BY / COUNT / total() over the module's typed
// rows (its live items), never loading items into the Worker. Field values come from content's
// field resolver, so the typed table's indexes serve these queries; `compileFilter` is content's too.
import { and, sql, type SQL } from "drizzle-orm";
import type { Db } from "../db/client";
import { badRequest } from "../http/errors";
import type { Module } from "../module-model/module";
import { compileFilter, itemColumn, itemsFrom, layoutOf, needsDocument, orderedValue, storedValue } from "./content-api";
import { MAX_POINTS, type Bound, type ChartField, type ChartPlan, type FieldParam } from "./params";

/**
 * `val`/`total` is null where total() overflowed: SQLite sums doubles into ±Infinity (two items of
 * 1.7e308), and D1, which answers in JSON, turns ±Infinity (and NaN) into null. total() is never
 * null otherwise (it is 0.0 over no rows), and counts never are, so null means "beyond the range".
 */
type CategoryRow = { cat: unknown; val: number | null };
type SeriesPoint = { x: unknown; y: number };

export type Aggregate = { shape: "rows"; rows: CategoryRow[] } | { shape: "series"; points: SeriesPoint[] } | { shape: "total"; total: number | null };

/** Alias of the json_each table that explodes a multi-value category, one row per element. */
const EACH = sql.raw("chart_each");

/** A date bucket of a `YYYY-MM-DD...` value (dates, and stamps stored in UTC): its sortable label. */
function bucketExpr(v: SQL, bucket: FieldParam["bucket"]): SQL {
  switch (bucket) {
    case "year":
      return sql`substr(${v}, 1, 4)`;
    case "quarter":
      return sql`(substr(${v}, 1, 4) || '-Q' || ((cast(substr(${v}, 6, 2) as integer) + 2) / 3))`;
    case "month":
      return sql`substr(${v}, 1, 7)`;
    case "day":
      return sql`substr(${v}, 1, 10)`;
    case "week": {
      // ISO 8601 week: the week (Monday..Sunday) belongs to the year of its Thursday, and is
      // numbered by that Thursday's day of the year. `-3 days, weekday 4` finds the Thursday.
      const thursday = sql`date(substr(${v}, 1, 10), '-3 days', 'weekday 4')`;
      return sql`(strftime('%Y', ${thursday}) || '-W' || printf('%02d', (cast(strftime('%j', ${thursday}) as integer) - 1) / 7 + 1))`;
    }
    default:
      return v;
  }
}

/**
 * What a category is grouped and ordered by. Text kinds compare case-insensitively (as in
 * filter and sort): content's `orderedValue`, the very expression its per-field index holds.
 */
function groupExpr(module: Module, ref: FieldParam, source: SQL, exploded: boolean): SQL {
  if (ref.bucket) return bucketExpr(source, ref.bucket);
  if (ref.field.comparison !== "text") return source;
  if (exploded || !ref.field.definition) return sql`${source} collate nocase`;
  return orderedValue(module, ref.field);
}

/** ORDER BY terms for a category (or x) value of this field: ascending by the field's kind. */
function orderTerms(v: SQL, ref: FieldParam): SQL {
  if (ref.bucket) return v;
  switch (ref.field.comparison) {
    case "id":
      return sql`cast(${v} as integer), ${v}`;
    case "text":
      return sql`${v} collate nocase, ${v}`;
    default:
      return v;
  }
}

/** The SQL test `v op bound` of an xMin/xMax bound, by the x field's kind (`v` may be an element of a multi field). */
function boundTest(v: SQL, op: ">=" | "<=", bound: Bound, field: ChartField): SQL {
  const o = sql.raw(op);
  switch (field.comparison) {
    case "id":
      return sql`cast(${v} as integer) ${o} ${bound}`;
    case "text":
      return sql`${v} collate nocase ${o} ${bound}`;
    default:
      return sql`${v} ${o} ${bound}`;
  }
}

function boundsOn(v: SQL, plan: ChartPlan): SQL[] {
  const x = plan.x!.field;
  const out: SQL[] = [];
  if (plan.xMin !== undefined) out.push(boundTest(v, ">=", plan.xMin, x));
  if (plan.xMax !== undefined) out.push(boundTest(v, "<=", plan.xMax, x));
  return out;
}

/** WHERE: the filter, and xMin/xMax on xAxis (the typed table holds live items only). */
function whereClause(module: Module, plan: ChartPlan, explodedX: boolean): SQL {
  const parts: SQL[] = [sql`1`];
  if (plan.filter) parts.push(compileFilter(module, plan.filter));
  if (plan.x && (plan.xMin !== undefined || plan.xMax !== undefined)) {
    const x = plan.x.field;
    if (explodedX) {
      parts.push(...boundsOn(sql`${EACH}.value`, plan));
    } else if (x.multi) {
      // An item with several x values is in bounds when one of them is.
      const inner = and(...boundsOn(sql`chart_bound.value`, plan));
      parts.push(sql`exists (select 1 from json_each(${arrayExpr(module, x)}) as chart_bound where ${inner})`);
    } else {
      parts.push(...boundsOn(storedValue(module, x), plan));
    }
  }
  return and(...parts)!;
}

/** A multi-value field's array: its typed column holds JSON arrays only (or NULL). */
const arrayExpr = (module: Module, field: ChartField): SQL => storedValue(module, field);

/** Whether a field has a value in the current row (a non-empty array for multi fields). */
function hasValue(module: Module, field: ChartField): SQL {
  return field.multi ? sql`json_array_length(${arrayExpr(module, field)}) > 0` : sql`${storedValue(module, field)} is not null`;
}

/** The aggregate of one category, or of everything for a gauge (`total`). */
function aggregateExpr(module: Module, plan: ChartPlan, exploded: boolean, total = false): SQL {
  if (plan.case === "series") return sql`total(${storedValue(module, plan.y!.field)})`;
  if (plan.case !== "count" && plan.sum) return sql`total(${storedValue(module, plan.sum.field)})`;
  // Case 1 counts the items of each category holding `count` (all items without it); case 2
  // counts the items of each value of `count` (its null category: the items without one), and its
  // gauge total is the number of items holding a value.
  const counted = plan.case === "count" ? (total && !plan.countAll ? plan.category : undefined) : plan.countField;
  if (!counted) return exploded ? sql`count(distinct ${itemColumn("id")})` : sql`count(*)`;
  return exploded
    ? sql`count(distinct case when ${hasValue(module, counted.field)} then ${itemColumn("id")} end)`
    : sql`count(case when ${hasValue(module, counted.field)} then 1 end)`;
}

const tooMany = (param: string, what: string) =>
  badRequest(
    `The chart has more than ${MAX_POINTS} ${what}; narrow it with xMin/xMax or filter`,
    [{ path: param, message: `more than ${MAX_POINTS} ${what}` }],
    "too_many_points",
  );

/** FROM for a query whose other clauses are `parts`: the typed rows, joined to the documents when a part reads them. */
const fromFor = (module: Module, ...parts: SQL[]) => itemsFrom(layoutOf(module), parts.some(needsDocument));

export async function runAggregate(db: Db, module: Module, plan: ChartPlan): Promise<Aggregate> {
  if (plan.kind === "gauge") {
    const seriesWhere = plan.case === "series" ? [plan.x ? hasValue(module, plan.x.field) : undefined, hasValue(module, plan.y!.field)] : [];
    const where = and(whereClause(module, plan, false), ...seriesWhere)!;
    const agg = aggregateExpr(module, plan, false, true);
    const row = await db.get<{ val: number | null }>(sql`select ${agg} as val from ${fromFor(module, where, agg)} where ${where}`);
    // One row always comes back (an aggregate without GROUP BY); its null is an overflow, not 0.
    return { shape: "total", total: row ? row.val : 0 };
  }

  if (plan.case === "series") {
    const x = plan.x!;
    const xv = storedValue(module, x.field);
    const yv = storedValue(module, plan.y!.field);
    const where = and(whereClause(module, plan, false), sql`${xv} is not null`, sql`${yv} is not null`)!;
    const points = await db.all<SeriesPoint>(
      sql`select ${xv} as x, ${yv} as y from ${fromFor(module, where)} where ${where}
          order by ${orderTerms(sql.raw("x"), x)}, ${itemColumn("id")} limit ${MAX_POINTS + 1}`,
    );
    if (points.length > MAX_POINTS) throw tooMany("xAxis", "points in the raw series");
    return { shape: "series", points };
  }

  if (plan.case === "count" && plan.countAll) {
    const where = whereClause(module, plan, false);
    const row = await db.get<{ val: number }>(sql`select count(*) as val from ${fromFor(module, where)} where ${where}`);
    return { shape: "rows", rows: [{ cat: undefined, val: Number(row?.val ?? 0) }] };
  }

  const category = plan.category!;
  const exploded = category.field.multi;
  const source = exploded ? sql`${EACH}.value` : storedValue(module, category.field);
  const group = groupExpr(module, category, source, exploded);
  // Spellings that differ only in case share a category, named by one of them (the group key as
  // SQLite keeps it). Selecting the key itself, rather than min() of the spellings, keeps the
  // query answered from the typed table's indexes alone: several times faster on large modules.
  const label = group;
  const order = category.field.comparison === "id" && !category.bucket ? sql`cast(${group} as integer)` : group;
  const explodedX = exploded && plan.case === "sum"; // case 3: the category is xAxis itself
  const where = whereClause(module, plan, explodedX);
  const agg = aggregateExpr(module, plan, exploded);
  const items = fromFor(module, where, agg, group);
  if (category.bucket && !exploded) {
    // Two steps: aggregate per distinct value in the value's own order (an index walk, no sort:
    // a day or an instant per row at most), then combine those into buckets, which SQLite would
    // otherwise sort row by row (a bucket is an expression no index holds).
    const combine = plan.case !== "count" && plan.sum ? sql`total(val)` : sql`sum(val)`; // sums of sums; counts of counts
    const bucketed = bucketExpr(sql.raw("k"), category.bucket);
    const rows = await db.all<CategoryRow>(
      sql`select ${bucketed} as cat, ${combine} as val from
            (select ${source} as k, ${agg} as val from ${items} where ${where} group by ${source})
          group by ${bucketed}
          order by (${bucketed} is null), ${bucketed}
          limit ${MAX_POINTS + 1}`,
    );
    if (rows.length > MAX_POINTS) throw tooMany(category.param, "categories");
    return { shape: "rows", rows };
  }
  const from = exploded ? sql`${items} left join json_each(${arrayExpr(module, category.field)}) as ${EACH}` : items;
  const rows = await db.all<CategoryRow>(
    sql`select ${label} as cat, ${agg} as val from ${from}
        where ${where}
        group by ${group}
        order by (${group} is null), ${order}
        limit ${MAX_POINTS + 1}`,
  );
  if (rows.length > MAX_POINTS) throw tooMany(category.param, "categories");
  return { shape: "rows", rows };
}

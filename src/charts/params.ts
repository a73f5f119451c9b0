// Reads the chart parameters, resolves the fields they name against the module, checks them and
// picks which of the contract's four aggregates runs. Every refusal is a 400 naming the parameter.
import { z } from "@hono/zod-openapi";
import { isValidDate, normaliseStamp } from "../fields/registry";
import { badRequest } from "../http/errors";
import { parseId } from "../http/ids";
import type { Module } from "../module-model/module";
import { resolveField, type OwnColumn, type ResolvedField } from "./content-api";

export const CHART_KINDS = ["line", "spline", "step", "area", "area-spline", "area-step", "bar", "scatter", "pie", "donut", "gauge"] as const;
export type ChartKind = (typeof CHART_KINDS)[number];

export const BUCKETS = ["year", "quarter", "month", "week", "day"] as const;
type Bucket = (typeof BUCKETS)[number];

/** At most this many points in the raw series, and categories in a grouped answer. */
export const MAX_POINTS = 10_000;

const SVG_SIZE = { width: 800, height: 450, min: 200, max: 4000 } as const;

/** The query string of GET /module/{moduleID}/chart, as documented in /openapi.json. */
export const chartQuery = z
  .object({
    name: z.string().optional().openapi({ description: "chart title; echoed in meta, drawn as the SVG title" }),
    description: z.string().optional().openapi({ description: "echoed in meta" }),
    // Checked by planChart after the module is found (a 400 `missing_parameter` when absent), so
    // optional for the parser and required in the document.
    kind: z
      .string()
      .optional()
      .openapi({ param: { required: true }, description: "the chart kind", enum: [...CHART_KINDS] }),
    xAxis: z
      .string()
      .optional()
      .openapi({ description: "x field; `field:year|quarter|month|week|day` when it is the category of a sum (case 3)", example: "closeDate" }),
    yAxis: z.string().optional().openapi({ description: "y field (a number field) of the raw series (case 4)", example: "value" }),
    xMin: z.string().optional().openapi({ description: "inclusive lower bound on xAxis, written as a value of its kind" }),
    xMax: z.string().optional().openapi({ description: "inclusive upper bound on xAxis, written as a value of its kind" }),
    groupBy: z
      .string()
      .optional()
      .openapi({ description: "category field; `field:year|quarter|month|week|day` for date and stamp fields", example: "country" }),
    sum: z.string().optional().openapi({ description: "number field to add up", example: "value" }),
    count: z.string().optional().openapi({ description: "field whose values are counted, or `id` (every item counts)" }),
    filter: z.string().optional().openapi({ description: "content filter, e.g. `stage eq 'Won' and value ge 1000`", example: "value ge 1000" }),
    format: z
      .string()
      .optional()
      .openapi({ description: "`json` (default) or `svg`", enum: ["json", "svg"] }),
    width: z
      .string()
      .optional()
      .openapi({ type: "integer", minimum: SVG_SIZE.min, maximum: SVG_SIZE.max, description: `SVG width in pixels (default ${SVG_SIZE.width})` }),
    height: z
      .string()
      .optional()
      .openapi({ type: "integer", minimum: SVG_SIZE.min, maximum: SVG_SIZE.max, description: `SVG height in pixels (default ${SVG_SIZE.height})` }),
  })
  .passthrough();

type ChartQuery = z.output<typeof chartQuery>;

/**
 * A field a chart can name (a module field, or one of the item's own columns), as content
 * resolves it, with what the answer shows of it: its label and a number field's bounds.
 */
export type ChartField = ResolvedField & {
  label: string;
  min?: number;
  max?: number;
  precision?: number;
};

/** A chart parameter that names a field: the field, and its date bucket if the parameter gave one. */
export type FieldParam = { param: ParamName; field: ChartField; bucket?: Bucket };

type ParamName = "xAxis" | "yAxis" | "groupBy" | "sum" | "count";

/** A bound of xMin/xMax, typed for the SQL comparison. */
export type Bound = number | string;

type ChartCase = "groupBy" | "count" | "sum" | "series";

export type ChartPlan = {
  kind: ChartKind;
  case: ChartCase;
  /** The category dimension of cases 1-3 (groupBy, the count field, or xAxis). */
  category?: FieldParam;
  /** Case 1: the field whose presence is counted (absent: every item counts). */
  countField?: FieldParam;
  /** Case 2 with count=id: one total row. */
  countAll: boolean;
  sum?: FieldParam;
  x?: FieldParam;
  y?: FieldParam;
  groupBy?: FieldParam;
  xMin?: Bound;
  xMax?: Bound;
  filter?: string;
  format: "json" | "svg";
  width: number;
  height: number;
  /** The parameters as given, echoed in `meta`. */
  meta: {
    name: string;
    description: string;
    kind: ChartKind;
    module: string;
    x: string;
    y: string;
    xmin: string;
    xmax: string;
    groupby: string;
    sum: string;
    count: string;
    filter: string;
  };
};

/**
 * The result cache's key for a plan: what the aggregate query depends on, and nothing that only
 * changes how the answer is presented (title, description, SVG size, format, the chart kind
 * except gauge, which totals), so a dashboard's differently titled charts share one entry and a
 * client cannot fill the cache by varying labels or adding unknown parameters.
 */
export function aggregateKey(plan: ChartPlan): string {
  const { meta, format, width, height, kind, ...computed } = plan;
  return `chart:${JSON.stringify({ total: kind === "gauge", ...computed })}`;
}

/** The labels of the item's own columns. */
const OWN_LABELS: Record<OwnColumn, string> = { id: "ID", userID: "User", createdAt: "Created", updatedAt: "Updated" };

const fail = (param: string, message: string, code: "invalid_chart" | "unknown_field" | "invalid_bound" | "missing_parameter" = "invalid_chart") =>
  badRequest(`Invalid ${param}: ${message}`, [{ path: param, message }], code);

/** A parameter's value, or undefined when absent or blank (a form's empty input means "not set"). */
const given = (v: string | undefined) => (v === undefined || v.trim() === "" ? undefined : v.trim());

/** The field a chart parameter names, resolved as filters and sorts resolve names. */
function chartField(module: Module, name: string): ChartField | undefined {
  const ref = resolveField(module, name);
  if (!ref) return undefined;
  const def = ref.definition;
  if (!def) return { ...ref, label: OWN_LABELS[ref.builtin!] };
  const options = def.options as { min?: unknown; max?: unknown; precision?: unknown };
  return {
    ...ref,
    label: def.label || def.name,
    ...(typeof options.min === "number" ? { min: options.min } : {}),
    ...(typeof options.max === "number" ? { max: options.max } : {}),
    ...(typeof options.precision === "number" ? { precision: options.precision } : {}),
  };
}

function fieldParam(module: Module, param: ParamName, raw: string | undefined): FieldParam | undefined {
  const text = given(raw);
  if (text === undefined) return undefined;
  const colon = text.indexOf(":");
  const name = colon < 0 ? text : text.slice(0, colon);
  const field = chartField(module, name);
  if (!field) throw fail(param, `unknown field '${name}' in module ${module.id}`, "unknown_field");
  if (colon < 0) return { param, field };
  const bucket = text.slice(colon + 1);
  if (!(BUCKETS as readonly string[]).includes(bucket)) {
    throw fail(param, `unknown date bucket '${bucket}'; use one of ${BUCKETS.join(", ")}`);
  }
  if (field.comparison !== "date" && field.comparison !== "stamp") {
    throw fail(param, `a date bucket needs a date or stamp field; '${name}' is a ${field.kind} field`);
  }
  return { param, field, bucket: bucket as Bucket };
}

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** Parses an xMin/xMax as a value of the x field's kind. */
function parseBound(param: "xMin" | "xMax", raw: string, x: ChartField): Bound {
  const bad = (what: string) => fail(param, `'${raw}' is not ${what} (xAxis '${x.name}' is a ${x.kind} field)`, "invalid_bound");
  switch (x.comparison) {
    case "number": {
      if (!NUMBER.test(raw) || !Number.isFinite(Number(raw))) throw bad("a number");
      return Number(raw);
    }
    case "date":
      if (!isValidDate(raw)) throw bad("a date (YYYY-MM-DD)");
      return raw;
    case "stamp": {
      // A bare date bounds whole days: xMin from its first millisecond, xMax to its last (UTC).
      if (DAY.test(raw)) {
        if (!isValidDate(raw)) throw bad("a date-time (RFC 3339) or a date");
        return param === "xMin" ? `${raw}T00:00:00.000Z` : `${raw}T23:59:59.999Z`;
      }
      const stamp = normaliseStamp(raw);
      if (!stamp) throw bad("a date-time (RFC 3339) or a date");
      return stamp;
    }
    case "bool":
      if (raw !== "true" && raw !== "false") throw bad("true or false");
      return raw === "true" ? 1 : 0;
    case "id": {
      const id = parseId(raw);
      if (id === undefined) throw bad("an ID");
      return id;
    }
    default:
      return raw;
  }
}

function compareBounds(a: Bound, b: Bound, x: ChartField) {
  if (typeof a === "number" && typeof b === "number") return a - b;
  const [sa, sb] = x.comparison === "text" ? [String(a).toLowerCase(), String(b).toLowerCase()] : [String(a), String(b)];
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

function intOption(param: "width" | "height", raw: string | undefined, fallback: number) {
  const text = given(raw);
  if (text === undefined) return fallback;
  if (!/^\d{1,6}$/.test(text) || +text < SVG_SIZE.min || +text > SVG_SIZE.max) {
    throw fail(param, `'${raw}' must be an integer from ${SVG_SIZE.min} to ${SVG_SIZE.max}`);
  }
  return Number(text);
}

const noBucket = (ref: FieldParam | undefined, why: string) => {
  if (ref?.bucket) throw fail(ref.param, `a date bucket is allowed only on groupBy, or on xAxis when sum runs without groupBy and count; ${why}`);
};

const noMulti = (ref: FieldParam | undefined, why: string) => {
  if (ref?.field.multi) throw fail(ref.param, `'${ref.field.name}' holds several values per item; ${why}`);
};

/** Checks the parameters against the module and decides which aggregate runs. */
export function planChart(module: Module, q: ChartQuery): ChartPlan {
  const kindText = given(q.kind);
  if (kindText === undefined) throw fail("kind", `kind is required: one of ${CHART_KINDS.join(", ")}`, "missing_parameter");
  if (!(CHART_KINDS as readonly string[]).includes(kindText)) {
    throw fail("kind", `unknown chart kind '${kindText}'; use one of ${CHART_KINDS.join(", ")}`);
  }
  const kind = kindText as ChartKind;

  const formatText = given(q.format)?.toLowerCase() ?? "json";
  if (formatText !== "json" && formatText !== "svg") throw fail("format", `unknown format '${q.format}'; use json or svg`);
  const width = intOption("width", q.width, SVG_SIZE.width);
  const height = intOption("height", q.height, SVG_SIZE.height);

  // Every field named is checked, used by the chosen case or not.
  const x = fieldParam(module, "xAxis", q.xAxis);
  const y = fieldParam(module, "yAxis", q.yAxis);
  const groupBy = fieldParam(module, "groupBy", q.groupBy);
  const sum = fieldParam(module, "sum", q.sum);
  const countText = given(q.count);
  const count = fieldParam(module, "count", q.count);

  if (sum) {
    if (sum.field.comparison !== "number") throw fail("sum", `'${sum.field.name}' is a ${sum.field.kind} field; sum needs a number field`);
    noBucket(sum, "sum needs a number field");
    noMulti(sum, "sum needs a single-value number field");
  }
  noBucket(count, "count counts a field's values");
  noBucket(y, "yAxis is the value of the raw series");

  let plan: Pick<ChartPlan, "case" | "category" | "countField" | "countAll">;
  if (groupBy) {
    plan = { case: "groupBy", category: groupBy, countField: count && count.field.builtin !== "id" ? count : undefined, countAll: false };
    noBucket(x, "with groupBy, xAxis only bounds the items");
  } else if (count) {
    plan = count.field.builtin === "id" ? { case: "count", countAll: true } : { case: "count", category: count, countAll: false };
    noBucket(x, "with count, xAxis only bounds the items");
  } else if (sum) {
    // A gauge shows one total: xAxis (the categories) is optional there.
    if (!x && kind !== "gauge") {
      throw fail("xAxis", "sum without groupBy or count makes one row per xAxis value: xAxis is required", "missing_parameter");
    }
    plan = { case: "sum", category: x, countAll: false };
  } else {
    if (!x && !y) {
      throw fail("groupBy", "name what to aggregate: groupBy, count, sum (with xAxis), or xAxis and yAxis for the raw series", "missing_parameter");
    }
    if (!y) throw fail("yAxis", "the raw series needs xAxis and yAxis: yAxis is missing", "missing_parameter");
    if (!x && kind !== "gauge") throw fail("xAxis", "the raw series needs xAxis and yAxis: xAxis is missing", "missing_parameter");
    noBucket(x, "the raw series plots each item's own x value");
    noMulti(x, "the raw series needs single-value fields");
    noMulti(y, "the raw series needs single-value fields");
    if (y.field.comparison !== "number") throw fail("yAxis", `'${y.field.name}' is a ${y.field.kind} field; yAxis needs a number field`);
    plan = { case: "series", countAll: false };
  }

  const xMinText = given(q.xMin);
  const xMaxText = given(q.xMax);
  if ((xMinText !== undefined || xMaxText !== undefined) && !x) {
    throw fail(xMinText !== undefined ? "xMin" : "xMax", "xMin and xMax bound the xAxis field: xAxis is required", "missing_parameter");
  }
  const xMin = xMinText !== undefined && x ? parseBound("xMin", xMinText, x.field) : undefined;
  const xMax = xMaxText !== undefined && x ? parseBound("xMax", xMaxText, x.field) : undefined;
  if (xMin !== undefined && xMax !== undefined && x && compareBounds(xMin, xMax, x.field) > 0) {
    throw fail("xMin", `xMin '${xMinText}' is after xMax '${xMaxText}'`, "invalid_bound");
  }

  return {
    kind,
    ...plan,
    sum,
    x,
    y,
    groupBy,
    xMin,
    xMax,
    filter: given(q.filter),
    format: formatText,
    width,
    height,
    meta: {
      name: q.name ?? "",
      description: q.description ?? "",
      kind,
      module: String(module.id),
      x: given(q.xAxis) ?? "",
      y: given(q.yAxis) ?? "",
      xmin: xMinText ?? "",
      xmax: xMaxText ?? "",
      groupby: given(q.groupBy) ?? "",
      sum: given(q.sum) ?? "",
      count: countText ?? "",
      filter: given(q.filter) ?? "",
    },
  };
}

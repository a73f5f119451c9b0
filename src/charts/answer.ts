// Turns the SQL aggregate into the contract's answer: `data` as c3.js / billboard.js `columns`,
// `fields` keyed by label, and `meta` echoing the request.
import type { Aggregate } from "./query";
import type { z } from "@hono/zod-openapi";
import type { ChartField, ChartKind, ChartPlan, FieldParam } from "./params";
import type { chartAnswer } from "./routes";

/** The chart's JSON answer, as /openapi.json documents it. */
type ChartAnswer = z.output<typeof chartAnswer>;

type ChartFieldInfo = ChartAnswer["fields"][string];

/** What the SVG renderer needs beyond the answer: axis titles and how to read `data`. */
export type ChartPicture = {
  kind: ChartKind;
  title: string;
  description: string;
  /** `categories`: data rows are [category, value]; `series`: [[x label, xs...], [y label, ys...]]. */
  shape: "categories" | "series" | "total";
  data: ChartAnswer["data"];
  xTitle: string;
  yTitle: string;
  /** How x values of the raw series are placed. */
  xScale: "number" | "time" | "category";
  /** `value` null: the total is beyond the range of numbers. */
  gauge?: { label: string; value: number | null; min: number; max: number };
};

const COUNT_LABEL = "Count";

const refTitle = (ref: FieldParam) => (ref.bucket ? `${ref.field.label} (${ref.bucket})` : ref.field.label);

/** A category's name in `data`: a string, or null for items without a value. */
function categoryName(value: unknown, ref: FieldParam): string | null {
  if (value === null || value === undefined) return null;
  if (!ref.bucket && ref.field.comparison === "bool") return value === true || value === 1 || value === "1" ? "true" : "false";
  return String(value);
}

/** An x value of the raw series in its JSON form (IDs as decimal strings, as everywhere). */
function xValue(value: unknown, field: ChartField): string | number | boolean {
  if (field.comparison === "number") return Number(value);
  if (field.comparison === "bool") return value === true || value === 1;
  return String(value);
}

/**
 * A sum as the answer reports it. Sums come back as floats from total(): rounded to the field's
 * precision, or to 12 significant digits. A sum beyond ±1.8e308 overflows to ±Infinity, which D1
 * answers as null (it speaks JSON): no number is right for it, so it stays null, never 0.
 */
function roundValue(value: unknown, field?: ChartField): number | null {
  const n = finiteOrNull(value);
  if (n === null) return null;
  if (field?.precision !== undefined) return Number(n.toFixed(field.precision));
  return Number(n.toPrecision(12));
}

/** A number from D1, or null where it holds none (an overflowed sum, a NaN). */
function finiteOrNull(value: unknown): number | null {
  if (value === null || value === undefined) return null;
  const n = Number(value);
  return Number.isFinite(n) ? n : null;
}

/** The label of the value a chart shows (the gauge's row, the y axis of the SVG). */
function valueLabel(plan: ChartPlan): string {
  if (plan.case === "series") return plan.y!.field.label;
  if (plan.case !== "count" && plan.sum) return plan.sum.field.label;
  if (plan.case === "groupBy") return plan.countField ? plan.countField.field.label : COUNT_LABEL;
  return plan.countAll ? COUNT_LABEL : plan.category!.field.label;
}

function fieldsBlock(plan: ChartPlan): Record<string, ChartFieldInfo> {
  const out: Record<string, ChartFieldInfo> = {};
  for (const ref of [plan.x, plan.y, plan.groupBy, plan.sum, plan.countField ?? (plan.case === "count" ? plan.category : undefined)]) {
    if (!ref || ref.field.builtin === "id") continue;
    const f = ref.field;
    out[f.label] = {
      name: f.name,
      kind: f.kind,
      ...(f.min !== undefined ? { min: f.min } : {}),
      ...(f.max !== undefined ? { max: f.max } : {}),
      ...(ref.bucket ? { bucket: ref.bucket } : {}),
    };
  }
  return out;
}

function categoryTitle(plan: ChartPlan): string {
  if (plan.case === "series") return plan.x?.field.label ?? "";
  if (plan.category) return refTitle(plan.category);
  return "";
}

/** A title when the request gives no `name`: "Count by Country", "Value by Close date (month)". */
function defaultTitle(plan: ChartPlan): string {
  const what = valueLabel(plan);
  const by = categoryTitle(plan);
  return by ? `${what} by ${by}` : what;
}

export function buildAnswer(plan: ChartPlan, agg: Aggregate): { answer: ChartAnswer; picture: ChartPicture } {
  let data: ChartAnswer["data"];
  let gauge: ChartPicture["gauge"];
  const label = valueLabel(plan);
  if (agg.shape === "total") {
    const total = roundValue(agg.total, plan.case === "series" ? plan.y!.field : plan.case !== "count" ? plan.sum?.field : undefined);
    data = [[label, total]];
    const bounds = plan.case === "series" ? plan.y!.field : plan.case !== "count" && plan.sum ? plan.sum.field : undefined;
    const min = bounds?.min ?? 0;
    const max = bounds?.max !== undefined && bounds.max > min ? bounds.max : niceMax(Math.max(total ?? min, min), min);
    gauge = { label, value: total, min, max };
  } else if (agg.shape === "series") {
    const x = plan.x!.field;
    const y = plan.y!.field;
    // The raw series is the stored values themselves, not sums: exact, never rounded.
    data = [
      [x.label, ...agg.points.map((p) => xValue(p.x, x))],
      [y.label, ...agg.points.map((p) => finiteOrNull(p.y))],
    ];
  } else if (plan.case === "count" && plan.countAll) {
    data = [[COUNT_LABEL, agg.rows[0]?.val ?? 0]];
  } else {
    const sumField = plan.case !== "count" ? plan.sum?.field : undefined;
    data = agg.rows.map((r) => [categoryName(r.cat, plan.category!), roundValue(r.val, sumField)]);
  }
  const answer: ChartAnswer = { kind: plan.kind, data, fields: fieldsBlock(plan), meta: plan.meta };
  const xField = plan.x?.field;
  const picture: ChartPicture = {
    kind: plan.kind,
    title: plan.meta.name || defaultTitle(plan),
    description: plan.meta.description,
    shape: agg.shape === "total" ? "total" : agg.shape === "series" ? "series" : "categories",
    data,
    xTitle: categoryTitle(plan),
    yTitle: label,
    xScale:
      agg.shape !== "series" || !xField
        ? "category"
        : xField.comparison === "number"
          ? "number"
          : xField.comparison === "date" || xField.comparison === "stamp"
            ? "time"
            : "category",
    gauge,
  };
  return { answer, picture };
}

/** The gauge's upper end when the field sets no max: 100, or a round number above the value. */
function niceMax(value: number, min: number): number {
  if (value <= 100 && min < 100) return 100;
  const span = value - min;
  const step = 10 ** Math.floor(Math.log10(span));
  for (const m of [1, 2, 2.5, 5, 10]) {
    const end = min + m * step;
    if (!Number.isFinite(end)) break; // near the top of the range no round end is a number
    if (end >= value) return end;
  }
  return value;
}

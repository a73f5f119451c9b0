// Draws a chart answer as a standalone SVG document, in the Worker, without DOM or canvas.
// d3-shape builds the path strings (lines, curves, areas, arcs); the rest is plain text.
// Every piece of user text goes through `esc`, so a category named `<script>` stays text.
import { arc as d3arc, area as d3area, curveLinear, curveMonotoneX, curveStepAfter, line as d3line, pie as d3pie, type CurveFactory } from "d3-shape";
import type { ChartPicture } from "./answer";
import { fraction, niceTicks, tickLabels, valueDomain } from "./scale";

const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

const FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif";
const INK = "#333";
const MUTED = "#777";
const GRID = "#e5e5e5";

/** Escapes text for XML content and attributes, dropping characters XML 1.0 forbids. */
export function esc(text: string): string {
  return (
    text
      // biome-ignore lint/suspicious/noControlCharactersInRegex: the point: control characters XML 1.0 does not allow are dropped
      .replace(/[^\u0009\u000A\u000D\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, "")
      .replace(/&/g, "&amp;")
      .replace(/</g, "&lt;")
      .replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;")
      .replace(/'/g, "&#39;")
  );
}

/** Shortens to at most `max` characters (code points), with an ellipsis. */
function clip(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, Math.max(1, max - 1)).join("")}…`;
}

/**
 * A coordinate as written into the document. The scales keep every position finite; should one
 * ever not be, it is drawn at 0 rather than writing NaN into an attribute, which breaks the image.
 */
const r2 = (n: number) => (Number.isFinite(n) ? Math.round(n * 100) / 100 : 0);

function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return "";
  const abs = Math.abs(n);
  if (abs >= 1e15 || (abs > 0 && abs < 1e-4)) return n.toExponential(2);
  return n.toLocaleString("en-US", { maximumFractionDigits: abs >= 100 ? 0 : abs >= 1 ? 2 : 4 });
}

/** What a value reads as; null is a sum beyond the range of numbers (see answer.ts). */
const formatValue = (n: number | null) => (n === null ? "n/a" : formatNumber(n));

type Box = { x: number; y: number; w: number; h: number };

class Svg {
  parts: string[] = [];
  add(s: string) {
    this.parts.push(s);
  }
  text(x: number, y: number, body: string, attrs = "") {
    this.add(`<text x="${r2(x)}" y="${r2(y)}"${attrs ? ` ${attrs}` : ""}>${esc(body)}</text>`);
  }
}

const LINE_FAMILY = new Set(["line", "spline", "step", "area", "area-spline", "area-step"]);

function curveOf(kind: string): CurveFactory {
  if (kind.endsWith("spline")) return curveMonotoneX;
  if (kind.endsWith("step")) return curveStepAfter;
  return curveLinear;
}

/** A point to draw: where it sits on x, its value (null: none to draw), and the text naming it. */
type Point = { pos: number; value: number | null; name: string; color: string };

/** Whether a point has a place and a value: a missing one is left out of bars, lines and areas. */
const drawn = (pt: Point): pt is Point & { value: number } => pt.value !== null && Number.isFinite(pt.pos);

export function renderSvg(p: ChartPicture, width: number, height: number): string {
  const s = new Svg();
  const titleH = p.title ? 36 : 12;
  s.add(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" font-family="${esc(FONT)}" font-size="12" fill="${INK}">`,
  );
  s.add(`<title>${esc(p.title)}</title>`);
  if (p.description) s.add(`<desc>${esc(p.description)}</desc>`);
  s.add(`<rect class="background" x="0" y="0" width="${width}" height="${height}" fill="#fff"/>`);
  if (p.title) s.text(width / 2, 24, clip(p.title, Math.floor(width / 9)), `class="chart-title" text-anchor="middle" font-size="16" font-weight="600"`);
  const area: Box = { x: 12, y: titleH, w: width - 24, h: height - titleH - 12 };

  if (p.kind === "gauge") drawGauge(s, p, area);
  else if (p.kind === "pie" || p.kind === "donut") drawPie(s, p, area);
  else drawXY(s, p, area);
  s.add("</svg>");
  return s.parts.join("\n");
}

/** A value cell as a number, or null when there is none (a sum beyond the range of numbers). */
function cellValue(cell: unknown): number | null {
  if (cell === null || cell === undefined) return null;
  const n = Number(cell);
  return Number.isFinite(n) ? n : null;
}

/** The (name, value) pairs of a chart: categories, or the raw series' points named by x. */
function pairs(p: ChartPicture): { name: string; value: number | null; x: unknown }[] {
  if (p.shape === "series") {
    const [xs, ys] = p.data;
    return xs.slice(1).map((x, i) => ({ name: x === null ? "null" : String(x), value: cellValue(ys[i + 1]), x }));
  }
  return p.data.map((row) => ({ name: row[0] === null ? "null" : String(row[0]), value: cellValue(row[1]), x: row[0] }));
}

/** The smallest and largest of some numbers (no spread: a series holds up to 10,000). */
function extent(values: readonly number[]): [number, number] | undefined {
  if (!values.length) return undefined;
  let lo = values[0];
  let hi = values[0];
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

function noData(s: Svg, box: Box) {
  s.text(box.x + box.w / 2, box.y + box.h / 2, "No data", `class="no-data" text-anchor="middle" fill="${MUTED}" font-size="14"`);
}

function drawXY(s: Svg, p: ChartPicture, area: Box) {
  const items = pairs(p);
  const values = items.flatMap((i) => (i.value === null ? [] : [i.value]));
  const integer = values.every(Number.isInteger);
  const [lo, hi] = valueDomain(values, integer);
  const yTicks = niceTicks(lo, hi, 5, integer);
  const yLabels = tickLabels(yTicks, formatNumber);
  const tickLabelW = Math.max(1, ...yLabels.map((l) => l.length)) * 7;
  const continuous = p.shape === "series" && p.xScale !== "category" && p.kind !== "bar";

  // Category labels turn 40° when they would collide, and thin out when there are too many.
  const longest = Math.min(24, Math.max(1, ...items.map((i) => [...i.name].length)));
  let plotX = area.x + 28 + tickLabelW;
  let plotW = Math.max(20, area.x + area.w - plotX - 8);
  let slot = items.length ? plotW / items.length : plotW;
  const rotate = !continuous && longest * 7 > slot;
  if (rotate) {
    // A turned label reaches left of its category by about cos 40° of its length: make room.
    const reach = Math.min(area.w / 4, longest * 6.5 * 0.77) - slot / 2;
    if (area.x + reach > plotX) {
      plotX = area.x + reach;
      plotW = Math.max(20, area.x + area.w - plotX - 8);
      slot = items.length ? plotW / items.length : plotW;
    }
  }
  const labelH = continuous ? 18 : rotate ? Math.min(longest * 5 + 14, area.h / 3) : 18;
  const plot: Box = { x: plotX, y: area.y + 8, w: plotW, h: Math.max(20, area.h - 8 - labelH - 24) };
  const yOf = (v: number) => plot.y + plot.h - fraction(v, lo, hi) * plot.h;

  // Grid, y axis with its ticks and title.
  s.add(`<g class="axis y-axis">`);
  yTicks.forEach((t, n) => {
    const y = r2(yOf(t));
    s.add(`<line x1="${r2(plot.x)}" x2="${r2(plot.x + plot.w)}" y1="${y}" y2="${y}" stroke="${GRID}"/>`);
    s.text(plot.x - 6, y + 4, yLabels[n], `class="y-tick-label" text-anchor="end" fill="${MUTED}"`);
  });
  const midY = plot.y + plot.h / 2;
  s.text(area.x + 10, midY, clip(p.yTitle, 40), `class="axis-title" text-anchor="middle" transform="rotate(-90 ${r2(area.x + 10)} ${r2(midY)})"`);
  s.add(`</g>`);

  // x positions: slots for categories (and bars), a linear or time scale for a continuous series.
  let points: Point[];
  let xTicks: { pos: number; label: string }[];
  if (continuous) {
    // An x that does not read as a number or date has no place: its point is left out.
    const raw = items.map((i) => (p.xScale === "time" ? Date.parse(String(i.x)) : Number(i.x)));
    let [xlo, xhi] = extent(raw.filter(Number.isFinite)) ?? [0, 1];
    // One x value: widen around it (where ±1 is below its resolution, fraction() centres it).
    if (xlo === xhi) [xlo, xhi] = [xlo - 1, xhi + 1];
    const pad = Math.min(16, plot.w / 10); // points at the ends stay clear of the axes
    const xOf = (v: number) => plot.x + pad + fraction(v, xlo, xhi) * (plot.w - 2 * pad);
    points = items.map((i, n) => ({ pos: Number.isFinite(raw[n]) ? xOf(raw[n]) : NaN, value: i.value, name: i.name, color: PALETTE[0] }));
    if (p.xScale === "time") {
      const ticks = spread(xlo, xhi, Math.max(2, Math.min(6, Math.floor(plot.w / 110))));
      xTicks = ticks.map((t) => ({ pos: xOf(t), label: timeLabel(t, xhi - xlo) }));
    } else {
      const ticks = niceTicks(xlo, xhi, Math.max(2, Math.floor(plot.w / 90)));
      const labels = tickLabels(ticks, formatNumber);
      xTicks = ticks.map((t, n) => ({ pos: xOf(t), label: labels[n] }));
    }
  } else {
    points = items.map((i, n) => ({ pos: plot.x + slot * (n + 0.5), value: i.value, name: i.name, color: PALETTE[0] }));
    const every = Math.max(1, Math.ceil(items.length / Math.max(1, Math.floor(plot.w / (rotate ? 20 : 40)))));
    xTicks = points.filter((_, n) => n % every === 0).map((pt) => ({ pos: pt.pos, label: clip(pt.name, 24) }));
  }

  // x axis line at the baseline, tick labels and title.
  const baseY = yOf(Math.max(lo, Math.min(0, hi)));
  s.add(`<g class="axis x-axis">`);
  s.add(`<line x1="${r2(plot.x)}" x2="${r2(plot.x + plot.w)}" y1="${r2(baseY)}" y2="${r2(baseY)}" stroke="${MUTED}"/>`);
  const labelY = plot.y + plot.h + 16;
  xTicks.forEach((t, n) => {
    // End labels of a continuous axis lean inwards so they stay inside the picture.
    const anchor = continuous && xTicks.length > 1 && n === 0 ? "start" : continuous && n === xTicks.length - 1 && n > 0 ? "end" : "middle";
    if (rotate) s.text(t.pos, labelY, t.label, `class="category-label" text-anchor="end" transform="rotate(-40 ${r2(t.pos)} ${r2(labelY)})"`);
    else s.text(t.pos, labelY, t.label, `class="${continuous ? "tick-label" : "category-label"}" text-anchor="${anchor}"`);
  });
  s.text(plot.x + plot.w / 2, area.y + area.h - 4, clip(p.xTitle, 60), `class="axis-title" text-anchor="middle"`);
  s.add(`</g>`);

  if (!items.length) return noData(s, plot);

  s.add(`<g class="marks">`);
  if (p.kind === "bar") {
    const bw = Math.max(1, slot * 0.7);
    for (const pt of points) {
      if (!drawn(pt)) continue;
      const y0 = baseY;
      const y1 = yOf(pt.value);
      s.add(
        `<rect class="mark bar" x="${r2(pt.pos - bw / 2)}" y="${r2(Math.min(y0, y1))}" width="${r2(bw)}" height="${r2(Math.abs(y1 - y0))}" fill="${pt.color}"><title>${esc(`${pt.name}: ${formatNumber(pt.value)}`)}</title></rect>`,
      );
    }
  } else {
    if (LINE_FAMILY.has(p.kind)) {
      const curve = curveOf(p.kind);
      if (p.kind.startsWith("area")) {
        const path = d3area<Point>()
          .defined(drawn)
          .x((d) => d.pos)
          .y0(baseY)
          .y1((d) => yOf(d.value ?? 0))
          .curve(curve)(points);
        if (path) s.add(`<path class="area" d="${path}" fill="${PALETTE[0]}" fill-opacity="0.25" stroke="none"/>`);
      }
      const path = d3line<Point>()
        .defined(drawn)
        .x((d) => d.pos)
        .y((d) => yOf(d.value ?? 0))
        .curve(curve)(points);
      if (path) s.add(`<path class="line" d="${path}" fill="none" stroke="${PALETTE[0]}" stroke-width="2"/>`);
    }
    const radius = p.kind === "scatter" ? 4 : points.length > 200 ? 1.5 : 3;
    for (const pt of points) {
      if (!drawn(pt)) continue;
      s.add(
        `<circle class="mark point" cx="${r2(pt.pos)}" cy="${r2(yOf(pt.value))}" r="${radius}" fill="${pt.color}"${p.kind === "scatter" ? ` fill-opacity="0.7"` : ""}><title>${esc(`${pt.name}: ${formatNumber(pt.value)}`)}</title></circle>`,
      );
    }
  }
  s.add(`</g>`);
}

function spread(lo: number, hi: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => lo + ((hi - lo) * i) / (n - 1));
}

function timeLabel(ms: number, span: number): string {
  if (!(Math.abs(ms) <= 8.64e15)) return ""; // outside what a Date holds
  const iso = new Date(ms).toISOString();
  return span < 2 * 86_400_000 ? iso.slice(0, 16).replace("T", " ") : iso.slice(0, 10);
}

function drawPie(s: Svg, p: ChartPicture, area: Box) {
  const items = pairs(p);
  const legendW = Math.min(260, area.w * 0.4);
  const pieBox: Box = { x: area.x, y: area.y, w: area.w - legendW, h: area.h };
  const cx = pieBox.x + pieBox.w / 2;
  const cy = pieBox.y + pieBox.h / 2;
  const outer = Math.max(10, Math.min(pieBox.w, pieBox.h) / 2 - 10);
  const inner = p.kind === "donut" ? outer * 0.6 : 0;
  // Slices are shares of the largest value, so values near 1e308 add up without overflowing.
  const weights = items.map((i) => (i.value !== null && i.value > 0 ? i.value : 0));
  const peak = extent(weights)?.[1] ?? 0;
  const slices = items.map((item, n) => ({ ...item, weight: peak > 0 ? weights[n] / peak : 0 }));
  const weightSum = slices.reduce((acc, i) => acc + i.weight, 0);
  // The donut's total is unknown when a category's is, or when it is beyond the range of numbers.
  const sum = weights.reduce((acc, w) => acc + w, 0);
  const total = items.some((i) => i.value === null) || !Number.isFinite(sum) ? null : sum;

  s.add(`<g class="marks" transform="translate(${r2(cx)} ${r2(cy)})">`);
  if (weightSum <= 0) {
    s.add(`<circle class="empty" r="${r2(outer)}" fill="none" stroke="${GRID}" stroke-width="2"/>`);
  }
  const arcs = d3pie<(typeof slices)[number]>()
    .sort(null)
    .value((d) => d.weight)(slices);
  const shape = d3arc<{ startAngle: number; endAngle: number }>().innerRadius(inner).outerRadius(outer);
  arcs.forEach((a, n) => {
    if (a.data.value === null) return; // nothing to draw: its legend says n/a
    const color = PALETTE[n % PALETTE.length];
    const d = shape(a) ?? "";
    const share = weightSum > 0 ? a.data.weight / weightSum : 0;
    s.add(
      `<path class="mark slice" d="${d}" fill="${color}" stroke="#fff" stroke-width="1"><title>${esc(`${a.data.name}: ${formatNumber(a.data.value)} (${(share * 100).toFixed(1)}%)`)}</title></path>`,
    );
    // A share label only where the slice is wide enough to hold it.
    if (share * 2 * Math.PI * ((inner + outer) / 2) >= 40) {
      const [lx, ly] = shape.centroid(a);
      s.text(lx, ly + 4, `${(share * 100).toFixed(share >= 0.1 ? 0 : 1)}%`, `class="slice-label" text-anchor="middle" fill="#fff" font-weight="600"`);
    }
  });
  if (p.kind === "donut") s.text(0, 6, formatValue(total), `class="donut-total" text-anchor="middle" font-size="18" font-weight="600"`);
  s.add(`</g>`);
  if (!items.length) noData(s, pieBox);

  // Legend: a swatch, the category and its value; what does not fit is summed up in one line.
  const lx = area.x + area.w - legendW + 8;
  const rowH = 18;
  const fits = Math.max(1, Math.floor((area.h - 22) / rowH));
  const shown = items.length > fits ? fits - 1 : items.length;
  const top = area.y + Math.max(18, (area.h - Math.min(items.length, fits) * rowH) / 2);
  const chars = Math.max(4, Math.floor((legendW - 34) / 6.5)); // what fits beside the swatch
  s.add(`<g class="legend">`);
  s.text(lx, top - 6, clip(p.xTitle, chars), `class="legend-title" font-weight="600"`);
  for (let n = 0; n < shown; n++) {
    const y = top + n * rowH;
    s.add(`<rect class="legend-swatch" x="${r2(lx)}" y="${r2(y)}" width="12" height="12" fill="${PALETTE[n % PALETTE.length]}"/>`);
    const value = `: ${formatValue(items[n].value)}`;
    s.text(lx + 18, y + 10, `${clip(items[n].name, Math.min(24, Math.max(3, chars - value.length)))}${value}`, `class="legend-label"`);
  }
  if (shown < items.length) s.text(lx + 18, top + shown * rowH + 10, `… and ${items.length - shown} more`, `class="legend-more" fill="${MUTED}"`);
  s.add(`</g>`);
}

function drawGauge(s: Svg, p: ChartPicture, area: Box) {
  const g = p.gauge ?? { label: p.yTitle, value: cellValue(p.data[0]?.[1] ?? 0), min: 0, max: 100 };
  const outer = Math.max(20, Math.min(area.w / 2 - 20, area.h - 70));
  const inner = outer * 0.65;
  const cx = area.x + area.w / 2;
  const cy = area.y + (area.h - 50 + outer) / 2;
  const ratio = g.value !== null && g.max > g.min ? Math.max(0, Math.min(1, fraction(g.value, g.min, g.max))) : 0;
  const shape = d3arc<{ startAngle: number; endAngle: number }>().innerRadius(inner).outerRadius(outer);
  const start = -Math.PI / 2;
  s.add(`<g transform="translate(${r2(cx)} ${r2(cy)})">`);
  s.add(`<path class="gauge-background" d="${shape({ startAngle: start, endAngle: Math.PI / 2 })}" fill="${GRID}"/>`);
  // A total beyond the range of numbers has no arc; its number reads n/a.
  if (g.value !== null) {
    s.add(
      `<path class="mark gauge-value" d="${shape({ startAngle: start, endAngle: start + Math.PI * ratio }) ?? ""}" fill="${PALETTE[0]}"><title>${esc(`${g.label}: ${formatNumber(g.value)}`)}</title></path>`,
    );
  }
  s.text(0, -8, formatValue(g.value), `class="gauge-total" text-anchor="middle" font-size="${r2(Math.max(14, Math.min(40, outer / 5)))}" font-weight="600"`);
  s.text(-(inner + outer) / 2, 18, formatNumber(g.min), `class="gauge-min" text-anchor="middle" fill="${MUTED}"`);
  s.text((inner + outer) / 2, 18, formatNumber(g.max), `class="gauge-max" text-anchor="middle" fill="${MUTED}"`);
  s.text(0, 40, clip(g.label, 60), `class="gauge-label" text-anchor="middle" font-size="14"`);
  s.add(`</g>`);
}

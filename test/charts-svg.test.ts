import { XMLValidator } from "fast-xml-parser";
import { beforeAll, describe, expect, it } from "vitest";
import { makeModule } from "./helpers";
import { addItems, chart, elements } from "./charts-helpers";
import { esc } from "../src/charts/svg";
import { niceTicks } from "../src/charts/scale";

let deals: string;
let empty: string;

const NASTY = `<script>alert("x")</script> & 'friends'`;

beforeAll(async () => {
  const m = await makeModule("Deal", [
    { name: "stage", kind: "text", label: "Stage <b>" },
    { name: "value", kind: "number", label: "Value", options: { max: 500 } },
    { name: "closed", kind: "stamp", label: "Closed" },
    { name: "day", kind: "date", label: "Day" },
  ]);
  deals = m.moduleID;
  await addItems(deals, [
    { stage: "Won", value: 100, closed: "2026-01-05T10:00:00Z", day: "2026-01-05" },
    { stage: "Won", value: 50, closed: "2026-02-05T10:00:00Z", day: "2026-02-05" },
    { stage: "Open", value: 30, closed: "2026-03-05T10:00:00Z", day: "2026-03-05" },
    { stage: NASTY, value: 20, closed: "2026-04-05T10:00:00Z", day: "2026-04-05" },
    { value: 5 },
  ]);
  empty = (
    await makeModule("Empty", [
      { name: "stage", kind: "text" },
      { name: "value", kind: "number" },
    ])
  ).moduleID;
});

async function svg(module: string, query: string) {
  const res = await chart(module, `${query}&format=svg`);
  expect(res.status, res.text).toBe(200);
  expect(res.headers.get("content-type")).toBe("image/svg+xml; charset=utf-8");
  const valid = XMLValidator.validate(res.text);
  expect(valid, JSON.stringify(valid)).toBe(true);
  return res.text;
}

const withClass = (els: ReturnType<typeof elements>, cls: string) => els.filter((e) => (e.attrs.class ?? "").split(" ").includes(cls));
const texts = (els: ReturnType<typeof elements>) => els.filter((e) => e.tag === "text").map((e) => e.text);

describe("SVG for each kind", () => {
  // groupBy=stage: Open, Won, the <script> stage, and null: four categories.
  const categories = 4;

  it("bar: one bar per category, category labels and axis titles", async () => {
    const els = elements(await svg(deals, "kind=bar&groupBy=stage&sum=value&name=Value%20by%20stage"));
    const root = els[0];
    expect(root.tag).toBe("svg");
    expect(root.attrs).toMatchObject({ width: "800", height: "450", xmlns: "http://www.w3.org/2000/svg" });
    const bars = withClass(els, "bar");
    expect(bars.length).toBe(categories);
    expect(bars.every((b) => b.tag === "rect")).toBe(true);
    expect(withClass(els, "mark").length).toBe(categories);
    expect(withClass(els, "chart-title")[0].text).toBe("Value by stage");
    // Ascending, case-insensitively: "<" sorts before letters; long labels are clipped.
    expect(withClass(els, "category-label").map((e) => e.text)).toEqual([`${NASTY.slice(0, 23)}…`, "Open", "Won", "null"]);
    expect(withClass(els, "axis-title").map((e) => e.text)).toEqual(["Value", "Stage <b>"]);
    // The bars are as tall as their values: 20, 30, 150 and 5.
    const height = (i: number) => Number(bars[i].attrs.height);
    expect(height(2) / height(1)).toBeCloseTo(150 / 30, 1);
    expect(height(1) / height(0)).toBeCloseTo(30 / 20, 1);
  });

  for (const kind of ["line", "spline", "step", "area", "area-spline", "area-step"]) {
    it(`${kind}: a line through one point per category`, async () => {
      const els = elements(await svg(deals, `kind=${kind}&groupBy=stage`));
      expect(withClass(els, "point").length).toBe(categories);
      expect(withClass(els, "mark").length).toBe(categories);
      const lines = withClass(els, "line");
      expect(lines.length).toBe(1);
      expect(lines[0].attrs.d).toMatch(/^M[\d.,-]+/);
      if (kind === "step" || kind === "area-step") expect(lines[0].attrs.d).not.toMatch(/C/);
      if (kind.endsWith("spline")) expect(lines[0].attrs.d).toMatch(/C/); // curves are cubic Béziers
      expect(withClass(els, "area").length).toBe(kind.startsWith("area") ? 1 : 0);
    });
  }

  it("scatter: one point per item of the raw series, on a time axis", async () => {
    const els = elements(await svg(deals, "kind=scatter&xAxis=closed&yAxis=value"));
    expect(withClass(els, "point").length).toBe(4);
    expect(withClass(els, "line").length).toBe(0);
    expect(withClass(els, "tick-label").map((e) => e.text)).toContain("2026-01-05");
    expect(withClass(els, "axis-title").map((e) => e.text)).toEqual(["Value", "Closed"]);
  });

  it("line over a date-bucketed sum", async () => {
    const els = elements(await svg(deals, "kind=line&sum=value&xAxis=day:month"));
    expect(withClass(els, "point").length).toBe(5);
    expect(withClass(els, "category-label").map((e) => e.text)).toEqual(["2026-01", "2026-02", "2026-03", "2026-04", "null"]);
  });

  for (const kind of ["pie", "donut"]) {
    it(`${kind}: one slice per category and a legend`, async () => {
      const els = elements(await svg(deals, `kind=${kind}&groupBy=stage`));
      expect(withClass(els, "slice").length).toBe(categories);
      expect(withClass(els, "mark").length).toBe(categories);
      expect(withClass(els, "legend-swatch").length).toBe(categories);
      expect(withClass(els, "legend-label").map((e) => e.text)).toEqual([`${NASTY.slice(0, 23)}…: 1`, "Open: 1", "Won: 2", "null: 1"]);
      expect(withClass(els, "donut-total").length).toBe(kind === "donut" ? 1 : 0);
    });
  }

  it("gauge: one arc for the total, with the field's max", async () => {
    const els = elements(await svg(deals, "kind=gauge&sum=value"));
    expect(withClass(els, "gauge-value").length).toBe(1);
    expect(withClass(els, "mark").length).toBe(1);
    expect(withClass(els, "gauge-total")[0].text).toBe("205");
    expect(withClass(els, "gauge-max")[0].text).toBe("500");
    expect(withClass(els, "gauge-label")[0].text).toBe("Value");
  });
});

describe("SVG text and size", () => {
  it("escapes user text: a category named <script> is text, not markup", async () => {
    const text = await svg(deals, `kind=bar&groupBy=stage&name=${encodeURIComponent(NASTY)}&description=${encodeURIComponent("a < b & c")}`);
    expect(text).not.toContain("<script");
    expect(text).not.toContain("<b>");
    expect(text).toContain("&lt;script&gt;");
    const els = elements(text);
    expect(els.filter((e) => e.tag === "script").length).toBe(0);
    expect(withClass(els, "chart-title")[0].text).toBe(NASTY);
    expect(els.find((e) => e.tag === "desc")?.text).toBe("a < b & c");
  });

  it("drops characters XML cannot hold", async () => {
    const m = (await makeModule("Ctl", [{ name: "k", kind: "text" }])).moduleID;
    await addItems(m, [{ k: "a\u0001b\u0008c\uFFFF" }]);
    const els = elements(await svg(m, "kind=pie&groupBy=k"));
    expect(withClass(els, "legend-label")[0].text).toBe("abc: 1");
  });

  it("takes width and height", async () => {
    const els = elements(await svg(deals, "kind=bar&groupBy=stage&width=1200&height=300"));
    expect(els[0].attrs).toMatchObject({ width: "1200", height: "300", viewBox: "0 0 1200 300" });
    expect(withClass(els, "bar").length).toBe(4);
    const small = elements(await svg(deals, "kind=donut&groupBy=stage&width=200&height=200"));
    expect(withClass(small, "slice").length).toBe(4);
  });

  it("titles a chart without a name after what it shows", async () => {
    const els = elements(await svg(deals, "kind=bar&groupBy=day:month&sum=value"));
    expect(withClass(els, "chart-title")[0].text).toBe("Value by Day (month)");
  });

  it("draws empty modules with a note instead of marks", async () => {
    for (const kind of ["bar", "line", "scatter", "pie", "donut"]) {
      const els = elements(await svg(empty, `kind=${kind}&groupBy=stage`));
      expect(withClass(els, "mark").length, kind).toBe(0);
      expect(texts(els), kind).toContain("No data");
    }
    const gauge = elements(await svg(empty, "kind=gauge&sum=value"));
    expect(withClass(gauge, "gauge-total")[0].text).toBe("0");
  });

  it("answers errors as JSON even with format=svg", async () => {
    const res = await chart(deals, "kind=radar&groupBy=stage&format=svg");
    expect(res.status).toBe(400);
    expect(res.json.error.details[0].path).toBe("kind");
  });
});

describe("renderer pieces", () => {
  it("escapes the five XML characters", () => {
    expect(esc(`<a href="x">'&'</a>`)).toBe("&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  });

  it("picks round ticks", () => {
    expect(niceTicks(0, 150)).toEqual([0, 20, 40, 60, 80, 100, 120, 140]);
    expect(niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(-50, 50)).toEqual([-40, -20, 0, 20, 40]);
  });
});

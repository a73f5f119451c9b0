// Hostile numbers through the chart route: x values nearly equal relative to their size (0.3 and
// 0.1 + 0.2, 1e16 and 1e16 + 2), the ends of the double range, subnormals, one item, none, and
// sums beyond ±1.8e308. Every kind must answer promptly, as well-formed SVG without NaN or
// Infinity, and JSON must never carry a wrong number: a sum that overflows is null.
import { env } from "cloudflare:workers";
import fc from "fast-check";
import { XMLValidator } from "fast-xml-parser";
import { describe, expect, it } from "vitest";
import { niceTicks } from "../src/charts/scale";
import { addItems, chart, elements } from "./charts-helpers";
import { makeModule } from "./helpers";

const KINDS = ["line", "spline", "step", "area", "area-spline", "area-step", "bar", "scatter", "pie", "donut", "gauge"] as const;
const MAX_TICKS = 20;

// ---------------------------------------------------------------------------------------------
// Guards: a runaway must fail its test, not hang the suite.
//
// The Worker runs in this test's isolate, so a synchronous endless loop in a route cannot be
// interrupted by a timer. The tick loop of the issue grows an array on every turn (that is how it
// eats the dev server's memory), so a tripwire on Array.prototype.push turns it into a thrown
// error — the route answers 500 — after far more pushes than any chart needs. `promptly` bounds
// the asynchronous side.

const PUSH_LIMIT = 2_000_000;

/** Makes Array.prototype.push throw after PUSH_LIMIT calls; answers the function that undoes it. */
function armTripwire(what: string): () => void {
  const original = Array.prototype.push;
  let pushes = 0;
  Array.prototype.push = function (this: unknown[], ...items: unknown[]) {
    if (++pushes > PUSH_LIMIT) {
      Array.prototype.push = original;
      throw new Error(`${what}: runaway loop (more than ${PUSH_LIMIT} array pushes)`);
    }
    return original.apply(this, items);
  };
  return () => {
    Array.prototype.push = original;
  };
}

function tripwired<T>(what: string, run: () => T): T {
  const disarm = armTripwire(what);
  try {
    return run();
  } finally {
    disarm();
  }
}

/** Runs `run` with the tripwire armed, failing when it does not answer within `ms`. */
async function guarded<T>(what: string, run: () => Promise<T>, ms = 3000): Promise<T> {
  const disarm = armTripwire(what);
  let timer: ReturnType<typeof setTimeout> | null = null;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([run(), timeout]);
  } finally {
    clearTimeout(timer);
    disarm();
  }
}

// ---------------------------------------------------------------------------------------------
// Values

const NEARLY_03 = 0.1 + 0.2; // 0.30000000000000004
const MIN_NORMAL = 2.2250738585072014e-308;

/** Numbers chosen to break range arithmetic: near-equal pairs, the ends of the range, subnormals. */
const HOSTILE = [
  0,
  -0,
  1,
  -1,
  0.3,
  NEARLY_03,
  -0.3,
  -NEARLY_03,
  1e16,
  1e16 + 2,
  -1e16,
  1.7e308,
  -1.7e308,
  Number.MAX_VALUE,
  -Number.MAX_VALUE,
  5e-324,
  -5e-324,
  1e-323,
  MIN_NORMAL,
  1e-300,
  1e300,
  Number.MAX_SAFE_INTEGER,
  2 ** 53 + 2,
  0.1234567890123,
];

/** The double `k` representable steps away from `x` (its neighbours in the bit order). */
function ulpsAway(x: number, k: number): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  view.setBigInt64(0, view.getBigInt64(0) + BigInt(x < 0 || Object.is(x, -0) ? -k : k));
  const y = view.getFloat64(0);
  return Number.isFinite(y) ? y : x;
}

const finiteDouble = fc.double({ noNaN: true, noDefaultInfinity: true });
const hostileDouble = fc.oneof(
  fc.constantFrom(...HOSTILE),
  finiteDouble,
  fc.tuple(fc.double({ min: 1e307, max: Number.MAX_VALUE, noNaN: true }), fc.boolean()).map(([v, negative]) => (negative ? -v : v)),
  fc.tuple(fc.constantFrom(...HOSTILE), fc.integer({ min: -3, max: 3 })).map(([v, k]) => ulpsAway(v, k)),
);
/** Any double, including what a caller should never pass. */
const anyDouble = fc.oneof(hostileDouble, fc.constantFrom(NaN, Infinity, -Infinity), fc.double());

// ---------------------------------------------------------------------------------------------
// Exact sums: a double is m·2^e with e ≥ -1074, so x·2^1074 is an integer and sums are exact in BigInt.

function scaled(x: number): bigint {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const exponent = Number((bits >> 52n) & 0x7ffn);
  const fraction = bits & ((1n << 52n) - 1n);
  const mantissa = exponent === 0 ? fraction : fraction | (1n << 52n);
  const magnitude = mantissa << BigInt(Math.max(exponent, 1) - 1);
  return bits >> 63n ? -magnitude : magnitude;
}

const abs = (n: bigint) => (n < 0n ? -n : n);
const MAX_SCALED = scaled(Number.MAX_VALUE);

/**
 * A reported sum of `ys` is honest when it is null only where some partial sum could leave the
 * double range (Σ|y| beyond the largest double), and otherwise within 1e-11·Σ|y| of the exact sum
 * (the 12 significant digits sums are rounded to, and float summation's own error).
 */
function expectHonestSum(reported: unknown, ys: number[], label: string) {
  const exact = ys.reduce((acc, y) => acc + scaled(y), 0n);
  const magnitude = ys.reduce((acc, y) => acc + abs(scaled(y)), 0n);
  if (reported === null) {
    expect(magnitude > MAX_SCALED, `${label}: null, though no sum of [${ys}] can overflow`).toBe(true);
    return;
  }
  expect(typeof reported === "number" && Number.isFinite(reported), `${label}: ${reported}`).toBe(true);
  const error = abs(scaled(reported as number) - exact);
  expect(error * 10n ** 11n <= magnitude, `${label}: ${reported} is not the sum of [${ys}]`).toBe(true);
}

// ---------------------------------------------------------------------------------------------
// Checks on what a client receives

type Item = { x: number; y: number; c: string };
type Shape = "series" | "byX" | "grouped";
const QUERY: Record<Shape, string> = { series: "xAxis=x&yAxis=y", byX: "sum=y&xAxis=x", grouped: "groupBy=c&sum=y" };

async function hostileModule(items: Item[]): Promise<string> {
  const m = await makeModule("Hostile", [
    { name: "x", kind: "number" },
    { name: "y", kind: "number" },
    { name: "c", kind: "text" },
  ]);
  await addItems(m.moduleID, items);
  return m.moduleID;
}

type Els = ReturnType<typeof elements>;
const withClass = (els: Els, cls: string) => els.filter((e) => (e.attrs.class ?? "").split(" ").includes(cls));

const COORDINATES = ["x", "y", "x1", "x2", "y1", "y2", "cx", "cy", "r", "width", "height"];

async function svgOf(module: string, query: string): Promise<Els> {
  const res = await guarded(query, () => chart(module, `${query}&format=svg`));
  expect(res.status, `${query}: ${res.text.slice(0, 300)}`).toBe(200);
  expect(res.headers.get("content-type")).toBe("image/svg+xml; charset=utf-8");
  const valid = XMLValidator.validate(res.text);
  expect(valid, `${query}: ${JSON.stringify(valid)}`).toBe(true);
  expect(res.text, query).not.toMatch(/NaN|Infinity/);
  const els = elements(res.text);
  expect(els[0].tag).toBe("svg");
  for (const e of els) {
    for (const name of COORDINATES) {
      if (name in e.attrs) expect(Number.isFinite(Number(e.attrs[name])), `${query}: <${e.tag} ${name}="${e.attrs[name]}">`).toBe(true);
    }
  }
  expect(withClass(els, "tick-label").length, query).toBeLessThanOrEqual(MAX_TICKS);
  expect(withClass(els, "y-tick-label").length, query).toBeLessThanOrEqual(MAX_TICKS);
  return els;
}

async function jsonOf(module: string, query: string): Promise<unknown[][]> {
  const res = await guarded(query, () => chart(module, query));
  expect(res.status, `${query}: ${res.text.slice(0, 300)}`).toBe(200);
  const data = res.json.response.data as unknown[][];
  for (const column of data) {
    for (const v of column) expect(v === null || ["string", "number", "boolean"].includes(typeof v), `${query}: ${v}`).toBe(true);
  }
  return data;
}

/** The JSON answer of a shape holds exactly the stored values, and honest sums. */
function expectHonestData(data: unknown[][], items: Item[], shape: Shape, gauge: boolean, label: string) {
  if (gauge) {
    expect(data.length, label).toBe(1);
    return expectHonestSum(
      data[0][1],
      items.map((i) => i.y),
      label,
    );
  }
  if (shape === "series") {
    const [[, ...xs], [, ...ys]] = data;
    const got = xs.map((x, n) => `${x} ${ys[n]}`).sort();
    const stored = items.map((i) => `${i.x} ${i.y}`).sort();
    expect(got, `${label}: the raw series is the stored values`).toEqual(stored);
    return;
  }
  expect(data.length, label).toBe(new Set(items.map((i) => (shape === "byX" ? i.x || 0 : i.c))).size);
  for (const [cat, value] of data) {
    const members = items.filter((i) => (shape === "byX" ? i.x === Number(cat) : i.c === cat));
    expect(members.length, `${label}: category ${cat}`).toBeGreaterThan(0);
    expectHonestSum(
      value,
      members.map((i) => i.y),
      `${label}: category ${cat}`,
    );
  }
}

async function expectEveryKindAnswers(module: string, items: Item[], label: string) {
  for (const shape of ["series", "byX", "grouped"] as const) {
    for (const kind of ["bar", "gauge"]) {
      const data = await jsonOf(module, `kind=${kind}&${QUERY[shape]}`);
      expectHonestData(data, items, shape, kind === "gauge", `${label}, ${kind} ${shape}`);
    }
    for (const kind of KINDS) await svgOf(module, `kind=${kind}&${QUERY[shape]}`);
  }
}

// ---------------------------------------------------------------------------------------------

describe("niceTicks over any range", () => {
  it("answers at most 20 finite ticks, ascending, inside the range", async () => {
    fc.assert(
      fc.property(anyDouble, anyDouble, fc.integer({ min: -5, max: 1000 }), fc.boolean(), (lo, hi, count, integer) => {
        const ticks = tripwired(`niceTicks(${lo}, ${hi}, ${count}, ${integer})`, () => niceTicks(lo, hi, count, integer));
        expect(ticks.length).toBeLessThanOrEqual(MAX_TICKS);
        for (const t of ticks) expect(Number.isFinite(t)).toBe(true);
        for (let i = 1; i < ticks.length; i++) expect(ticks[i]).toBeGreaterThan(ticks[i - 1]);
        if (Number.isFinite(lo) && Number.isFinite(hi)) {
          expect(ticks.length).toBeGreaterThan(0);
          for (const t of ticks) {
            expect(t).toBeGreaterThanOrEqual(Math.min(lo, hi));
            expect(t).toBeLessThanOrEqual(Math.max(lo, hi));
          }
        }
      }),
      { numRuns: 2000, endOnFailure: true },
    );
  });

  it("handles the cases of the issue", () => {
    tripwired("niceTicks", () => {
      expect(niceTicks(0.3, NEARLY_03)).toEqual([0.3, NEARLY_03]);
      expect(niceTicks(1e16, 1e16 + 2)).toEqual([1e16, 1e16 + 2]);
      expect(niceTicks(-1.7e308, 1.7e308).length).toBeGreaterThan(2);
      expect(niceTicks(5, 5)).toEqual([5]);
      expect(niceTicks(5, 1)).toEqual(niceTicks(1, 5));
      expect(niceTicks(NaN, 3)).toEqual([3]);
      expect(niceTicks(0, 1, 1000).length).toBeLessThanOrEqual(MAX_TICKS);
    });
  });
});

describe("the line chart of the issue", () => {
  for (const [name, xs] of [
    ["0.3 and 0.1 + 0.2", [0.3, NEARLY_03]],
    ["1e16 and 1e16 + 2", [1e16, 1e16 + 2]],
  ] as const) {
    it(`answers over x values ${name}, with distinct tick labels`, async () => {
      const module = await hostileModule(xs.map((x, n) => ({ x, y: n + 1, c: "a" })));
      const els = await svgOf(module, "kind=line&xAxis=x&yAxis=y");
      expect(withClass(els, "point").length).toBe(2);
      const labels = withClass(els, "tick-label").map((e) => e.text);
      expect(labels.length).toBeGreaterThan(0);
      expect(new Set(labels).size).toBe(labels.length);
    });
  }
});

describe("sums beyond the double range", () => {
  it("D1 answers null for a total() that overflows (the premise of what follows)", async () => {
    const db = (env as unknown as { DB: D1Database }).DB;
    const total = (v: number) => db.prepare("select total(v) as t from (select ?1 as v union all select ?1)").bind(v).first<{ t: unknown }>();
    expect(await total(1.7e308)).toEqual({ t: null });
    expect(await total(-1.7e308)).toEqual({ t: null });
  });

  it("answer null for that category, never 0; the other categories keep their sums", async () => {
    const module = await hostileModule([
      { x: 1, y: 1.7e308, c: "a" },
      { x: 1, y: 1.7e308, c: "a" },
      { x: 2, y: 5, c: "b" },
      { x: 3, y: -1.7e308, c: "c" },
      { x: 3, y: -1.7e308, c: "c" },
    ]);
    expect(await jsonOf(module, "kind=bar&groupBy=c&sum=y")).toEqual([
      ["a", null],
      ["b", 5],
      ["c", null],
    ]);
    expect(await jsonOf(module, "kind=line&sum=y&xAxis=x")).toEqual([
      ["1", null],
      ["2", 5],
      ["3", null],
    ]);
    expect(await jsonOf(module, `kind=gauge&sum=y&filter=${encodeURIComponent("c ne 'c'")}`)).toEqual([["y", null]]);
    expect(await jsonOf(module, `kind=gauge&yAxis=y&filter=${encodeURIComponent("c eq 'c'")}`)).toEqual([["y", null]]);
  });

  it("SVG draws nothing for such a category and labels it n/a", async () => {
    const module = await hostileModule([
      { x: 1, y: 1.7e308, c: "a" },
      { x: 1, y: 1.7e308, c: "a" },
      { x: 2, y: 5, c: "b" },
    ]);
    const bars = await svgOf(module, "kind=bar&groupBy=c&sum=y");
    expect(withClass(bars, "bar").length).toBe(1);
    expect(withClass(bars, "category-label").map((e) => e.text)).toEqual(["a", "b"]);
    const line = await svgOf(module, "kind=line&groupBy=c&sum=y");
    expect(withClass(line, "point").length).toBe(1);
    const pie = await svgOf(module, "kind=pie&groupBy=c&sum=y");
    expect(withClass(pie, "slice").length).toBe(1);
    expect(withClass(pie, "legend-label").map((e) => e.text)).toEqual(["a: n/a", "b: 5"]);
    const gauge = await svgOf(module, "kind=gauge&sum=y");
    expect(withClass(gauge, "gauge-total")[0].text).toBe("n/a");
    expect(withClass(gauge, "gauge-value").length).toBe(0);
  });

  it("a donut whose categories add up beyond the range halves them and says n/a for the total", async () => {
    const module = await hostileModule([
      { x: 1, y: 1e308, c: "a" },
      { x: 2, y: 1e308, c: "b" },
    ]);
    expect(await jsonOf(module, "kind=donut&groupBy=c&sum=y")).toEqual([
      ["a", 1e308],
      ["b", 1e308],
    ]);
    const donut = await svgOf(module, "kind=donut&groupBy=c&sum=y");
    expect(withClass(donut, "slice-label").map((e) => e.text)).toEqual(["50%", "50%"]);
    expect(withClass(donut, "donut-total")[0].text).toBe("n/a");
  });
});

describe("the raw series", () => {
  it("answers the stored y values exactly, not rounded", async () => {
    const module = await hostileModule([
      { x: 1, y: 1e16 + 2, c: "a" },
      { x: 2, y: 0.1234567890123, c: "a" },
    ]);
    expect(await jsonOf(module, "kind=scatter&xAxis=x&yAxis=y")).toEqual([
      ["x", 1, 2],
      ["y", 1e16 + 2, 0.1234567890123],
    ]);
  });
});

describe("every kind over adversarial data", () => {
  const TABLE: [string, [number, number, string][]][] = [
    [
      "0.3 and 0.1 + 0.2",
      [
        [0.3, 0.3, "a"],
        [NEARLY_03, NEARLY_03, "b"],
      ],
    ],
    [
      "1e16 and 1e16 + 2",
      [
        [1e16, 1e16, "a"],
        [1e16 + 2, 1e16 + 2, "b"],
      ],
    ],
    [
      "±1.7e308",
      [
        [1.7e308, 1.7e308, "a"],
        [-1.7e308, -1.7e308, "b"],
      ],
    ],
    [
      "a sum beyond 1.7e308",
      [
        [1, 1.7e308, "a"],
        [1, 1.7e308, "a"],
        [2, 5, "b"],
      ],
    ],
    [
      "a sum below -1.7e308",
      [
        [1, -1.7e308, "a"],
        [1, -1.7e308, "a"],
        [2, -5, "b"],
      ],
    ],
    [
      "subnormals",
      [
        [5e-324, 5e-324, "a"],
        [0, 0, "a"],
        [-5e-324, -5e-324, "b"],
      ],
    ],
    [
      "the smallest and the largest",
      [
        [5e-324, Number.MAX_VALUE, "a"],
        [Number.MAX_VALUE, 5e-324, "b"],
      ],
    ],
    [
      "equal huge values",
      [
        [1e308, 1e308, "a"],
        [1e308, 1e308, "b"],
      ],
    ],
    [
      "nearly equal negatives",
      [
        [-0.3, -0.3, "a"],
        [-NEARLY_03, -NEARLY_03, "a"],
      ],
    ],
    ["one item", [[42, -7, "a"]]],
    ["no items", []],
  ];
  for (const [name, rows] of TABLE) {
    it(name, async () => {
      const items = rows.map(([x, y, c]) => ({ x, y, c }));
      await expectEveryKindAnswers(await hostileModule(items), items, name);
    });
  }

  it("random and adversarial values, any kind", async () => {
    const item = fc.record({ x: hostileDouble, y: hostileDouble, c: fc.constantFrom("a", "b") });
    await fc.assert(
      fc.asyncProperty(
        fc.array(item, { maxLength: 5 }),
        fc.constantFrom(...KINDS),
        fc.constantFrom<Shape>("series", "byX", "grouped"),
        async (items, kind, shape) => {
          const module = await hostileModule(items);
          const data = await jsonOf(module, `kind=${kind}&${QUERY[shape]}`);
          expectHonestData(data, items, shape, kind === "gauge", `${kind} ${shape} over ${JSON.stringify(items)}`);
          await svgOf(module, `kind=${kind}&${QUERY[shape]}`);
        },
      ),
      { numRuns: 40, endOnFailure: true },
    );
  }, 60_000);
});

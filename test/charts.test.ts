import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { call, makeModule, rederiveTypedRows } from "./helpers";
import { addItems, billboardRows, chart, chartData } from "./charts-helpers";

// One module of deals with known values. Stamps are sent with offsets; charts see them in UTC.
let deals: string;
let empty: string;

beforeAll(async () => {
  const m = await makeModule("Deal", [
    { name: "country", kind: "enum", label: "Country", options: { options: ["France", "Slovenia", "Italy"] } },
    { name: "value", kind: "number", label: "Value", options: { min: 0, max: 1000 } },
    { name: "closed", kind: "stamp", label: "Closed" },
    { name: "day", kind: "date", label: "Day" },
    { name: "won", kind: "bool", label: "Won" },
    { name: "tags", kind: "text", label: "Tags", isMulti: true },
    { name: "title", kind: "text", label: "Title" },
  ]);
  deals = m.moduleID;
  const ids = await addItems(deals, [
    // 2026-02-01T01:30Z in UTC: February, though January at its own offset
    { country: "France", value: 100, closed: "2026-01-31T23:30:00-02:00", day: "2026-01-31", won: true, tags: ["vip", "new"], title: "alpha" },
    // the last millisecond of January
    { country: "France", value: 50, closed: "2026-01-31T23:59:59.999Z", day: "2026-02-01", won: false, tags: ["new"], title: "Alpha" },
    // 2026-01-31T23:00Z in UTC: January, though February at its own offset
    { country: "Slovenia", value: 30, closed: "2026-02-01T00:00:00+01:00", day: "2026-03-31", won: true, title: "beta" },
    { country: "Slovenia", value: 20, closed: "2026-04-01T00:00:00.000Z", day: "2026-04-01" },
    { value: 7, tags: ["vip"] },
    { country: "Italy", value: 1000, closed: "2026-01-15T10:00:00Z", day: "2026-01-15", won: true, tags: ["vip"], title: "gone" },
  ]);
  const del = await call(`/module/${deals}/content/${ids[5]}`, { method: "DELETE" });
  expect(del.status).toBe(200);
  empty = (
    await makeModule("Empty", [
      { name: "country", kind: "text", label: "Country" },
      { name: "value", kind: "number", label: "Value" },
      { name: "closed", kind: "stamp", label: "Closed" },
    ])
  ).moduleID;
});

describe("case 1: groupBy", () => {
  it("counts items per category, null category last, deleted items not counted", async () => {
    expect(await chartData(deals, "kind=bar&groupBy=country")).toEqual([
      ["France", 2],
      ["Slovenia", 2],
      [null, 1],
    ]);
  });

  it("sums `sum` per category", async () => {
    expect(await chartData(deals, "kind=bar&groupBy=country&sum=value")).toEqual([
      ["France", 150],
      ["Slovenia", 50],
      [null, 7],
    ]);
  });

  it("with count=field counts the items holding that field", async () => {
    expect(await chartData(deals, "kind=bar&groupBy=country&count=closed")).toEqual([
      ["France", 2],
      ["Slovenia", 2],
      [null, 0],
    ]);
    expect(await chartData(deals, "kind=bar&groupBy=country&count=tags")).toEqual([
      ["France", 2],
      ["Slovenia", 0],
      [null, 1],
    ]);
  });

  it("with count=id counts every item", async () => {
    expect(await chartData(deals, "kind=bar&groupBy=country&count=id")).toEqual([
      ["France", 2],
      ["Slovenia", 2],
      [null, 1],
    ]);
  });

  it("takes precedence over count and sum", async () => {
    expect(await chartData(deals, "kind=bar&groupBy=won&count=country&sum=value&xAxis=day")).toEqual([
      ["false", 50],
      ["true", 130],
      [null, 27],
    ]);
  });

  it("orders numbers numerically and booleans false first", async () => {
    expect(await chartData(deals, "kind=bar&groupBy=value")).toEqual([
      ["7", 1],
      ["20", 1],
      ["30", 1],
      ["50", 1],
      ["100", 1],
    ]);
    expect(await chartData(deals, "kind=bar&groupBy=won")).toEqual([
      ["false", 1],
      ["true", 2],
      [null, 2],
    ]);
  });

  it("groups text case-insensitively, named by one of its spellings", async () => {
    const data = await chartData(deals, "kind=bar&groupBy=title");
    expect(["alpha", "Alpha"]).toContain(data[0][0]);
    expect(data.slice(1)).toEqual([
      ["beta", 1],
      [null, 2],
    ]);
    expect(data[0][1]).toBe(2);
  });

  it("puts an item in each category its multi-value field holds", async () => {
    expect(await chartData(deals, "kind=bar&groupBy=tags")).toEqual([
      ["new", 2],
      ["vip", 2],
      [null, 2],
    ]);
    expect(await chartData(deals, "kind=bar&groupBy=tags&sum=value")).toEqual([
      ["new", 150],
      ["vip", 107],
      [null, 50],
    ]);
  });
});

describe("multi-value fields", () => {
  it("count by a multi-value field counts each element", async () => {
    expect(await chartData(deals, "kind=pie&count=tags")).toEqual([
      ["new", 2],
      ["vip", 2],
      [null, 2],
    ]);
  });

  it("bounds on a multi-value x keep the items with one value in bounds", async () => {
    expect(await chartData(deals, "kind=bar&groupBy=country&xAxis=tags&xMin=v")).toEqual([
      ["France", 1],
      [null, 1],
    ]);
  });
});

describe("stored values the chart did not expect", () => {
  it("never answer a 500: a multi-value field holding plain text reads as missing, as in filters", async () => {
    const m = (
      await makeModule("Odd", [
        { name: "tags", kind: "text", isMulti: true },
        { name: "n", kind: "number" },
      ])
    ).moduleID;
    await env.DB.prepare(
      `insert into content (module_id, user_id, data, search, created_at, updated_at)
       values (?, '7', '{"tags": "oops", "n": 2}', '', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')`,
    )
      .bind(Number(m))
      .run();
    await rederiveTypedRows(m);
    await addItems(m, [{ tags: ["a"], n: 1 }]);
    expect(await chartData(m, "kind=bar&groupBy=tags")).toEqual([
      ["a", 1],
      [null, 1],
    ]);
    expect(await chartData(m, "kind=bar&groupBy=n&count=tags")).toEqual([
      ["1", 1],
      ["2", 0],
    ]);
    expect(await chartData(m, "kind=bar&groupBy=n&xAxis=tags&xMin=b")).toEqual([]);
  });
});

describe("case 2: count", () => {
  it("counts the items holding each value of the field; the null category counts those without", async () => {
    expect(await chartData(deals, "kind=pie&count=country")).toEqual([
      ["France", 2],
      ["Slovenia", 2],
      [null, 1],
    ]);
  });

  it("takes precedence over sum", async () => {
    expect(await chartData(deals, "kind=pie&count=won&sum=value&xAxis=day")).toEqual([
      ["false", 1],
      ["true", 2],
      [null, 2],
    ]);
  });

  it("count=id alone answers the number of items as one row", async () => {
    expect(await chartData(deals, "kind=bar&count=id")).toEqual([["Count", 5]]);
  });
});

describe("case 3: sum by xAxis", () => {
  it("sums per distinct x value", async () => {
    expect(await chartData(deals, "kind=bar&sum=value&xAxis=country")).toEqual([
      ["France", 150],
      ["Slovenia", 50],
      [null, 7],
    ]);
  });

  it("buckets stamps by month in UTC, with month ends exact", async () => {
    expect(await chartData(deals, "kind=line&sum=value&xAxis=closed:month")).toEqual([
      ["2026-01", 80],
      ["2026-02", 100],
      ["2026-04", 20],
      [null, 7],
    ]);
  });

  it("buckets by year, quarter, week and day", async () => {
    expect(await chartData(deals, "kind=line&sum=value&xAxis=closed:year")).toEqual([
      ["2026", 200],
      [null, 7],
    ]);
    expect(await chartData(deals, "kind=line&sum=value&xAxis=closed:quarter")).toEqual([
      ["2026-Q1", 180],
      ["2026-Q2", 20],
      [null, 7],
    ]);
    expect(await chartData(deals, "kind=line&sum=value&xAxis=closed:week")).toEqual([
      ["2026-W05", 180],
      ["2026-W14", 20],
      [null, 7],
    ]);
    expect(await chartData(deals, "kind=line&sum=value&xAxis=closed:day")).toEqual([
      ["2026-01-31", 80],
      ["2026-02-01", 100],
      ["2026-04-01", 20],
      [null, 7],
    ]);
  });

  it("sums a multi-value x per element, and bounds apply to each element", async () => {
    expect(await chartData(deals, "kind=bar&sum=value&xAxis=tags")).toEqual([
      ["new", 150],
      ["vip", 107],
      [null, 50],
    ]);
    expect(await chartData(deals, "kind=bar&sum=value&xAxis=tags&xMin=O")).toEqual([["vip", 107]]);
  });
});

describe("date buckets on groupBy", () => {
  it("buckets date fields at month ends", async () => {
    expect(await chartData(deals, "kind=bar&groupBy=day:month")).toEqual([
      ["2026-01", 1],
      ["2026-02", 1],
      ["2026-03", 1],
      ["2026-04", 1],
      [null, 1],
    ]);
    expect(await chartData(deals, "kind=bar&groupBy=day:quarter&sum=value")).toEqual([
      ["2026-Q1", 180],
      ["2026-Q2", 20],
      [null, 7],
    ]);
  });

  it("numbers ISO weeks across year ends (YYYY-Www of the week's Thursday)", async () => {
    const m = (
      await makeModule("Weeks", [
        { name: "on", kind: "date" },
        { name: "at", kind: "stamp" },
      ])
    ).moduleID;
    await addItems(m, [
      { on: "2024-12-29", at: "2024-12-29T23:59:59Z" }, // Sunday: 2024-W52
      { on: "2024-12-30", at: "2024-12-30T00:30:00+01:00" }, // Monday: 2025-W01 (UTC: Sunday 2024-12-29T23:30Z: W52)
      { on: "2026-12-31" }, // Thursday: 2026-W53
      { on: "2027-01-03" }, // Sunday: 2026-W53
      { on: "2027-01-04" }, // Monday: 2027-W01
      { on: "2021-01-03" }, // Sunday: 2020-W53
    ]);
    expect(await chartData(m, "kind=bar&groupBy=on:week")).toEqual([
      ["2020-W53", 1],
      ["2024-W52", 1],
      ["2025-W01", 1],
      ["2026-W53", 2],
      ["2027-W01", 1],
    ]);
    expect(await chartData(m, "kind=bar&groupBy=at:week")).toEqual([
      ["2024-W52", 2],
      [null, 4],
    ]);
    expect(await chartData(m, "kind=bar&groupBy=on:year")).toEqual([
      ["2021", 1],
      ["2024", 2],
      ["2026", 1],
      ["2027", 2],
    ]);
  });

  it("buckets the item's own createdAt", async () => {
    const year = new Date().toISOString().slice(0, 4);
    expect(await chartData(deals, "kind=bar&groupBy=createdAt:year")).toEqual([[year, 5]]);
  });
});

describe("case 4: the raw series", () => {
  it("answers every item's (x, y) pair ordered by x, items without either left out", async () => {
    expect(await chartData(deals, "kind=scatter&xAxis=day&yAxis=value")).toEqual([
      ["Day", "2026-01-31", "2026-02-01", "2026-03-31", "2026-04-01"],
      ["Value", 100, 50, 30, 20],
    ]);
    expect(await chartData(deals, "kind=line&xAxis=value&yAxis=value")).toEqual([
      ["Value", 7, 20, 30, 50, 100],
      ["Value", 7, 20, 30, 50, 100],
    ]);
  });

  it("orders stamps chronologically (in UTC)", async () => {
    expect(await chartData(deals, "kind=line&xAxis=closed&yAxis=value")).toEqual([
      ["Closed", "2026-01-31T23:00:00.000Z", "2026-01-31T23:59:59.999Z", "2026-02-01T01:30:00.000Z", "2026-04-01T00:00:00.000Z"],
      ["Value", 30, 50, 100, 20],
    ]);
  });

  it("is the shape billboard.js reads with data.x", async () => {
    const data = await chartData(deals, "kind=line&xAxis=day&yAxis=value&xMax=2026-02-01");
    expect(billboardRows(data)).toEqual([
      { Day: "2026-01-31", Value: 100 },
      { Day: "2026-02-01", Value: 50 },
    ]);
  });

  it("refuses more than 10000 points with a 400, and answers 10000", async () => {
    const m = (await makeModule("Many", [{ name: "n", kind: "number" }])).moduleID;
    // Seeded in one statement: 10,001 items through the API would take minutes.
    await env.DB.prepare(
      `with recursive seq(i) as (select 1 union all select i + 1 from seq where i < 10001)
       insert into content (module_id, user_id, data, search, created_at, updated_at)
       select ?, '7', json_object('n', i), '', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z' from seq`,
    )
      .bind(Number(m))
      .run();
    await rederiveTypedRows(m);
    const res = await chart(m, "kind=scatter&xAxis=n&yAxis=n");
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe("too_many_points");
    expect(res.json.error.details[0].path).toBe("xAxis");
    const capped = await chartData(m, "kind=scatter&xAxis=n&yAxis=n&xMin=2");
    expect(capped[0].length).toBe(10001);
    expect(capped[1][10000]).toBe(10001);
    // Aggregates over all of them are fine, and so is a grouping under the cap.
    expect(await chartData(m, "kind=gauge&count=id")).toEqual([["Count", 10001]]);
    expect(await chartData(m, "kind=gauge&sum=n")).toEqual([["n", 50015001]]);
    const many = await chart(m, "kind=bar&groupBy=n");
    expect(many.status).toBe(400);
    expect(many.json.error.details[0].path).toBe("groupBy");
  });
});

describe("xMin and xMax", () => {
  it("bound the x field inclusively in the raw series (dates)", async () => {
    expect(await chartData(deals, "kind=line&xAxis=day&yAxis=value&xMin=2026-02-01&xMax=2026-03-31")).toEqual([
      ["Day", "2026-02-01", "2026-03-31"],
      ["Value", 50, 30],
    ]);
  });

  it("bound the items of a grouped chart (numbers)", async () => {
    expect(await chartData(deals, "kind=bar&groupBy=country&xAxis=value&xMin=30&xMax=100")).toEqual([
      ["France", 2],
      ["Slovenia", 1],
    ]);
    expect(await chartData(deals, "kind=bar&groupBy=country&xAxis=value&xMin=30.5")).toEqual([["France", 2]]);
  });

  it("bound stamps chronologically; a bare date covers its whole UTC day", async () => {
    expect(await chartData(deals, "kind=bar&groupBy=country&xAxis=closed&xMax=2026-01-31")).toEqual([
      ["France", 1],
      ["Slovenia", 1],
    ]);
    expect(await chartData(deals, `kind=bar&groupBy=country&xAxis=closed&xMin=${encodeURIComponent("2026-02-01T02:30:00+01:00")}`)).toEqual([
      ["France", 1],
      ["Slovenia", 1],
    ]);
    expect(await chartData(deals, "kind=bar&sum=value&xAxis=closed:month&xMin=2026-02-01&xMax=2026-12-31")).toEqual([
      ["2026-02", 100],
      ["2026-04", 20],
    ]);
  });

  it("bound text case-insensitively and booleans false < true", async () => {
    expect(await chartData(deals, "kind=bar&sum=value&xAxis=country&xMin=s")).toEqual([["Slovenia", 50]]);
    expect(await chartData(deals, "kind=bar&groupBy=country&xAxis=won&xMin=true")).toEqual([
      ["France", 1],
      ["Slovenia", 1],
    ]);
  });
});

describe("filter", () => {
  it("narrows the items of every case", async () => {
    expect(await chartData(deals, `kind=bar&groupBy=country&filter=${encodeURIComponent("won eq true")}`)).toEqual([
      ["France", 1],
      ["Slovenia", 1],
    ]);
    expect(await chartData(deals, `kind=bar&sum=value&xAxis=closed:month&filter=${encodeURIComponent("value ge 50")}`)).toEqual([
      ["2026-01", 50],
      ["2026-02", 100],
    ]);
    expect(await chartData(deals, `kind=line&xAxis=day&yAxis=value&filter=${encodeURIComponent("country eq 'Slovenia'")}`)).toEqual([
      ["Day", "2026-03-31", "2026-04-01"],
      ["Value", 30, 20],
    ]);
  });

  it("reports a bad filter as a 400 naming filter", async () => {
    const res = await chart(deals, `kind=bar&groupBy=country&filter=${encodeURIComponent("value gt")}`);
    expect(res.status).toBe(400);
    expect(res.json.error.details[0].path).toBe("filter");
    const unknown = await chart(deals, `kind=bar&groupBy=country&filter=${encodeURIComponent("nope eq 1")}`);
    expect(unknown.status).toBe(400);
  });
});

describe("gauge", () => {
  it("answers one row with the total", async () => {
    expect(await chartData(deals, "kind=gauge&sum=value")).toEqual([["Value", 207]]);
    expect(await chartData(deals, "kind=gauge&groupBy=country&sum=value")).toEqual([["Value", 207]]);
    expect(await chartData(deals, "kind=gauge&groupBy=country")).toEqual([["Count", 5]]);
    expect(await chartData(deals, "kind=gauge&groupBy=country&count=closed")).toEqual([["Closed", 4]]);
    expect(await chartData(deals, "kind=gauge&count=country")).toEqual([["Country", 4]]);
    expect(await chartData(deals, "kind=gauge&count=id&filter=won%20eq%20true")).toEqual([["Count", 2]]);
    expect(await chartData(deals, "kind=gauge&yAxis=value&xAxis=day&xMin=2026-02-01")).toEqual([["Value", 100]]);
  });

  it("carries the field's min and max in fields", async () => {
    const res = await chart(deals, "kind=gauge&sum=value");
    expect(res.json.response.fields).toEqual({ Value: { name: "value", kind: "number", min: 0, max: 1000 } });
  });
});

describe("the answer", () => {
  it("has kind, data, fields and meta in the envelope", async () => {
    const res = await chart(deals, "kind=bar&groupBy=country&sum=value&name=Deals&description=By%20country&xAxis=value&xMin=1&filter=value%20gt%200&unknown=1");
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      response: {
        kind: "bar",
        data: [
          ["France", 150],
          ["Slovenia", 50],
          [null, 7],
        ],
        fields: {
          Country: { name: "country", kind: "enum" },
          Value: { name: "value", kind: "number", min: 0, max: 1000 },
        },
        meta: {
          name: "Deals",
          description: "By country",
          kind: "bar",
          module: deals,
          x: "value",
          y: "",
          xmin: "1",
          xmax: "",
          groupby: "country",
          sum: "value",
          count: "",
          filter: "value gt 0",
        },
      },
    });
  });

  it("names buckets in fields and meta", async () => {
    const res = await chart(deals, "kind=line&sum=value&xAxis=closed:month");
    expect(res.json.response.fields).toEqual({
      Closed: { name: "closed", kind: "stamp", bucket: "month" },
      Value: { name: "value", kind: "number", min: 0, max: 1000 },
    });
    expect(res.json.response.meta.x).toBe("closed:month");
  });

  it("accepts every chart kind", async () => {
    for (const kind of ["line", "spline", "step", "area", "area-spline", "area-step", "bar", "scatter", "pie", "donut", "gauge"]) {
      const res = await chart(deals, `kind=${kind}&groupBy=country`);
      expect(res.status, kind).toBe(200);
      expect(res.json.response.kind).toBe(kind);
    }
  });

  it("rounds sums of decimals to the field's precision", async () => {
    const m = (
      await makeModule("Money", [
        { name: "amount", kind: "number", options: { precision: 2 } },
        { name: "k", kind: "text" },
      ])
    ).moduleID;
    await addItems(m, [
      { amount: 0.1, k: "a" },
      { amount: 0.2, k: "a" },
      { amount: 0.7, k: "b" },
    ]);
    expect(await chartData(m, "kind=bar&groupBy=k&sum=amount")).toEqual([
      ["a", 0.3],
      ["b", 0.7],
    ]);
  });

  it("is read-only: GET only, and a token is needed", async () => {
    expect((await chart(deals, "kind=bar&groupBy=country")).status).toBe(200);
    expect((await call(`/module/${deals}/chart?kind=bar&groupBy=country`, { token: null })).status).toBe(401);
    expect((await call(`/module/${deals}/chart?kind=bar&groupBy=country`, { method: "POST" })).status).toBe(405);
  });

  it("is documented in /openapi.json with its parameters", async () => {
    const doc = (await call("/openapi.json", { token: null })).json;
    const op = doc.paths["/module/{moduleID}/chart"].get;
    const names = op.parameters.map((p: any) => p.name);
    for (const n of [
      "moduleID",
      "kind",
      "xAxis",
      "yAxis",
      "xMin",
      "xMax",
      "groupBy",
      "sum",
      "count",
      "filter",
      "name",
      "description",
      "format",
      "width",
      "height",
    ]) {
      expect(names).toContain(n);
    }
  });

  it("accepts a trailing slash", async () => {
    expect((await call(`/module/${deals}/chart/?kind=bar&groupBy=country`)).status).toBe(200);
  });
});

describe("empty modules", () => {
  it("answer no rows, empty columns and zero totals", async () => {
    expect(await chartData(empty, "kind=bar&groupBy=country")).toEqual([]);
    expect(await chartData(empty, "kind=pie&count=country")).toEqual([]);
    expect(await chartData(empty, "kind=line&sum=value&xAxis=closed:month")).toEqual([]);
    expect(await chartData(empty, "kind=scatter&xAxis=value&yAxis=value")).toEqual([["Value"], ["Value"]]);
    expect(await chartData(empty, "kind=bar&count=id")).toEqual([["Count", 0]]);
    expect(await chartData(empty, "kind=gauge&sum=value")).toEqual([["Value", 0]]);
  });
});

describe("bad input", () => {
  const bad = async (query: string, param: string, status = 400, module = deals) => {
    const res = await chart(module, query);
    expect(res.status, `${query}: ${res.text}`).toBe(status);
    expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
    if (status === 400) {
      expect(res.json.error.message).toContain(param);
      expect(res.json.error.details.map((d: any) => d.path)).toContain(param);
    }
    return res.json.error;
  };

  it("a missing or unknown kind", async () => {
    await bad("groupBy=country", "kind");
    await bad("kind=&groupBy=country", "kind");
    await bad("kind=radar&groupBy=country", "kind");
    await bad("kind=BAR&groupBy=country", "kind");
  });

  it("unknown field names, in every parameter", async () => {
    for (const param of ["groupBy", "sum", "count", "xAxis", "yAxis"]) {
      const error = await bad(param === "groupBy" ? "kind=bar&groupBy=nope" : `kind=bar&groupBy=country&${param}=nope`, param);
      expect(error.code).toBe("unknown_field");
      expect(error.message).toContain("nope");
    }
  });

  it("sum on a field that is not a number", async () => {
    await bad("kind=bar&groupBy=country&sum=country", "sum");
    await bad("kind=bar&groupBy=country&sum=closed", "sum");
    await bad("kind=bar&groupBy=country&sum=id", "sum");
  });

  it("a bucket on a field that is not a date or stamp, or an unknown bucket", async () => {
    await bad("kind=bar&groupBy=country:month", "groupBy");
    await bad("kind=bar&groupBy=value:year", "groupBy");
    await bad("kind=bar&groupBy=closed:decade", "groupBy");
    await bad("kind=bar&groupBy=closed:", "groupBy");
    await bad("kind=bar&sum=value&xAxis=country:week", "xAxis");
  });

  it("a bucket where the case has no category", async () => {
    await bad("kind=line&xAxis=closed:month&yAxis=value", "xAxis");
    await bad("kind=bar&groupBy=country&count=closed:month", "count");
    await bad("kind=bar&groupBy=country&xAxis=closed:month", "xAxis");
  });

  it("an xMin or xMax that does not parse as the x field's kind", async () => {
    await bad("kind=bar&groupBy=country&xAxis=value&xMin=abc", "xMin");
    await bad("kind=bar&groupBy=country&xAxis=value&xMax=1e999", "xMax");
    await bad("kind=bar&groupBy=country&xAxis=day&xMin=2026-02-30", "xMin");
    await bad("kind=bar&groupBy=country&xAxis=day&xMax=2026-02-01T00:00:00Z", "xMax");
    await bad("kind=bar&groupBy=country&xAxis=closed&xMin=yesterday", "xMin");
    await bad("kind=bar&groupBy=country&xAxis=won&xMin=yes", "xMin");
    await bad("kind=bar&groupBy=country&xAxis=value&xMin=10&xMax=5", "xMin");
    await bad("kind=bar&groupBy=country&xMin=1", "xMin");
  });

  it("missing the parameters the case needs", async () => {
    expect((await bad("kind=bar", "groupBy")).code).toBe("missing_parameter");
    await bad("kind=bar&sum=value", "xAxis");
    await bad("kind=line&xAxis=day", "yAxis");
    await bad("kind=line&yAxis=value", "xAxis");
    await bad("kind=gauge", "groupBy");
  });

  it("a raw series on fields it cannot plot", async () => {
    await bad("kind=line&xAxis=day&yAxis=country", "yAxis");
    await bad("kind=line&xAxis=tags&yAxis=value", "xAxis");
    await bad("kind=bar&groupBy=country&sum=tags", "sum");
  });

  it("a bad format, width or height", async () => {
    await bad("kind=bar&groupBy=country&format=png", "format");
    for (const w of ["abc", "10", "4001", "1.5", "-800"]) await bad(`kind=bar&groupBy=country&format=svg&width=${w}`, "width");
    await bad("kind=bar&groupBy=country&format=svg&height=99999", "height");
  });

  it("a module that does not exist, or a malformed module ID", async () => {
    expect((await bad("kind=bar&groupBy=country", "moduleID", 404, "999999")).code).toBe("not_found");
    expect((await chart("abc", "kind=bar&groupBy=country")).status).toBe(400);
  });
});

// The benchmark's data model and HTTP helpers: one module of ten fields, items with spread values.
export const COUNTRIES = ["France", "Slovenia", "Germany", "Italy", "Spain"];
export const STAGES = ["Open", "Won", "Lost", "Stalled"];
const WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"];

export const MODULE_FIELDS = [
  { name: "name", kind: "text" },
  { name: "email", kind: "email" },
  { name: "country", kind: "enum", options: { options: COUNTRIES } },
  { name: "stage", kind: "enum", options: { options: STAGES } },
  { name: "value", kind: "number" },
  { name: "score", kind: "number" },
  { name: "closeDate", kind: "date" },
  { name: "seenAt", kind: "stamp" },
  { name: "active", kind: "bool" },
  { name: "notes", kind: "textarea" },
];

export function item(i) {
  const day = String((i % 28) + 1).padStart(2, "0");
  const month = String((i % 12) + 1).padStart(2, "0");
  return {
    name: `${WORDS[i % WORDS.length]} ${WORDS[(i * 7) % WORDS.length]} ${i}`,
    email: `user${i}@example.com`,
    country: COUNTRIES[i % COUNTRIES.length],
    stage: STAGES[(i * 3) % STAGES.length],
    value: (i * 37) % 5000,
    score: i % 100,
    closeDate: `2026-${month}-${day}`,
    seenAt: `2026-${month}-${day}T10:00:00.000Z`,
    active: i % 2 === 0,
    notes: `note ${WORDS[(i * 3) % WORDS.length]}`,
  };
}

export function client(url, token) {
  return async function api(path, { method, body } = {}) {
    const res = await fetch(`${url}${path}`, {
      method: method ?? (body ? "POST" : "GET"),
      headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const json = await res.json().catch(() => null);
    if (!res.ok) throw new Error(`${method ?? (body ? "POST" : "GET")} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
}

/** Runs `fn(i)` for i in [0, n) with `concurrency` in flight. */
export async function pool(n, concurrency, fn) {
  let next = 0;
  const workers = Array.from({ length: Math.min(concurrency, n) }, async () => {
    while (next < n) await fn(next++);
  });
  await Promise.all(workers);
}

// ---------------------------------------------------------------------------------------------
// The read scenarios. Each is measured twice: with the same request repeated (the exact result
// cache may answer it) and with a request that differs every time (no cached result can answer
// it). The varying requests do the same work as the repeated ones: the integer `value` field is
// compared with a bound between two integers (`value ge 1000.0000001`, `1000.0000002`, ...),
// which matches exactly the items `value ge 1000` matches, and a date bound before every item's
// date changes the plan of an all-items chart without changing what it adds up.

const q = (params) => new URLSearchParams(params).toString();

let requestNumber = 0;
/** `1000.0000001`, `1000.0000002`, ...: never the same twice in a run, always between 1000 and 1001. */
const boundAbove = (n) => `${n}.${String(++requestNumber).padStart(7, "0")}`;
/** A different day before 2026 every time (the items' dates are all in 2026). */
const dayBefore2026 = () => new Date(Date.UTC(2025, 11, 31) - (++requestNumber % 80_000) * 86_400_000).toISOString().slice(0, 10);

/** The page of 50 the target names: an equality and a range, sorted, with its count. */
export const listPage = (bound) => q({ filter: `country eq 'France' and value ge ${bound}`, sort: "value desc", perPage: "50" });
/** The same page with a free-text word (FTS5 for words of three characters or more). */
export const listSearch = (bound) => q({ filter: `country eq 'France' and value ge ${bound}`, sort: "value desc", query: "alpha", perPage: "50" });
export const LIST_QUERY = listSearch(1000);
/** Kept for docs/storage-alternatives.md, which names it: the searched page with a varying bound. */
export const uncachedList = () => listSearch(boundAbove(1000));

/**
 * `{ name, repeated, varying }` per read scenario: `repeated` is the path of the request sent
 * again and again, `varying()` a new path for every request.
 */
export function readScenarios(moduleId) {
  const content = `/module/${moduleId}/content?`;
  const chart = `/module/${moduleId}/chart?`;
  const stageCount = (bound) => q({ kind: "bar", groupBy: "stage", filter: `value ge ${bound}` });
  const stageSum = (bound) => q({ kind: "bar", groupBy: "stage", sum: "value", filter: `value ge ${bound}` });
  const countryCount = (bound) => q({ kind: "bar", groupBy: "country", filter: `value ge ${bound}` });
  const monthlySum = (xMin) => q({ kind: "bar", xAxis: "closeDate:month", sum: "value", ...(xMin ? { xMin } : {}) });
  return [
    {
      name: "list: page of 50 + count (country eq, value ge N, value desc)",
      repeated: content + listPage(1000),
      varying: () => content + listPage(boundAbove(1000)),
    },
    { name: "list: same + query=alpha (FTS5)", repeated: content + listSearch(1000), varying: () => content + listSearch(boundAbove(1000)) },
    { name: "chart: count by stage, value ge N", repeated: chart + stageCount(1000), varying: () => chart + stageCount(boundAbove(1000)) },
    { name: "chart: sum of value by stage, value ge N", repeated: chart + stageSum(1000), varying: () => chart + stageSum(boundAbove(1000)) },
    // Every item has a value of at least 0, so `value ge -1.x` keeps them all.
    { name: "chart: count by country, all items", repeated: chart + countryCount(-1), varying: () => chart + countryCount(`-${boundAbove(0)}`) },
    { name: "chart: monthly sum of value, all items", repeated: chart + monthlySum(), varying: () => chart + monthlySum(dayBefore2026()) },
  ];
}

/**
 * The mixed scenario's cycle: four reads a dashboard makes (each the same request every time, so
 * only the writes between them keep the cache from answering) and one create.
 */
export function mixedCycle(moduleId, nextItem) {
  const reads = readScenarios(moduleId);
  const pick = (prefix) => reads.find((r) => r.name.startsWith(prefix)).repeated;
  return [
    { method: "GET", path: pick("list: page of 50") },
    { method: "GET", path: pick("chart: count by stage") },
    { method: "GET", path: pick("chart: sum of value by stage") },
    { method: "GET", path: pick("chart: monthly sum") },
    { method: "POST", path: `/module/${moduleId}/content`, body: () => JSON.stringify({ fields: nextItem() }) },
  ];
}

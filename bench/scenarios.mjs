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
    if (!res.ok) throw new Error(`${method ?? "GET"} ${path}: ${res.status} ${JSON.stringify(json)}`);
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

export const LIST_QUERY = `filter=${encodeURIComponent("country eq 'France' and value ge 1000")}&sort=${encodeURIComponent("value desc")}&query=alpha&perPage=50`;

/** The same listing with a bound that differs in every request, so its count is never cached. */
export const uncachedList = () =>
  `filter=${encodeURIComponent(`country eq 'France' and value ge ${(1000 + Math.random()).toFixed(9)}`)}&sort=${encodeURIComponent("value desc")}&query=alpha&perPage=50`;

/**
 * Chart parameters no cached result can answer: the cache is keyed by the chart's plan, so a
 * title or description no longer bypasses it; `id ne N` (N far above any ID) changes the plan while
 * matching every item, at the cost of one integer comparison per row.
 */
export const uncachedChart = () => `filter=${encodeURIComponent(`id ne ${1e12 + Math.floor(Math.random() * 1e9)}`)}`;

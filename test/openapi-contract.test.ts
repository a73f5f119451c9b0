// Contract test: requests generated from /openapi.json itself, valid and invalid, against the
// Worker. For every operation: no answer is a 500, every status is one the operation documents,
// every JSON answer matches the schema documented for its status, a request the document calls
// invalid is refused with a 400 and changes nothing, and at least one valid request succeeds.
// Valid requests come from the examples the document gives (a small generator over the JSON Schema
// subset it uses) and from json-schema-faker; invalid ones are built from each schema's limits.
// Fixed seeds keep every run the same.
import { Validator, type Schema } from "@cfworker/json-schema";
import { generate as fake } from "json-schema-faker";
import { env, exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { token } from "./helpers";

type JsonSchema = Record<string, any>;
type Parameter = { name: string; in: "path" | "query"; required?: boolean; schema: JsonSchema };
type Operation = {
  parameters?: Parameter[];
  requestBody?: { content: Record<string, { schema: JsonSchema }> };
  responses: Record<string, { content?: Record<string, { schema?: JsonSchema }> }>;
};
type Doc = { paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, JsonSchema> } };
type Answer = { status: number; contentType: string; json: unknown; text: string; headers: Headers };
/** `file`: a body sent as it is, with its own content type (an import's file). */
type Request = { method: string; path: string; query: Record<string, string>; body?: unknown; file?: { type: string; text: string } };

const ID_PATTERN = "^[1-9][0-9]{0,15}$";
const ID_OR_ZERO_PATTERN = "^(0|[1-9][0-9]{0,15})$";
/** Valid requests generated per operation, besides the one built from the examples. */
const RANDOM_REQUESTS = 3;

let doc: Doc;
let bearer: string;

// ---------------------------------------------------------------- the document as a validator

const validators = new Map<JsonSchema, Validator>();
function matches(schema: JsonSchema, value: unknown): boolean {
  let validator = validators.get(schema);
  if (!validator) {
    validator = new Validator({ ...schema, components: doc.components } as Schema, "2020-12", false);
    validators.set(schema, validator);
  }
  return validator.validate(value).valid;
}

const deref = (schema: JsonSchema): JsonSchema =>
  schema?.$ref ? deref(doc.components.schemas[schema.$ref.replace("#/components/schemas/", "")]) : (schema ?? {});

/** True when the schema is one of the ID spellings (a pattern, or the string-or-integer anyOf). */
const isIdSchema = (schema: JsonSchema) => {
  const s = deref(schema);
  return [s.pattern, ...(s.anyOf ?? []).map((b: JsonSchema) => b.pattern)].some((p) => p === ID_PATTERN || p === ID_OR_ZERO_PATTERN);
};

// ---------------------------------------------------------------- deterministic generation

function prng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Gen = { rnd: () => number; ids: Record<string, string> };
const pick = <T>(g: Gen, items: readonly T[]): T => items[Math.floor(g.rnd() * items.length)];
const int = (g: Gen, lo: number, hi: number) => lo + Math.floor(g.rnd() * (hi - lo + 1));

function word(g: Gen, min = 1, max = 12) {
  const letters = "abcdefghijklmnopqrstuvwxyz";
  const length = int(g, Math.max(1, min), Math.max(Math.max(1, min), Math.min(max, 12)));
  let out = "";
  for (let i = 0; i < length; i++) out += pick(g, letters.split(""));
  return out;
}

/**
 * A value the schema accepts, from its examples where it has them (free text such as a cron spec
 * or a filter is valid only as written there); real IDs for properties named after a fixture.
 * Objects get their required properties and those with an example.
 */
function generate(schema: JsonSchema, g: Gen, name?: string): unknown {
  const s = deref(schema);
  if (name && g.ids[name] !== undefined && isIdSchema(s)) return g.ids[name];
  if (s.example !== undefined) return structuredClone(s.example);
  if (s.enum)
    return pick(
      g,
      s.enum.filter((v: unknown) => v !== null),
    );
  const branches = s.anyOf ?? s.oneOf;
  if (branches) return generate(pick(g, branches), g, name);
  const type = Array.isArray(s.type) ? s.type.find((t: string) => t !== "null") : s.type;
  switch (type) {
    case "string":
      if (s.pattern === ID_PATTERN) return String(int(g, 1, 999));
      if (s.pattern === ID_OR_ZERO_PATTERN) return "0";
      if (s.pattern) return `A${word(g, 0, 10)}`; // the field-name pattern
      if (s.format === "date-time") return new Date(Date.UTC(int(g, 2027, 2098), int(g, 0, 11), int(g, 1, 28))).toISOString();
      if (s.format === "binary") return "title,value\nImported,5\n";
      return word(g, s.minLength ?? 1, s.maxLength ?? 12);
    case "integer":
      return int(g, s.minimum ?? 0, Math.min(s.maximum ?? 100, (s.minimum ?? 0) + 100));
    case "number":
      return int(g, s.minimum ?? 0, Math.min(s.maximum ?? 100, (s.minimum ?? 0) + 100));
    case "boolean":
      return g.rnd() < 0.5;
    case "array": {
      const n = int(g, s.minItems ?? 0, Math.min(s.maxItems ?? 2, (s.minItems ?? 0) + 2));
      if (name && g.ids[name] !== undefined && isIdSchema(s.items ?? {})) return [g.ids[name]];
      return Array.from({ length: n }, () => generate(s.items ?? {}, g));
    }
    case "object": {
      const out: Record<string, unknown> = {};
      const required: string[] = s.required ?? [];
      for (const [key, sub] of Object.entries<JsonSchema>(s.properties ?? {})) {
        const chosen = required.includes(key) || deref(sub).example !== undefined;
        if (chosen) out[key] = generate(sub, g, key);
      }
      return out;
    }
    default:
      return word(g);
  }
}

/** Values the schema refuses, each tried on its own: wrong types, null, out of range, not in the set. */
function invalidValues(schema: JsonSchema, g: Gen): { what: string; value: unknown }[] {
  const s = deref(schema);
  const out: { what: string; value: unknown }[] = [
    { what: "null", value: null },
    { what: "a boolean", value: true },
    { what: "an object", value: { x: 1 } },
    { what: "a fraction", value: 1.5 },
    { what: "text", value: "not-valid~" },
  ];
  if (s.maxLength !== undefined) out.push({ what: "too long", value: "a".repeat(s.maxLength + 1) });
  if (s.minLength) out.push({ what: "too short", value: "" });
  if (s.maximum !== undefined && s.maximum < Number.MAX_SAFE_INTEGER) out.push({ what: "above maximum", value: s.maximum + 1 });
  if (s.minimum !== undefined) out.push({ what: "below minimum", value: s.minimum - 1 });
  if (s.maxItems !== undefined && s.items) {
    const item = generate(s.items, g);
    out.push({ what: "too many items", value: Array.from({ length: s.maxItems + 1 }, () => item) });
  }
  if (s.minItems) out.push({ what: "too few items", value: [] });
  if (isIdSchema(s)) out.push({ what: "a negative ID", value: -3 }, { what: "an ID past 2^53", value: "9007199254740993" });
  return out;
}

/** An object (or an array of one) with one of its own required properties left out. */
function nestedOmissions(schema: JsonSchema, g: Gen): { what: string; value: unknown }[] {
  const s = deref(schema);
  const many = s.type === "array";
  const item = deref(many ? (s.items ?? {}) : s);
  if (item.type !== "object" || !item.required) return [];
  const full = generate(item, g) as Record<string, unknown>;
  return item.required.map((key: string) => {
    const { [key]: _, ...rest } = full;
    return { what: `without ${key}`, value: many ? [rest] : rest };
  });
}

// ---------------------------------------------------------------- requests and answers

async function send(req: Request, init: { contentType?: string; raw?: string } = {}): Promise<Answer> {
  const url = new URL(`http://api.test${req.path}`);
  for (const [k, v] of Object.entries(req.query)) url.searchParams.set(k, v);
  const headers: Record<string, string> = { authorization: `Bearer ${bearer}` };
  let body: string | undefined;
  if (init.raw !== undefined) {
    headers["content-type"] = init.contentType ?? "application/json";
    body = init.raw;
  } else if (req.file) {
    headers["content-type"] = req.file.type;
    body = req.file.text;
  } else if (req.body !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(req.body);
  }
  const res = await exports.default.fetch(new Request(url, { method: req.method, headers, body }));
  const text = await res.text();
  const contentType = (res.headers.get("content-type") ?? "").split(";")[0].trim();
  let json: unknown;
  if (contentType === "application/json") json = JSON.parse(text);
  return { status: res.status, contentType, json, text, headers: res.headers };
}

/** The answer's disagreements with the document (none: an empty list). */
function checkAnswer(op: Operation, label: string, answer: Answer): string[] {
  const head = `${label} → ${answer.status}`;
  if (answer.status >= 500) return [`${head}: a server error: ${answer.text.slice(0, 300)}`];
  const documented = op.responses[String(answer.status)];
  if (!documented) return [`${head}: status not documented (${Object.keys(op.responses).join(", ")}): ${answer.text.slice(0, 300)}`];
  const content = documented.content ?? {};
  if (!content[answer.contentType]) return [`${head}: content type ${answer.contentType} not documented (${Object.keys(content).join(", ")})`];
  const schema = content[answer.contentType].schema;
  if (answer.contentType === "application/json" && schema && !matches(schema, answer.json)) {
    return [`${head}: the body does not match the documented schema: ${answer.text.slice(0, 300)}`];
  }
  return [];
}

// ---------------------------------------------------------------- fixtures

async function must(req: Request, status: number) {
  const answer = await send(req);
  if (answer.status !== status) throw new Error(`fixture ${req.method} ${req.path}: ${answer.status} ${answer.text}`);
  return (answer.json as { response: Record<string, any> }).response;
}

/**
 * One of each object, so that path IDs and ID parameters name real ones. The job and the schedule
 * run a workflow of their own, so that the workflow the requests name can be deleted; `jobID` is an
 * import job where the route reads an import's report.
 */
async function makeFixtures(template = ""): Promise<Record<string, string>> {
  const post = (path: string, body: unknown) => must({ method: "POST", path, query: {}, body }, 201);
  const module = await post("/module/", {
    name: "Deal",
    fields: [
      { name: "title", kind: "text" },
      { name: "country", kind: "enum", options: { options: ["France", "Slovenia"] } },
      { name: "value", kind: "number" },
      { name: "closeDate", kind: "date" },
    ],
  });
  const item = await post(`/module/${module.moduleID}/content`, { fields: { title: "A", country: "France", value: 1200, closeDate: "2026-03-01" } });
  const parent = await post("/page/", { title: "Parent", blocks: [] });
  const leaf = await post("/page/", { title: "Leaf", selfID: parent.pageID, blocks: [] });
  const workflow = await post("/workflow/", { name: "Notify", tasks: [{ name: "note", kind: "log", options: { message: "hi" } }] });
  const busy = await post("/workflow/", { name: "Busy", tasks: [] });
  const job = template.endsWith("/report")
    ? await must({ method: "POST", path: `/module/${module.moduleID}/import`, query: {}, file: { type: "text/csv", text: "title\nImported\n" } }, 202)
    : await post("/job/", { workflowID: busy.workflowID, startAt: "2099-01-01T00:00:00Z" });
  const schedule = await post("/schedule/", { workflowID: busy.workflowID, cron: "0 8 * * MON-FRI", paused: true });
  return {
    moduleID: module.moduleID,
    contentID: item.contentID,
    selfID: parent.pageID,
    pageID: leaf.pageID,
    pageIDs: leaf.pageID,
    workflowID: workflow.workflowID,
    jobID: job.jobID,
    scheduleID: schedule.scheduleID,
    typeID: "text",
  };
}

const TABLES = ["modules", "content", "pages", "workflows", "jobs", "schedules"];

/** What an invalid request must not change: how many rows each table holds, and the fixtures' rows. */
async function fingerprint(ids: Record<string, string>) {
  const own: Record<string, string> = {
    modules: ids.moduleID,
    content: ids.contentID,
    pages: ids.pageID,
    workflows: ids.workflowID,
    jobs: ids.jobID,
    schedules: ids.scheduleID,
  };
  const results = await env.DB.batch([
    ...TABLES.map((t) => env.DB.prepare(`select count(*) as n from ${t}`)),
    ...TABLES.map((t) => env.DB.prepare(`select * from ${t} where id = ?`).bind(Number(own[t]))),
  ]);
  return JSON.stringify(results.map((r) => r.results));
}

// ---------------------------------------------------------------- building requests from an operation

const jsonBodySchema = (op: Operation) => op.requestBody?.content["application/json"]?.schema;

function fillPath(template: string, op: Operation, ids: Record<string, string>) {
  let path = template;
  for (const p of op.parameters ?? []) if (p.in === "path") path = path.replace(`{${p.name}}`, ids[p.name] ?? "1");
  return path;
}

/** The request built from the document's examples: required parameters, and those with an example. */
function exampleRequest(method: string, template: string, op: Operation, g: Gen): Request {
  const query: Record<string, string> = {};
  for (const p of op.parameters ?? []) {
    if (p.in !== "query") continue;
    if (p.required || deref(p.schema).example !== undefined) query[p.name] = String(generate(p.schema, g, p.name));
  }
  const path = fillPath(template, op, g.ids);
  if (op.requestBody?.content["text/csv"]) return { method: method.toUpperCase(), path, query, file: { type: "text/csv", text: "title,value\nImported,5\n" } };
  const schema = jsonBodySchema(op);
  return { method: method.toUpperCase(), path, query, body: schema ? generate(schema, g) : undefined };
}

/** OpenAPI's `example` as JSON Schema's `examples`: json-schema-faker reads an `example` key as data. */
const asJsonSchema = (node: unknown): unknown => {
  if (Array.isArray(node)) return node.map(asJsonSchema);
  if (!node || typeof node !== "object") return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === "example") out.examples = [value];
    else out[key] = key === "properties" ? Object.fromEntries(Object.entries(value as object).map(([k, v]) => [k, asJsonSchema(v)])) : asJsonSchema(value);
  }
  return out;
};

/** A request json-schema-faker draws from the operation's schemas, with fixtures' IDs put in. */
async function fakedRequest(method: string, template: string, op: Operation, ids: Record<string, string>, seed: number): Promise<Request> {
  const options = {
    seed,
    optionalsProbability: 0.5,
    maxItems: 3,
    maxLength: 40,
    minDateTime: "2027-01-01T00:00:00Z",
    maxDateTime: "2098-12-31T00:00:00Z",
    // `/pageIDs/0` takes the fixture of `pageIDs`, `/workflowID` that of `workflowID`.
    outputTransform: (value: unknown, _schema: unknown, path: string) => {
      const name = path
        .split("/")
        .filter((part) => part !== "" && !/^\d+$/.test(part))
        .pop();
      // The branch of an ID's anyOf arrives here, not the anyOf: any scalar of a fixture's name is its ID.
      return name && ids[name] !== undefined && (typeof value === "string" || typeof value === "number") ? ids[name] : value;
    },
  };
  const withComponents = (schema: JsonSchema) => asJsonSchema({ ...schema, components: doc.components }) as JsonSchema;
  const rnd = prng(seed);
  const query: Record<string, string> = {};
  for (const [i, p] of (op.parameters ?? []).entries()) {
    if (p.in !== "query" || (!p.required && rnd() < 0.5)) continue;
    query[p.name] =
      ids[p.name] !== undefined && isIdSchema(p.schema) ? ids[p.name] : String(await fake(withComponents(p.schema), { ...options, seed: seed + i }));
  }
  const path = fillPath(template, op, ids);
  if (op.requestBody?.content["text/csv"]) return { method: method.toUpperCase(), path, query, file: { type: "text/csv", text: "title,value\nFaked,7\n" } };
  const schema = jsonBodySchema(op);
  return { method: method.toUpperCase(), path, query, body: schema ? await fake(withComponents(schema), options) : undefined };
}

/** Requests the document calls invalid, each with what makes it so. */
function invalidRequests(base: Request, template: string, op: Operation, g: Gen): { what: string; req: Request }[] {
  const out: { what: string; req: Request }[] = [];
  for (const p of op.parameters ?? []) {
    if (p.in === "path" && isIdSchema(p.schema)) {
      for (const bad of ["abc", "-1", "9007199254740993"]) {
        out.push({ what: `path ${p.name}=${bad}`, req: { ...base, path: fillPath(template, op, { ...g.ids, [p.name]: bad }) } });
      }
    }
    if (p.in !== "query") continue;
    if (p.required) {
      const { [p.name]: _, ...rest } = base.query;
      out.push({ what: `query ${p.name} missing`, req: { ...base, query: rest } });
    }
    const s = deref(p.schema);
    const candidates = [
      ...(s.enum ? ["not-in-the-set"] : []),
      ...(s.type === "integer" ? ["abc", "1.5"] : []),
      ...(s.type === "integer" && s.maximum !== undefined ? [String(s.maximum + 1)] : []),
      ...(s.type === "integer" && s.minimum !== undefined ? [String(s.minimum - 1)] : []),
      ...(isIdSchema(s) ? ["abc", "-1"] : []),
    ];
    for (const bad of candidates) out.push({ what: `query ${p.name}=${bad}`, req: { ...base, query: { ...base.query, [p.name]: bad } } });
  }
  const schema = jsonBodySchema(op);
  const body = base.body as Record<string, unknown> | undefined;
  if (schema && body && typeof body === "object" && deref(schema).properties) {
    const s = deref(schema);
    for (const key of s.required ?? []) {
      const { [key]: _, ...rest } = body;
      out.push({ what: `body ${key} missing`, req: { ...base, body: rest } });
    }
    for (const [key, sub] of Object.entries<JsonSchema>(s.properties)) {
      for (const { what, value } of [...invalidValues(sub, g), ...nestedOmissions(sub, g)]) {
        const candidate = { ...body, [key]: value };
        // Only what the document itself refuses: a value its schema for the body accepts is valid.
        if (!matches(schema, candidate)) out.push({ what: `body ${key} ${what}`, req: { ...base, body: candidate } });
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------- the tests

const operations = () => Object.entries(doc.paths).flatMap(([template, ops]) => Object.entries(ops).map(([method, op]) => ({ template, method, op })));

beforeAll(async () => {
  doc = (await (await exports.default.fetch(new Request("http://api.test/openapi.json"))).json()) as Doc;
  bearer = await token("read write admin");
});

describe("/openapi.json as a contract", () => {
  it("holds valid examples: each validates against its own schema", () => {
    const problems: string[] = [];
    const walk = (node: unknown, where: string, inProperties: boolean) => {
      if (Array.isArray(node)) {
        for (const [i, n] of node.entries()) walk(n, `${where}/${i}`, false);
        return;
      }
      if (!node || typeof node !== "object") return;
      const schema = node as JsonSchema;
      if (!inProperties && schema.example !== undefined) {
        const { example, ...rest } = schema;
        // A parameter's example belongs to its schema.
        const target = schema.in && schema.schema ? schema.schema : rest;
        if (!matches(target, example)) problems.push(`${where}: example ${JSON.stringify(example)} does not match its schema`);
      }
      for (const [key, value] of Object.entries(schema)) walk(value, `${where}/${key}`, key === "properties");
    };
    walk(doc.paths, "#/paths", false);
    walk(doc.components.schemas, "#/components/schemas", true);
    expect(problems).toEqual([]);
  });

  it("documents 405 on every operation, and the server answers it with Allow for another method", async () => {
    const problems: string[] = [];
    for (const [template, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) if (!op.responses["405"]) problems.push(`${method} ${template}: 405 not documented`);
      const path = template.replace(/\{[^}]+\}/g, "1");
      const res = await send({ method: "PATCH", path, query: {} });
      const allow = (res.headers.get("allow") ?? "").split(", ");
      if (res.status !== 405) problems.push(`PATCH ${path}: ${res.status}, expected 405`);
      for (const method of Object.keys(ops)) if (!allow.includes(method.toUpperCase())) problems.push(`PATCH ${path}: Allow '${allow}' lacks ${method}`);
    }
    expect(problems).toEqual([]);
  });

  it("documents 413 and 415 on every operation with a body, and the server answers them", async () => {
    const problems: string[] = [];
    const ids = await makeFixtures();
    for (const { template, method, op } of operations()) {
      if (!op.requestBody) continue;
      const req: Request = { method: method.toUpperCase(), path: fillPath(template, op, ids), query: {} };
      const large = await send(req, { raw: `{"x": "${"a".repeat(1024 * 1024)}"}` });
      const unsupported = await send(req, { raw: "x", contentType: "text/plain" });
      // An import's file has its own, larger limit (docs/api/import-export.md, "Import"): 1 MiB is not over it.
      const isFile = !!op.requestBody.content["text/csv"];
      if (!isFile && large.status !== 413) problems.push(`${req.method} ${template}: ${large.status} for a 1 MiB body, expected 413`);
      if (unsupported.status !== 415) problems.push(`${req.method} ${template}: ${unsupported.status} for text/plain, expected 415`);
      problems.push(...checkAnswer(op, `${req.method} ${template} (1 MiB)`, large), ...checkAnswer(op, `${req.method} ${template} (text/plain)`, unsupported));
    }
    expect(problems).toEqual([]);
  });

  it("answers generated requests as documented: invalid ones refused with 400 and nothing changed", async () => {
    const problems: string[] = [];
    const rnd = prng(20261201);
    let readFixtures: Record<string, string> | undefined;
    for (const { template, method, op } of operations()) {
      const label = `${method.toUpperCase()} ${template}`;
      // A read changes nothing: reads share one set of fixtures (but the report reads an import's).
      const ids = method === "get" && !template.endsWith("/report") ? (readFixtures ??= await makeFixtures()) : await makeFixtures(template);
      const exampleGen: Gen = { rnd, ids };
      const base = exampleRequest(method, template, op, exampleGen);
      const schema = jsonBodySchema(op);
      if (schema && !base.file && !matches(schema, base.body))
        problems.push(`${label}: the generated body does not match the document: ${JSON.stringify(base.body)}`);

      // Invalid requests first, while the fixtures are as made.
      for (const { what, req } of invalidRequests(base, template, op, exampleGen)) {
        const before = method === "get" ? "" : await fingerprint(ids);
        const answer = await send(req);
        problems.push(...checkAnswer(op, `${label} with ${what}`, answer));
        if (answer.status !== 400) problems.push(`${label} with ${what}: ${answer.status}, expected 400: ${answer.text.slice(0, 200)}`);
        if (method !== "get" && (await fingerprint(ids)) !== before) problems.push(`${label} with ${what}: changed stored state`);
      }

      let succeeded = false;
      const requests = [base];
      for (let i = 0; i < RANDOM_REQUESTS; i++) requests.push(await fakedRequest(method, template, op, ids, 1000 * requests.length + i + template.length));
      for (const req of requests) {
        if (req !== base && req.body !== undefined && schema && !matches(schema, req.body)) {
          problems.push(`${label}: json-schema-faker drew a body the document refuses: ${JSON.stringify(req.body).slice(0, 200)}`);
        }
        const answer = await send(req);
        problems.push(...checkAnswer(op, `${label} ${JSON.stringify(req.query)} ${JSON.stringify(req.body) ?? ""}`.slice(0, 400), answer));
        if (answer.status < 300) succeeded = true;
      }
      if (!succeeded) problems.push(`${label}: no generated valid request succeeded`);
    }
    expect(problems).toEqual([]);
  }, 180_000);
});

// Every success answer the suite receives through `call` is checked against the schema
// `/openapi.json` documents for its route and status: the document and the server cannot drift.
import { Validator, type Schema } from "@cfworker/json-schema";
import { exports } from "cloudflare:workers";

type Operation = { responses?: Record<string, { content?: Record<string, { schema?: Schema }> }> };
type Route = { template: string; regex: RegExp; ops: Record<string, Operation> };

let loaded: Promise<{ routes: Route[]; components: unknown }> | undefined;
const validators = new Map<string, Validator>();

async function load() {
  const res = await exports.default.fetch(new Request("http://api.test/openapi.json"));
  const doc = (await res.json()) as { paths: Record<string, Record<string, Operation>>; components: unknown };
  const routes = Object.entries(doc.paths).map(([template, ops]) => ({
    template,
    // `{moduleID}` matches one segment; the API accepts a trailing slash everywhere.
    regex: new RegExp(`^${template.replace(/\{[^}]+\}/g, "[^/]+").replace(/\/$/, "")}/?$`),
    ops,
  }));
  // Literal segments win over parameters (`/job/x/logs` is not `/job/{jobID}`).
  routes.sort((a, b) => b.template.split("{").length - a.template.split("{").length).reverse();
  return { routes, components: doc.components };
}

/** Throws when a 2xx JSON answer does not match its documented schema (or is not documented). */
export async function checkAgainstOpenApi(method: string, url: string, status: number, json: unknown, contentType: string | null) {
  if (status < 200 || status >= 300 || json === undefined) return;
  // By the answer's own type: an NDJSON export of one item parses as JSON too.
  if (!contentType?.startsWith("application/json")) return;
  const path = new URL(url, "http://api.test").pathname;
  if (path === "/openapi.json") return;
  const { routes, components } = await (loaded ??= load());
  const route = routes.find((r) => r.regex.test(path));
  if (!route) return; // `/`, `/docs`: not API routes
  const op = route.ops[method.toLowerCase()];
  if (!op) throw new Error(`${method} ${path}: answered ${status} but ${route.template} documents no ${method}`);
  const response = op.responses?.[String(status)];
  if (!response) throw new Error(`${method} ${route.template}: answered ${status}, documented: ${Object.keys(op.responses ?? {}).join(", ")}`);
  const schema = response.content?.["application/json"]?.schema;
  if (!schema) return; // not JSON (SVG charts)
  const key = `${method} ${route.template} ${status}`;
  let validator = validators.get(key);
  if (!validator) {
    validator = new Validator({ ...schema, components } as Schema, "2020-12", false);
    validators.set(key, validator);
  }
  const result = validator.validate(json);
  if (!result.valid) {
    const errors = result.errors
      .slice(0, 5)
      .map((e) => `${e.instanceLocation}: ${e.error}`)
      .join("; ");
    throw new Error(`${key}: the answer does not match /openapi.json: ${errors}\n${JSON.stringify(json).slice(0, 500)}`);
  }
}

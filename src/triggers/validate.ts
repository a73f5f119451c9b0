// Checks a workflow's `triggers` against the modules they name and answers them normalised, with
// every problem as a `triggers[i].x` detail, so one 400 lists them all (with the tasks' problems).
import { inArray } from "drizzle-orm";
import type { Db } from "../db/client";
import { modules } from "../db/schema";
import { fieldKinds, isMultiField, type FieldDefinition } from "../fields/registry";
import { normaliseId } from "../http/ids";
import { compileFilter } from "../content/filter";
import { ApiError, formatPath, type ErrorDetail } from "../http/errors";
import { fieldNamed, type Module } from "../module-model/module";
import { parseOffset } from "./duration";
import { MAX_TRIGGER_FILTER_LENGTH } from "./limits";
import { DATE_EVENT, TRIGGER_EVENTS, type TriggerDefinition, type TriggerEvent } from "./model";

/** Longest `offset` text; longer is certainly not a duration we take. */
const MAX_OFFSET_CHARS = 64;

type Draft = { index: number; on: TriggerEvent; moduleId: number; filter?: string; fields?: string[]; field?: string; offset?: string };

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/** The shape of one trigger, before the module is looked at. */
function checkShape(raw: unknown, index: number, details: ErrorDetail[]): Draft | undefined {
  const at = (...rest: (string | number)[]) => formatPath(["triggers", index, ...rest]);
  const problem = (message: string, ...rest: (string | number)[]) => void details.push({ path: at(...rest), message });
  if (!isObject(raw)) {
    problem('must be a trigger object {on, moduleID, filter?, fields?} or {on: "content.date", moduleID, field, offset, filter?}');
    return undefined;
  }
  const before = details.length;
  const on = raw.on;
  if (on === undefined) problem("is required", "on");
  else if (typeof on !== "string" || !(TRIGGER_EVENTS as readonly string[]).includes(on)) problem(`must be one of ${TRIGGER_EVENTS.join(", ")}`, "on");
  const moduleId = normaliseId(raw.moduleID, { trim: true });
  if (raw.moduleID === undefined) problem("is required", "moduleID");
  else if (moduleId === null) problem("must be a positive integer ID", "moduleID");

  let filter: string | undefined;
  if (raw.filter !== undefined && raw.filter !== null) {
    if (typeof raw.filter !== "string") problem("must be a string (a content filter, e.g. stage eq 'Won')", "filter");
    else if (raw.filter.length > MAX_TRIGGER_FILTER_LENGTH) problem(`at most ${MAX_TRIGGER_FILTER_LENGTH} characters`, "filter");
    else if (raw.filter.trim() !== "") filter = raw.filter.trim();
  }

  const isDate = on === DATE_EVENT;
  let fields: string[] | undefined;
  if (raw.fields !== undefined && raw.fields !== null) {
    if (on !== "content.updated") problem("only content.updated triggers take fields (the fields whose change fires them)", "fields");
    else if (!Array.isArray(raw.fields) || raw.fields.some((f) => typeof f !== "string")) problem("must be an array of field names", "fields");
    else if (raw.fields.length === 0) problem("must name at least one field (leave fields out to fire on every update)", "fields");
    else if (raw.fields.length > 100) problem("at most 100 fields", "fields");
    else fields = raw.fields as string[];
  }
  let field: string | undefined;
  let offset: string | undefined;
  for (const key of ["field", "offset"] as const) {
    const value = raw[key];
    if (!isDate) {
      if (value !== undefined && value !== null && typeof on === "string" && on !== "") problem("only content.date triggers take field and offset", key);
      continue;
    }
    if (value === undefined || value === null) problem("is required for a content.date trigger", key);
    else if (typeof value !== "string" || value.trim() === "")
      problem(key === "field" ? "must be a field name" : "must be an ISO 8601 duration such as -P3D or PT2H", key);
    else if (key === "field") field = value.trim();
    else if (value.length > MAX_OFFSET_CHARS) problem(`at most ${MAX_OFFSET_CHARS} characters`, key);
    else {
      const parsed = parseOffset(value);
      if ("problem" in parsed) problem(parsed.problem, key);
      else offset = value.trim().toUpperCase();
    }
  }
  if (details.length > before) return undefined;
  return { index, on: on as TriggerEvent, moduleId: Number(moduleId), filter, fields, field, offset };
}

/** The normalised definition, or undefined with its problems added. */
function checkAgainstModule(draft: Draft, module: Module | undefined, details: ErrorDetail[]): TriggerDefinition | undefined {
  const at = (...rest: (string | number)[]) => formatPath(["triggers", draft.index, ...rest]);
  if (!module) {
    details.push({ path: at("moduleID"), message: `module ${draft.moduleId} does not exist` });
    return undefined;
  }
  const before = details.length;
  const moduleID = String(module.id);
  let fields: string[] | undefined;
  if (draft.fields) {
    fields = [];
    draft.fields.forEach((name, j) => {
      const field = fieldNamed(module, name);
      if (!field) details.push({ path: at("fields", j), message: `module ${moduleID} has no field '${name}'` });
      else if (fields!.includes(field.name)) details.push({ path: at("fields", j), message: `'${field.name}' is listed twice` });
      else fields!.push(field.name);
    });
  }
  let field: FieldDefinition | undefined;
  if (draft.field !== undefined) {
    field = fieldNamed(module, draft.field);
    const comparison = field ? fieldKinds.get(field.kind)?.comparison : undefined;
    if (!field) details.push({ path: at("field"), message: `module ${moduleID} has no field '${draft.field}'` });
    else if (comparison !== "date" && comparison !== "stamp")
      details.push({ path: at("field"), message: `'${field.name}' is a ${field.kind} field; a date trigger needs a date or stamp field` });
    else if (isMultiField(field))
      details.push({ path: at("field"), message: `'${field.name}' holds several values; a date trigger needs a single-valued date or stamp field` });
  }
  if (draft.filter !== undefined) {
    try {
      compileFilter(module, draft.filter);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      details.push({ path: at("filter"), message: err.details?.[0]?.message ?? err.message });
    }
  }
  if (details.length > before) return undefined;
  if (draft.on === DATE_EVENT) {
    return { on: DATE_EVENT, moduleID, field: field!.name, offset: draft.offset!, ...(draft.filter !== undefined ? { filter: draft.filter } : {}) };
  }
  return { on: draft.on, moduleID, ...(draft.filter !== undefined ? { filter: draft.filter } : {}), ...(fields ? { fields } : {}) };
}

/**
 * Checks every trigger (its shape, its module, its fields, its filter compiled against the module)
 * and answers them normalised — `moduleID` as a decimal string, field names as the module spells
 * them, empty filters left out — with the problems found. Two identical triggers in one workflow
 * are refused (a trigger's identity is its definition).
 */
export async function validateTriggers(db: Db, input: unknown[]): Promise<{ triggers: TriggerDefinition[]; details: ErrorDetail[] }> {
  const details: ErrorDetail[] = [];
  const drafts = input.map((raw, i) => checkShape(raw, i, details)).filter((d): d is Draft => d !== undefined);
  const ids = [...new Set(drafts.map((d) => d.moduleId))];
  const rows = ids.length ? ((await db.select().from(modules).where(inArray(modules.id, ids)).all()) as Module[]) : [];
  const byId = new Map(rows.map((m) => [m.id, m]));
  const triggers: TriggerDefinition[] = [];
  const seen = new Map<string, number>();
  for (const draft of drafts) {
    const definition = checkAgainstModule(draft, byId.get(draft.moduleId), details);
    if (!definition) continue;
    const canonical = JSON.stringify(definition);
    if (seen.has(canonical)) {
      details.push({ path: formatPath(["triggers", draft.index]), message: `duplicates triggers[${seen.get(canonical)}]` });
      continue;
    }
    seen.set(canonical, draft.index);
    triggers.push(definition);
  }
  return { triggers, details };
}

// Validates a content item's `fields` against its module, through the field registry.
// Every problem becomes one `details` entry; paths are `fields.<name>` (for structural problems of
// the array form, `fields[<index>]`).
import { sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { content } from "../db/schema";
import { checkFieldValue, isMultiField, type FieldDefinition } from "../fields/registry";
import { badRequest, type ErrorDetail } from "../http/errors";
import type { Module } from "../modules/service";
import { isEmptyValue, toStored } from "./storage";
import { throwIfDetails } from "../http/details";

export type Mode = "create" | "update";

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v);

/** Reads the two accepted shapes of `fields` into name → value, recording structural problems. */
function readInput(input: unknown, details: ErrorDetail[]): Map<string, { value: unknown; path: string }> {
  const out = new Map<string, { value: unknown; path: string }>();
  if (input === undefined || input === null) return out;
  const add = (name: string, value: unknown, path: string) => {
    if (out.has(name)) details.push({ path, message: "is given more than once" });
    else out.set(name, { value, path });
  };
  if (Array.isArray(input)) {
    input.forEach((item, i) => {
      if (!isPlainObject(item) || typeof item.name !== "string" || item.name === "") {
        details.push({ path: `fields[${i}]`, message: "must be an object {name, value} with a string name" });
        return;
      }
      add(item.name, item.value, `fields.${item.name}`);
    });
    return out;
  }
  if (isPlainObject(input)) {
    for (const [name, value] of Object.entries(input)) add(name, value, `fields.${name}`);
    return out;
  }
  details.push({ path: "fields", message: "must be an array of {name, value} or an object of name → value" });
  return out;
}

/** IDs (as numbers) a related field's stored value holds. */
const relatedIds = (field: FieldDefinition, stored: unknown): number[] =>
  field.kind === "related" || field.kind === "related_multi" ? ([] as unknown[]).concat(stored).map(Number) : [];

/**
 * The items validated `data` points at, as distinct `[contentId, targetModuleId]` pairs: what a
 * write checks again in its own statement (a target deleted since validation refuses the write).
 */
export function relatedRefs(module: Module, data: Record<string, unknown>): [number, number][] {
  const pairs = new Map<string, [number, number]>();
  for (const field of module.fields) {
    if (!Object.hasOwn(data, field.name)) continue;
    const target = Number(field.options.moduleID);
    for (const id of relatedIds(field, data[field.name])) pairs.set(`${id}:${target}`, [id, target]);
  }
  return [...pairs.values()];
}

/**
 * The module of each live item among `ids` (deleted and unknown IDs are left out): one query per
 * 5,000 IDs, each a single bound JSON array (D1_MAX_BOUND_PARAMETERS in platform/limits.ts).
 */
export async function liveItemModules(db: Db, ids: number[]): Promise<Map<number, number>> {
  const all = [...new Set(ids)];
  const found = new Map<number, number>();
  for (let i = 0; i < all.length; i += 5000) {
    const chunk = all.slice(i, i + 5000);
    const rows = await db
      .select({ id: content.id, moduleId: content.moduleId })
      .from(content)
      .where(sql`${content.deletedAt} is null and ${content.id} in (select value from json_each(${JSON.stringify(chunk)}))`)
      .all();
    for (const r of rows) found.set(r.id, r.moduleId);
  }
  return found;
}

export type RelatedWanted = { field: FieldDefinition; path: string; ids: number[] };

/** The details for related IDs that are not live items of their field's target module (`found`: liveItemModules). */
export function missingRelated(wanted: RelatedWanted[], found: Map<number, number>): ErrorDetail[] {
  const details: ErrorDetail[] = [];
  for (const { field, path, ids } of wanted) {
    const target = Number(field.options.moduleID);
    const missing = ids.filter((id) => found.get(id) !== target);
    if (missing.length) {
      details.push({ path, message: `${missing.length === 1 ? "ID" : "IDs"} ${missing.join(", ")} ${missing.length === 1 ? "is not an item" : "are not items"} of module ${target}` });
    }
  }
  return details;
}

/**
 * Checks that every related ID points at a live item of the field's target module; one query
 * for all fields. Answers a detail per offending field.
 */
export async function checkRelated(db: Db, wanted: RelatedWanted[]): Promise<ErrorDetail[]> {
  if (!wanted.some((w) => w.ids.length)) return [];
  return missingRelated(wanted, await liveItemModules(db, wanted.flatMap((w) => w.ids)));
}

/** What `checkContentFields` answers: the stored values, every problem found, and the related IDs still to check. */
export type CheckedFields = { data: Record<string, unknown>; details: ErrorDetail[]; related: RelatedWanted[] };

/**
 * Everything `validateContentFields` checks except whether related IDs exist (which needs D1):
 * synchronous, so a bulk import checks many items and then their related IDs in one query.
 */
export function checkContentFields(module: Module, input: unknown, mode: Mode): CheckedFields {
  const details: ErrorDetail[] = [];
  const given = readInput(input, details);
  const byName = new Map(module.fields.map((f) => [f.name, f]));
  for (const [name, { path }] of given) {
    if (!byName.has(name)) details.push({ path, message: `unknown field; this module has: ${module.fields.map((f) => f.name).join(", ")}` });
  }
  const data: Record<string, unknown> = {};
  const related: RelatedWanted[] = [];
  for (const field of module.fields) {
    const entry = given.get(field.name);
    const path = entry?.path ?? `fields.${field.name}`;
    let value = entry?.value;
    if (entry === undefined && mode === "create") value = field.defaultValue;
    if (isEmptyValue(value)) {
      if (field.isRequired) details.push({ path, message: "is required" });
      continue;
    }
    const checked = checkFieldValue(field, value);
    if (!checked.ok) {
      details.push({ path, message: checked.message });
      continue;
    }
    if (isMultiField(field) && (checked.value as unknown[]).length === 0) {
      if (field.isRequired) details.push({ path, message: "is required" });
      continue;
    }
    const stored = toStored(field, checked.value);
    data[field.name] = stored;
    const ids = relatedIds(field, stored);
    if (ids.length) related.push({ field, path, ids });
  }
  return { data, details, related };
}

/**
 * Validates `fields` for a create (defaults fill fields left out) or a full replace, and answers
 * the stored `data` object. Throws one 400 listing every problem; nothing is written.
 */
export async function validateContentFields(db: Db, module: Module, input: unknown, mode: Mode): Promise<Record<string, unknown>> {
  // A replace without `fields` would silently empty the item: it must say what the item holds.
  if (mode === "update" && input === undefined) {
    throw badRequest("Invalid content: fields: is required to replace an item's fields", [{ path: "fields", message: "is required to replace an item's fields" }], "invalid_content");
  }
  const { data, details, related } = checkContentFields(module, input, mode);
  details.push(...(await checkRelated(db, related)));
  throwIfDetails(details, "Invalid content", "invalid_content");
  return data;
}

// Validates a content item's `fields` against its module, through the field registry.
// Every problem becomes one `details` entry; paths are `fields.<name>` (for structural problems of
// the array form, `fields[<index>]`).
import type { Db } from "../db/client";
import { checkFieldValue, isMultiField } from "../fields/registry";
import { badRequest, type ErrorDetail } from "../http/errors";
import type { Module } from "../module-model/module";
import { checkRelated, referencedIds, type RelatedWanted } from "./related";
import { isEmptyValue, toStored } from "./storage";
import { throwIfDetails } from "../http/details";

type Mode = "create" | "update";

const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

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

/** What `checkContentFields` answers: the stored values, every problem found, and the related IDs still to check. */
type CheckedFields = { data: Record<string, unknown>; details: ErrorDetail[]; related: RelatedWanted[] };

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
    const ids = referencedIds(field, stored);
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
    throw badRequest(
      "Invalid content: fields: is required to replace an item's fields",
      [{ path: "fields", message: "is required to replace an item's fields" }],
      "invalid_content",
    );
  }
  const { data, details, related } = checkContentFields(module, input, mode);
  details.push(...(await checkRelated(db, related)));
  throwIfDetails(details, "Invalid content", "invalid_content");
  return data;
}

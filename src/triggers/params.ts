// The parameters of a job a trigger starts. Job parameters are strings (the contract), and a
// template reads one as `{{params.NAME}}` with NAME a single segment, so the item's values are
// spelled out one per parameter and also whole, as JSON:
//
//   event       content.created | content.updated | content.deleted | content.date
//   moduleID, contentID
//   item_<field>      each field holding a value, after the change (a delete: its last values), as
//                     text: strings as they are, numbers and booleans in JSON, arrays as JSON,
//                     related IDs as decimal strings (the API's form)
//   item              all of them as one JSON object (`"fields": "{{params.item}}"` copies an item)
//   changed           updates: the names of the fields whose value changed, a JSON array
//   previous_<field>  updates: each changed field's value before the change (when it had one)
//   previous          updates: those previous values as one JSON object
//   dueAt             date triggers: the instant (date + offset) the job stands for
//
// They stay within the bounds of POST /job/ (100 names of at most 64 characters, 64 KiB as JSON):
// values are added in the order above until the next would not fit; what is left out is named in
// `omitted` (a JSON array of parameter names).
import { PARAMETER_NAME_MAX_CHARS, PARAMETERS_MAX_BYTES, PARAMETERS_MAX_COUNT } from "../jobs/schemas";
import type { Module } from "../module-model/module";
import { isEmptyValue, toPresented } from "../content/storage";
import { templateText } from "../jobs/template-text";

/** Room kept for `omitted` itself. */
const OMITTED_RESERVE_BYTES = 4096;

const utf8 = (text: string) => new TextEncoder().encode(text).byteLength;

/** A stored document as an object (a malformed one as empty). */
export function parseDocument(text: string | null): Record<string, unknown> {
  if (text === null) return {};
  try {
    const value = JSON.parse(text);
    return value && typeof value === "object" && !Array.isArray(value) ? value : {};
  } catch {
    return {};
  }
}

const presentValue = (data: Record<string, unknown>, name: string) => (Object.hasOwn(data, name) && !isEmptyValue(data[name]) ? data[name] : undefined);

/** The module's fields whose value differs between two documents (a value and no value differ; "" and none do not). */
export function changedFields(module: Module, before: Record<string, unknown>, after: Record<string, unknown>): string[] {
  return module.fields.filter((f) => JSON.stringify(presentValue(before, f.name)) !== JSON.stringify(presentValue(after, f.name))).map((f) => f.name);
}

/** The item's values in the API's form, by field name, in the module's field order (only fields holding a value). */
function presented(module: Module, data: Record<string, unknown>, only?: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of module.fields) {
    if (only && !only.includes(field.name)) continue;
    const value = presentValue(data, field.name);
    if (value !== undefined) Object.defineProperty(out, field.name, { value: toPresented(field, value), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

type TriggerChange = {
  event: string;
  moduleID: string;
  contentID: string;
  /** The item's values after the change (stored form). */
  data: Record<string, unknown>;
  /** Updates: the values before, and the fields that changed. */
  previous?: Record<string, unknown>;
  changed?: string[];
  dueAt?: string;
};

export function triggerParameters(module: Module, change: TriggerChange): Record<string, string> {
  const params: Record<string, string> = {};
  const omitted: string[] = [];
  let bytes = 2; // {}
  let count = 0;
  const add = (name: string, value: string, always = false) => {
    const cost = utf8(JSON.stringify(name)) + utf8(JSON.stringify(value)) + 2;
    const fits =
      [...name].length <= PARAMETER_NAME_MAX_CHARS && count + 2 <= PARAMETERS_MAX_COUNT && bytes + cost <= PARAMETERS_MAX_BYTES - OMITTED_RESERVE_BYTES;
    if (!fits && !always) {
      if (utf8(JSON.stringify([...omitted, name])) < OMITTED_RESERVE_BYTES - 64) omitted.push(name);
      return;
    }
    Object.defineProperty(params, name, { value, enumerable: true, writable: true, configurable: true });
    bytes += cost;
    count += 1;
  };
  add("event", change.event, true);
  add("moduleID", change.moduleID, true);
  add("contentID", change.contentID, true);
  if (change.dueAt !== undefined) add("dueAt", change.dueAt, true);
  if (change.changed) add("changed", JSON.stringify(change.changed));
  const item = presented(module, change.data);
  for (const [name, value] of Object.entries(item)) add(`item_${name}`, templateText(value));
  const previous = change.previous && change.changed ? presented(module, change.previous, change.changed) : undefined;
  if (previous) for (const [name, value] of Object.entries(previous)) add(`previous_${name}`, templateText(value));
  add("item", JSON.stringify(item));
  if (previous) add("previous", JSON.stringify(previous));
  if (omitted.length) add("omitted", JSON.stringify(omitted), true);
  return params;
}

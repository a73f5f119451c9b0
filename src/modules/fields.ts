// Turns a module's `fields` input into stored field definitions, collecting every problem
// with a `fields[i].x` path so one 400 names them all.
import type { z } from "@hono/zod-openapi";
import type { ErrorDetail } from "../http/errors";
import { formatPath } from "../http/errors";
import { checkFieldValue, fieldKinds, holdsReferences, uniqueProblem, type FieldDefinition } from "../fields/registry";
import { RESERVED_NAMES, type fieldInput } from "./schemas";

type FieldInput = z.output<typeof fieldInput>;

type NormalisedFields = { fields: FieldDefinition[]; details: ErrorDetail[] };

export function normaliseFields(input: FieldInput[]): NormalisedFields {
  const details: ErrorDetail[] = [];
  const seen = new Map<string, number>();
  const fields: FieldDefinition[] = [];
  input.forEach((raw, i) => {
    const at = (...rest: PropertyKey[]) => formatPath(["fields", i, ...rest]);
    const lower = raw.name.toLowerCase();
    if (RESERVED_NAMES.includes(lower)) details.push({ path: at("name"), message: `'${raw.name}' is a reserved name` });
    if (seen.has(lower)) details.push({ path: at("name"), message: `duplicates the name of fields[${seen.get(lower)}]` });
    else seen.set(lower, i);

    const kind = fieldKinds.get(raw.kind);
    if (!kind) {
      details.push({ path: at("kind"), message: `unknown kind '${raw.kind}'; see GET /field/` });
      return;
    }
    const parsedOptions = kind.optionsSchema.safeParse(raw.options);
    if (!parsedOptions.success) {
      for (const issue of parsedOptions.error.issues) {
        details.push({ path: at("options", ...(issue.path as PropertyKey[])), message: issue.message });
      }
      return;
    }
    if (raw.isMulti && kind.multi === "never") details.push({ path: at("isMulti"), message: `a ${kind.type} field cannot be multi` });
    const field: FieldDefinition = {
      name: raw.name,
      kind: raw.kind,
      label: raw.label ?? raw.name,
      helpText: raw.helpText,
      defaultValue: null,
      maxLength: raw.maxLength,
      options: parsedOptions.data,
      isRequired: raw.isRequired,
      isPrivate: raw.isPrivate,
      isVisible: raw.isVisible,
      isMulti: kind.multi === "always" ? true : raw.isMulti,
    };
    if (raw.isUnique) {
      field.isUnique = true;
      const problem = uniqueProblem(field);
      if (problem) details.push({ path: at("isUnique"), message: problem });
    }
    if (raw.defaultValue !== undefined && raw.defaultValue !== null) {
      const checked = checkFieldValue(field, raw.defaultValue);
      if (checked.ok) field.defaultValue = checked.value;
      else details.push({ path: at("defaultValue"), message: checked.message });
    }
    fields.push(field);
  });
  return { fields, details };
}

/** The fields (with their index) that hold references to items of another module. */
export const relatedTargets = (fields: FieldDefinition[]) => fields.map((f, i) => ({ index: i, field: f })).filter(({ field }) => holdsReferences(field));

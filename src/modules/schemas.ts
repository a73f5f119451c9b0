import { z } from "@hono/zod-openapi";
import { fieldKinds } from "../fields/registry";
import { idString, jsonParam, timestamp } from "../http/schemas";

const FIELD_NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
export const RESERVED_NAMES = ["id", "contentid", "moduleid", "userid", "createdat", "updatedat", "deletedat"];
const MAX_FIELDS = 100;

/** "is required" when absent, "must be a string" otherwise (a schema-wide message would hide both). */
const requiredString = (issue: { input?: unknown }) => (issue.input === undefined ? "is required" : "must be a string");

/** A field as the client sends it; kind-specific rules are checked by the service. */
export const fieldInput = z
  .object({
    name: z.string({ error: requiredString }).regex(FIELD_NAME, "must match ^[A-Za-z][A-Za-z0-9_]{0,63}$"),
    kind: z.string({ error: requiredString }).openapi({ enum: [...fieldKinds.keys()], description: "a field kind of GET /field/" }),
    label: z.string().max(200).optional(),
    helpText: z.string().max(4000).default(""),
    defaultValue: z.unknown().optional(),
    maxLength: z.number().int().min(0).max(1_000_000).default(0),
    options: z.record(z.string(), z.unknown()).default({}),
    isRequired: z.boolean().default(false),
    isPrivate: z.boolean().default(false),
    isVisible: z.boolean().default(true),
    isMulti: z.boolean().default(false),
    isUnique: z.boolean().default(false).openapi({ description: "no two items may hold the same value (text compared case-insensitively)" }),
  })
  .openapi("ModuleFieldInput");

export const moduleBody = z.object({
  name: z.string({ error: requiredString }).trim().min(1, "must not be empty").max(200, "must be at most 200 characters"),
  fields: jsonParam(
    z.array(fieldInput, { error: "must be an array of fields" }).min(1, "must hold at least one field").max(MAX_FIELDS, `at most ${MAX_FIELDS} fields`),
  ).openapi({ example: [{ name: "title", kind: "text" }], description: "the fields, in order (a JSON string in a form)" }),
});

export const moduleListQuery = z.object({
  query: z.string().optional().openapi({ description: "case-insensitive substring of the name" }),
});

const moduleField = z
  .object({
    name: z.string(),
    kind: z.string().openapi({ enum: [...fieldKinds.keys()] }),
    label: z.string(),
    helpText: z.string(),
    defaultValue: z.unknown(),
    maxLength: z.number(),
    options: z.record(z.string(), z.unknown()),
    isRequired: z.boolean(),
    isPrivate: z.boolean(),
    isVisible: z.boolean(),
    isMulti: z.boolean(),
    isUnique: z.literal(true).optional().openapi({ description: "present (true) when the field's values are unique" }),
  })
  .openapi("ModuleField");

export const moduleSchema = z
  .object({
    moduleID: idString,
    name: z.string(),
    fields: z.array(moduleField),
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .openapi("Module");

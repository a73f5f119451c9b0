// Request and answer schemas of /page/. Forms send `blocks` and `pageIDs` as JSON strings and
// `visible` as "true"/"false"; the helpers of http/schemas accept both spellings.
import { z } from "@hono/zod-openapi";
import { boolParam, idOrZeroQuery, idString, idValue, jsonParam, optionalRef, timestamp } from "../http/schemas";

const MAX_BLOCKS = 100;
const MAX_TITLE = 200;
const MAX_DESCRIPTION = 4000;
const MAX_REORDER = 10_000;

/** "is required" when the value is missing, else `wrongType`. */
const typeError = (wrongType: string) => (issue: { input: unknown }) => (issue.input === undefined ? "is required" : wrongType);

const text = (max: number) => z.string({ error: typeError("must be a string") }).max(max, `at most ${max} characters`);

/** A layout block; unknown keys are dropped, the rest is stored in this order after defaults. */
const blockInput = z
  .object(
    {
      kind: z
        .string({ error: typeError("must be a string") })
        .max(100, "at most 100 characters")
        .refine((k) => k.trim() !== "", "must not be empty"),
      title: text(MAX_TITLE).default(""),
      description: text(MAX_DESCRIPTION).default(""),
      options: z.record(z.string(), z.unknown(), { error: "must be an object" }).default({}),
      x: z.number({ error: "must be an integer" }).int("must be an integer").min(0, "must be ≥ 0").default(0),
      y: z.number({ error: "must be an integer" }).int("must be an integer").min(0, "must be ≥ 0").default(0),
      width: z.number({ error: "must be an integer" }).int("must be an integer").min(1, "must be ≥ 1").default(3),
      height: z.number({ error: "must be an integer" }).int("must be an integer").min(1, "must be ≥ 1").default(3),
    },
    { error: "must be an object" },
  )
  .openapi("PageBlock");

const blocks = jsonParam(z.array(blockInput, { error: typeError("must be a JSON array of blocks") }).max(MAX_BLOCKS, `at most ${MAX_BLOCKS} blocks`)).openapi({
  description: "array of blocks (a JSON string in a form)",
});

const title = z
  .string({ error: typeError("must be a string") })
  .trim()
  .min(1, "must not be empty")
  .max(MAX_TITLE, `at most ${MAX_TITLE} characters`);

const visible = boolParam().openapi({ type: "boolean", description: 'a boolean, or "true"/"false" in a form' });
const selfID = optionalRef().openapi({ description: "the parent page; 0 or absent: top level" });
const moduleID = optionalRef().openapi({ description: "makes this the module's record page; 0: none" });

export const createPageBody = z.object({
  selfID: selfID.optional(),
  moduleID: moduleID.optional(),
  title,
  description: text(MAX_DESCRIPTION).optional(),
  visible: visible.optional(),
  blocks,
});

/** An edit changes only the parameters it carries; the others keep their values. */
export const updatePageBody = z.object({
  selfID: selfID.optional(),
  moduleID: moduleID.optional(),
  title: title.optional(),
  description: text(MAX_DESCRIPTION).optional(),
  visible: visible.optional(),
  blocks: blocks.optional(),
});

export const reorderBody = z.object({
  pageIDs: jsonParam(z.array(idValue(), { error: typeError("must be a JSON array of page IDs") }).max(MAX_REORDER, `at most ${MAX_REORDER} IDs`)).openapi({
    description: "every child of selfID, in the new order (a JSON string in a form)",
  }),
});

export const pageListQuery = z.object({
  selfID: idOrZeroQuery().openapi({ description: "the parent whose children are listed; 0, empty or absent: top level" }),
});

const blockSchema = z.object({
  kind: z.string(),
  title: z.string(),
  description: z.string(),
  options: z.record(z.string(), z.unknown()),
  x: z.number(),
  y: z.number(),
  width: z.number(),
  height: z.number(),
});

export const pageSchema = z
  .object({
    pageID: idString,
    selfID: idString,
    moduleID: idString,
    title: z.string(),
    description: z.string(),
    visible: z.boolean(),
    weight: z.number(),
    blocks: z.array(blockSchema),
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .openapi("Page");

export const pageTreeSchema = pageSchema
  .extend({
    children: z.array(z.unknown()).openapi({ description: "child pages, each a PageTreeNode, ordered by weight then pageID" }),
  })
  .openapi("PageTreeNode");

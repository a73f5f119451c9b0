// The content answers as /openapi.json documents them; service.ts derives its types from these.
import { z } from "@hono/zod-openapi";
import { idString, timestamp } from "../http/schemas";

const fieldValue = z.object({ name: z.string(), value: z.unknown() }).openapi("ContentFieldValue");

export const contentSchema = z
  .object({
    contentID: idString,
    moduleID: idString,
    userID: idString,
    fields: z.array(fieldValue),
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .openapi("Content");

export const contentListSchema = z.object({
  meta: z.object({ query: z.string(), filter: z.string(), sort: z.string(), page: z.number(), perPage: z.number(), count: z.number() }),
  contents: z.array(contentSchema),
});

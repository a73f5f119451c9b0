// The `triggers` of a workflow in requests and answers (/openapi.json). The body takes any array
// (at most MAX_TRIGGERS_PER_WORKFLOW); each trigger is checked by validate.ts, so that one 400
// names every problem as `triggers[i].x`.
import { z } from "@hono/zod-openapi";
import { idString, idValue, jsonParam } from "../http/schemas";
import { MAX_TRIGGER_DEPTH, MAX_TRIGGERS_PER_WORKFLOW } from "./limits";
import { TRIGGER_EVENTS } from "./model";

export const triggerSchema = z
  .object({
    on: z.enum(TRIGGER_EVENTS).openapi({ description: "the change that fires the trigger; content.date: the item's date plus offset arrives" }),
    moduleID: idString,
    filter: z.string().optional().openapi({
      description: "a content filter evaluated on the item after the change (a delete: its last values); left out: every item",
      example: "stage eq 'Won'",
    }),
    fields: z.array(z.string()).optional().openapi({ description: "content.updated only: fire only when one of these fields changed" }),
    field: z.string().optional().openapi({ description: "content.date only: the date or stamp field", example: "closeDate" }),
    offset: z.string().optional().openapi({
      description: "content.date only: an ISO 8601 duration added to the date, negative for before (weeks, days, hours, minutes, seconds)",
      example: "-P3D",
    }),
  })
  .openapi("WorkflowTrigger");

/** A trigger as a request may write it: its moduleID a string or a number (validate.ts reads both). */
export const triggerInputSchema = triggerSchema.extend({ moduleID: idValue() }).openapi("WorkflowTriggerInput");

export const triggersParam = () =>
  jsonParam(z.array(z.unknown(), { error: "must be an array of triggers" }).max(MAX_TRIGGERS_PER_WORKFLOW, `at most ${MAX_TRIGGERS_PER_WORKFLOW} triggers`))
    .optional()
    .openapi({
      type: "array",
      items: { $ref: "#/components/schemas/WorkflowTriggerInput" },
      maxItems: MAX_TRIGGERS_PER_WORKFLOW,
      description: `record and date triggers that start a job of the workflow by themselves (a JSON string in a form); at most ${MAX_TRIGGERS_PER_WORKFLOW}. A job a trigger starts gets the change in its parameters; past a trigger depth of ${MAX_TRIGGER_DEPTH} no job starts. Left out or []: none (and the answer has no triggers)`,
    });

// What a workflow's `triggers` hold, once validated and normalised (docs/api/triggers.md, "Definitions").
const RECORD_EVENTS = ["content.created", "content.updated", "content.deleted"] as const;
type RecordEvent = (typeof RECORD_EVENTS)[number];
export const DATE_EVENT = "content.date";
export const TRIGGER_EVENTS = [...RECORD_EVENTS, DATE_EVENT] as const;
export type TriggerEvent = (typeof TRIGGER_EVENTS)[number];

/** Starts a job when an item of `moduleID` is created, updated or deleted and `filter` holds on it after the change. */
type RecordTrigger = {
  on: RecordEvent;
  moduleID: string;
  filter?: string;
  /** Updates only: fire only when one of these fields changed. */
  fields?: string[];
};

/** Starts a job per item when the item's `field` plus `offset` arrives (and `filter` holds then). */
export type DateTrigger = {
  on: typeof DATE_EVENT;
  moduleID: string;
  /** A `date` or `stamp` field of the module. */
  field: string;
  /** An ISO 8601 duration, negative for before: `-P3D`, `PT2H`. */
  offset: string;
  filter?: string;
};

export type TriggerDefinition = RecordTrigger | DateTrigger;

export const isDateTrigger = (t: TriggerDefinition): t is DateTrigger => t.on === DATE_EVENT;

/** A trigger as `workflow_triggers` holds it. */
export type TriggerRow = {
  workflowId: number;
  key: string;
  position: number;
  moduleId: number;
  event: string;
  definition: TriggerDefinition;
  armedAt: string;
  nextDueAt: string | null;
};

// The arithmetic of date triggers: when an item is due (its date or stamp plus the trigger's
// offset), and which field values are due by a given instant. A `date` value is midnight UTC of
// that day; a `stamp` is stored in UTC with milliseconds. Both compare as text in the typed table
// (`YYYY-MM-DD`, `YYYY-MM-DDTHH:MM:SS.sssZ`), so "due by t" is a range on the field's index.
import { parseOffset } from "./duration";
import type { DateTrigger } from "./model";

export type DateClockSpec = { kind: "date" | "stamp"; offsetMs: number };

export function clockSpec(trigger: DateTrigger, fieldKind: string): DateClockSpec {
  const parsed = parseOffset(trigger.offset);
  if ("problem" in parsed) throw new Error(`bug: a stored offset does not parse: ${trigger.offset}`);
  return { kind: fieldKind === "date" ? "date" : "stamp", offsetMs: parsed.ms };
}

/** Years a field value can hold (four digits): instants outside are clamped, so ISO text stays comparable. */
const MIN_MS = Date.parse("0000-01-01T00:00:00.000Z");
const MAX_MS = Date.parse("9999-12-31T23:59:59.999Z");
const clamp = (ms: number) => Math.min(Math.max(ms, MIN_MS), MAX_MS);

/** The instant an item with this field value is due; NaN for a value that is not a date or stamp. */
export function dueAt(spec: DateClockSpec, value: string): number {
  const base = Date.parse(spec.kind === "date" ? `${value}T00:00:00.000Z` : value);
  return base + spec.offsetMs;
}

/** The largest field value due at or before `ms` (as text): every value <= it is due. */
export function lastValueDueBy(spec: DateClockSpec, ms: number): string {
  const iso = new Date(clamp(ms - spec.offsetMs)).toISOString();
  return spec.kind === "date" ? iso.slice(0, 10) : iso;
}

// IDs are positive integers below 2^53: integers in storage, decimal strings in JSON, accepted in
// requests as decimal strings or numbers. Every place that reads an ID reads it here.

/** The decimal spelling of an ID (no sign, no leading zero), as /openapi.json states it. */
export const ID_PATTERN = "^[1-9][0-9]{0,15}$";
/** An ID, or `0` for "none" (a page's `selfID` and `moduleID`). */
export const ID_OR_ZERO_PATTERN = "^(0|[1-9][0-9]{0,15})$";

const ID_TEXT = new RegExp(ID_PATTERN);

/** The ID a decimal string spells, or undefined when it is not one (or not below 2^53). */
export function parseId(text: string): number | undefined {
  return ID_TEXT.test(text) && Number(text) <= Number.MAX_SAFE_INTEGER ? Number(text) : undefined;
}

/** `parseId`, with `"0"` read as 0: "none" for optional references such as `selfID`. */
export function parseIdOrZero(text: string): number | undefined {
  return text === "0" ? 0 : parseId(text);
}

/** An ID given as a JSON value: a decimal string or a safe positive integer. */
export function idFromValue(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isSafeInteger(value) && value > 0 ? value : undefined;
  return typeof value === "string" ? parseId(value) : undefined;
}

/** Whether text has the ID spelling, whatever its size (to tell "too large" from "not an ID"). */
export const hasIdSpelling = (text: string) => ID_TEXT.test(text);

/**
 * An ID given as a JSON value, as the decimal string references are stored as; null when it is
 * not one. `trim`: spaces around a string are ignored (CSV cells, task and trigger options).
 */
export function normaliseId(value: unknown, options: { trim?: boolean } = {}): string | null {
  const id = idFromValue(options.trim && typeof value === "string" ? value.trim() : value);
  return id === undefined ? null : String(id);
}

export const idOut = (id: number | null | undefined) => (id === null || id === undefined ? "0" : String(id));

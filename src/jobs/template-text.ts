// The text a value reads as inside a string: what a template puts in place of `{{...}}` within
// longer text (src/workflows/templates.ts), and how a trigger spells an item's values as job
// parameters (src/triggers/params.ts), so that both read the same. Kept here, below both.

/** The text a value contributes inside a longer string. */
export function templateText(value: unknown): string {
  if (typeof value === "string") return value;
  if (value === null || value === undefined) return "";
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return JSON.stringify(value);
}

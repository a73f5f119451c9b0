// JSON from clients, parsed with a bound on nesting depth. JSON.parse itself copes with deep
// nesting, but every later walk over the value (validation, templates, structuredClone,
// JSON.stringify) recurses, and a 200,000-deep `body` overflowed the stack there. Refusing
// deep documents before parsing keeps every recursive walk in the code base safe.

/** Deepest nesting of arrays and objects accepted anywhere a client sends JSON. */
export const MAX_JSON_DEPTH = 64;

/**
 * The nesting depth of a JSON text, scanning at most until it exceeds `limit` (one linear pass;
 * brackets inside strings do not count). Malformed text is not judged here: JSON.parse does that.
 */
export function jsonDepthExceeds(text: string, limit = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 0x5c)
        i++; // backslash: skip the escaped character
      else if (ch === 0x22) inString = false;
    } else if (ch === 0x22) inString = true;
    else if (ch === 0x5b || ch === 0x7b) {
      if (++depth > limit) return true;
    } else if (ch === 0x5d || ch === 0x7d) depth--;
  }
  return false;
}

export class JsonTooDeepError extends Error {
  constructor() {
    super(`JSON is nested deeper than ${MAX_JSON_DEPTH} levels`);
  }
}

/** JSON.parse with the depth bound: throws JsonTooDeepError, or JSON.parse's SyntaxError. */
export function parseJson(text: string): unknown {
  if (jsonDepthExceeds(text)) throw new JsonTooDeepError();
  return JSON.parse(text);
}

// The single registry of field kinds: what `/field/` lists, how a module field's options are
// checked, and how a content value of each kind is validated and normalised.
import { z } from "@hono/zod-openapi";
import { idFromValue, normaliseId } from "../http/ids";

export type FieldDefinition = {
  name: string;
  kind: string;
  label: string;
  helpText: string;
  defaultValue: unknown;
  maxLength: number;
  options: Record<string, unknown>;
  isRequired: boolean;
  isPrivate: boolean;
  isVisible: boolean;
  isMulti: boolean;
  /** Set (and present) only when true: no two live items may hold the same value. */
  isUnique?: true;
};

/**
 * Kinds a field may be `isUnique` on: single values compared as text (case-insensitively),
 * numbers, dates and stamps. Not textarea (long free text) and not bool or related.
 */
export function uniqueProblem(field: FieldDefinition): string | undefined {
  const kind = fieldKinds.get(field.kind);
  if (!kind || !["text", "number", "date", "stamp"].includes(kind.comparison) || field.kind === "textarea") {
    return `isUnique applies to text, email, url, enum, hidden, number, date and stamp fields, not ${field.kind}`;
  }
  if (isMultiField(field)) return "isUnique applies to single-valued fields only";
  return undefined;
}

/** How values of a kind compare in filters, sorts and charts. */
export type Comparison = "text" | "number" | "bool" | "date" | "stamp" | "id";

type ValueCheck = { ok: true; value: unknown } | { ok: false; message: string };

type OptionDoc = { type: string; required?: boolean; description: string };

type FieldKind = {
  type: string;
  name: string;
  description: string;
  options: Record<string, OptionDoc>;
  optionsSchema: z.ZodType<Record<string, unknown>>;
  comparison: Comparison;
  /** Searched by content `query`. */
  textLike: boolean;
  /** Whether `isMulti` may be set (`always`: the value is always an array). */
  multi: "never" | "optional" | "always";
  /**
   * Set on kinds whose values are IDs of items of another module (`options.moduleID`): they are
   * stored as integers, must name live items of that module, and keep that module from deletion.
   */
  holdsReferences?: true;
  /** Checks one (non-null, non-array) value; `field` gives the field-level settings. */
  check(value: unknown, field: FieldDefinition): ValueCheck;
};

const good = (value: unknown): ValueCheck => ({ ok: true, value });
const bad = (message: string): ValueCheck => ({ ok: false, message });

/** RFC 5321's limit on an address (a longer one is refused before any other check). */
const MAX_EMAIL_LENGTH = 254;
/** Longest `url` value: far beyond real links, short enough that no check can be slow. */
const MAX_URL_LENGTH = 8192;
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

export function isValidDate(text: string): boolean {
  const m = DATE.exec(text);
  if (!m) return false;
  const d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3]));
  return d.getUTCFullYear() === +m[1] && d.getUTCMonth() === +m[2] - 1 && d.getUTCDate() === +m[3];
}

/** Parses an RFC 3339 date-time with any offset; answers it in UTC with milliseconds, or null. */
export function normaliseStamp(text: string): string | null {
  const m = RFC3339.exec(text);
  if (!m || !isValidDate(`${m[1]}-${m[2]}-${m[3]}`) || +m[4] > 23 || +m[5] > 59 || +m[6] > 60) return null;
  const ms = Date.parse(text.replace(" ", "T"));
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}

/**
 * `local@domain`: one `@`, no whitespace, a domain with a dot that is neither its first nor its
 * last character. Written as index checks, not a pattern, so it is linear in the length whatever
 * the input (the pattern it replaces backtracked quadratically on `a@....@`).
 */
function isEmailAddress(text: string): boolean {
  if (text.length > MAX_EMAIL_LENGTH || /\s/.test(text)) return false;
  const at = text.indexOf("@");
  if (at < 1 || text.indexOf("@", at + 1) !== -1) return false;
  const domain = text.slice(at + 1);
  const dot = domain.indexOf(".", 1);
  return dot > 0 && dot < domain.length - 1;
}

export function isHttpUrl(text: string): boolean {
  if (text.length > MAX_URL_LENGTH || !/^https?:\/\//i.test(text)) return false;
  try {
    const url = new URL(text);
    return (url.protocol === "http:" || url.protocol === "https:") && url.hostname !== "";
  } catch {
    return false;
  }
}

function decimals(n: number): number {
  if (Number.isInteger(n)) return 0;
  const text = n.toString();
  const exp = /e-(\d+)$/.exec(text);
  if (exp) return Number(exp[1]) + (text.split("e")[0].split(".")[1]?.length ?? 0);
  return text.split(".")[1]?.length ?? 0;
}

/** The number of code points in `text`, counting no further than `limit + 1` (no array built). */
function codePoints(text: string, limit: number): number {
  if (text.length <= limit) return text.length; // code points never outnumber UTF-16 units
  let n = 0;
  for (let i = 0; i < text.length && n <= limit; i++, n++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
  }
  return n;
}

function checkString(value: unknown, field: FieldDefinition, singleLine = false): ValueCheck {
  if (typeof value !== "string") return bad("must be a string");
  if (field.maxLength > 0 && codePoints(value, field.maxLength) > field.maxLength) return bad(`must be at most ${field.maxLength} characters`);
  if (singleLine && /[\r\n]/.test(value)) return bad("must be a single line");
  return good(value);
}

const noOptions = z.object({}).passthrough() as unknown as z.ZodType<Record<string, unknown>>;

const idOption = z.unknown().transform((v, ctx) => {
  const id = idFromValue(v);
  if (id === undefined) ctx.addIssue({ code: "custom", message: "must be a module ID" });
  return String(id);
});

/** The two kinds whose values are contentIDs of another module's items (`options.moduleID`). */
function relatedKind(type: string, name: string, description: string, multi: FieldKind["multi"]): FieldKind {
  return {
    type,
    name,
    description,
    options: { moduleID: { type: "ID", required: true, description: "the target module" } },
    optionsSchema: z.object({ moduleID: idOption }).passthrough(),
    comparison: "id",
    textLike: false,
    multi,
    holdsReferences: true,
    check: (v) => {
      const id = normaliseId(v);
      return id ? good(id) : bad("must be a contentID");
    },
  };
}

const kinds: FieldKind[] = [
  {
    type: "bool",
    name: "Checkbox",
    description: "true or false",
    options: {},
    optionsSchema: noOptions,
    comparison: "bool",
    textLike: false,
    multi: "never",
    check: (v) => (typeof v === "boolean" ? good(v) : bad("must be true or false")),
  },
  {
    type: "date",
    name: "Date",
    description: "a calendar date, YYYY-MM-DD",
    options: {},
    optionsSchema: noOptions,
    comparison: "date",
    textLike: false,
    multi: "optional",
    check: (v) => (typeof v === "string" && isValidDate(v) ? good(v) : bad("must be a date in YYYY-MM-DD form")),
  },
  {
    type: "email",
    name: "Email",
    description: "an email address",
    options: {},
    optionsSchema: noOptions,
    comparison: "text",
    textLike: true,
    multi: "optional",
    check: (v, f) => {
      const s = checkString(v, f, true);
      if (!s.ok) return s;
      return isEmailAddress(v as string) ? s : bad("must be a valid email address");
    },
  },
  {
    type: "enum",
    name: "Select",
    description: "one of a fixed list of values",
    options: { options: { type: "string[]", required: true, description: "the allowed values: non-empty, unique" } },
    optionsSchema: z
      .object({
        options: z
          .array(z.string().min(1, "must not be empty"), "must be an array of strings")
          .min(1, "must list at least one value")
          .refine((list) => new Set(list).size === list.length, "values must be unique"),
      })
      .passthrough(),
    comparison: "text",
    textLike: true,
    multi: "optional",
    check: (v, f) => {
      const allowed = (f.options.options as string[] | undefined) ?? [];
      if (typeof v !== "string") return bad("must be a string");
      return allowed.includes(v) ? good(v) : bad(`must be one of: ${allowed.join(", ")}`);
    },
  },
  {
    type: "hidden",
    name: "Hidden",
    description: "any string, not shown in forms",
    options: {},
    optionsSchema: noOptions,
    comparison: "text",
    textLike: true,
    multi: "optional",
    check: (v, f) => checkString(v, f),
  },
  {
    type: "number",
    name: "Number",
    description: "a JSON number",
    options: {
      min: { type: "number", description: "smallest allowed value" },
      max: { type: "number", description: "largest allowed value" },
      precision: { type: "integer", description: "at most this many decimal places (0..15)" },
    },
    optionsSchema: z
      .object({
        min: z.number().finite().optional(),
        max: z.number().finite().optional(),
        precision: z.number().int().min(0).max(15).optional(),
      })
      .passthrough()
      .refine((o) => o.min === undefined || o.max === undefined || o.min <= o.max, {
        message: "min must not exceed max",
        path: ["min"],
      }),
    comparison: "number",
    textLike: false,
    multi: "optional",
    check: (v, f) => {
      if (typeof v !== "number" || !Number.isFinite(v)) return bad("must be a number");
      const { min, max, precision } = f.options as { min?: number; max?: number; precision?: number };
      if (min !== undefined && v < min) return bad(`must be at least ${min}`);
      if (max !== undefined && v > max) return bad(`must be at most ${max}`);
      if (precision !== undefined && decimals(v) > precision) return bad(`must have at most ${precision} decimal places`);
      return good(v);
    },
  },
  relatedKind("related", "Related record", "the contentID of an item in the target module", "optional"),
  relatedKind("related_multi", "Related records", "an array of contentIDs in the target module", "always"),
  {
    type: "stamp",
    name: "Date and time",
    description: "an RFC 3339 date-time, stored in UTC",
    options: {},
    optionsSchema: noOptions,
    comparison: "stamp",
    textLike: false,
    multi: "optional",
    check: (v) => {
      const s = typeof v === "string" ? normaliseStamp(v) : null;
      return s ? good(s) : bad("must be an RFC 3339 date-time");
    },
  },
  {
    type: "text",
    name: "Text input",
    description: "a single-line string; maxLength applies",
    options: {},
    optionsSchema: noOptions,
    comparison: "text",
    textLike: true,
    multi: "optional",
    check: (v, f) => checkString(v, f),
  },
  {
    type: "textarea",
    name: "Text area",
    description: "a multi-line string; maxLength applies",
    options: {},
    optionsSchema: noOptions,
    comparison: "text",
    textLike: true,
    multi: "optional",
    check: (v, f) => checkString(v, f),
  },
  {
    type: "url",
    name: "URL",
    description: "an absolute http(s) URL",
    options: {},
    optionsSchema: noOptions,
    comparison: "text",
    textLike: true,
    multi: "optional",
    check: (v, f) => {
      const s = checkString(v, f, true);
      if (!s.ok) return s;
      return isHttpUrl(v as string) ? s : bad("must be an absolute http(s) URL");
    },
  },
];

export const fieldKinds: ReadonlyMap<string, FieldKind> = new Map([...kinds].sort((a, b) => a.type.localeCompare(b.type)).map((k) => [k.type, k]));

/** Whether the field's values are IDs of items of another module (its `options.moduleID`). */
export const holdsReferences = (field: Pick<FieldDefinition, "kind">) => fieldKinds.get(field.kind)?.holdsReferences === true;

/** The kinds whose values are such IDs. */
export const referenceKinds = [...fieldKinds.values()].filter((k) => k.holdsReferences).map((k) => k.type);

/** Whether values of this field are arrays. */
export const isMultiField = (field: FieldDefinition) => field.isMulti || field.kind === "related_multi";

/**
 * Validates one field's value (already known not to be null/undefined) and answers its stored form.
 * Multi fields take an array of the kind's values.
 */
export function checkFieldValue(field: FieldDefinition, value: unknown): ValueCheck {
  const kind = fieldKinds.get(field.kind);
  if (!kind) return bad(`unknown kind '${field.kind}'`);
  if (!isMultiField(field)) {
    if (Array.isArray(value)) return bad("must be a single value, not an array");
    return kind.check(value, field);
  }
  if (!Array.isArray(value)) return bad("must be an array");
  const out: unknown[] = [];
  for (let i = 0; i < value.length; i++) {
    const item = value[i];
    const r = item === null ? bad("must not be null") : kind.check(item, field);
    if (!r.ok) return bad(`item ${i}: ${r.message}`);
    out.push(r.value);
  }
  return good(out);
}

/** The public description of a kind, as `/field/` answers it. */
export const describeKind = (k: FieldKind) => ({
  type: k.type,
  name: k.name,
  description: k.description,
  options: k.options,
  multi: k.multi,
});

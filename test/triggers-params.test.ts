// The parameters a triggered job gets: the change spelled out one value per parameter and whole, as
// JSON, always within the bounds of POST /job/ (what does not fit is named in `omitted`).
import { describe, expect, it } from "vitest";
import { PARAMETER_NAME_MAX_CHARS, PARAMETERS_MAX_BYTES, PARAMETERS_MAX_COUNT } from "../src/jobs/schemas";
import type { Module } from "../src/module-model/module";
import { changedFields, triggerParameters } from "../src/triggers/params";

const field = (name: string, kind = "text", extra: Record<string, unknown> = {}) => ({
  name,
  kind,
  label: name,
  helpText: "",
  defaultValue: null,
  maxLength: 0,
  options: {},
  isRequired: false,
  isPrivate: false,
  isVisible: true,
  isMulti: false,
  ...extra,
});

const moduleOf = (fields: ReturnType<typeof field>[]) => ({ id: 7, fields }) as unknown as Module;

const bytes = (params: Record<string, string>) => new TextEncoder().encode(JSON.stringify(params)).byteLength;

describe("triggered job parameters", () => {
  it("spell out values as text (related IDs as strings, arrays as JSON) and leave out empty ones", () => {
    const m = moduleOf([
      field("title"),
      field("value", "number"),
      field("won", "bool"),
      field("account", "related"),
      field("tags", "text", { isMulti: true }),
      field("notes"),
    ]);
    const params = triggerParameters(m, {
      event: "content.created",
      moduleID: "7",
      contentID: "42",
      data: { title: "Acme", value: 12.5, won: false, account: 9, tags: ["a", "b"], notes: "" },
    });
    expect(params).toEqual({
      event: "content.created",
      moduleID: "7",
      contentID: "42",
      item_title: "Acme",
      item_value: "12.5",
      item_won: "false",
      item_account: "9",
      item_tags: '["a","b"]',
      item: JSON.stringify({ title: "Acme", value: 12.5, won: false, account: "9", tags: ["a", "b"] }),
    });
  });

  it("name the changed fields of an update, treating an empty value as none", () => {
    const m = moduleOf([field("a"), field("b"), field("c")]);
    expect(changedFields(m, { a: "x", b: "", c: "same" }, { a: "y", c: "same" })).toEqual(["a"]);
    expect(changedFields(m, { a: "x" }, { a: "x", b: "new" })).toEqual(["b"]);
  });

  it(`stay within ${PARAMETERS_MAX_COUNT} names of ${PARAMETER_NAME_MAX_CHARS} characters and ${PARAMETERS_MAX_BYTES} bytes, naming what was left out`, () => {
    const long = "f".repeat(60); // item_ + 60 characters is too long a parameter name
    const fields = [field(long), field("big", "textarea"), ...Array.from({ length: 110 }, (_, i) => field(`x${i}`))];
    const data: Record<string, unknown> = { [long]: "v", big: "é".repeat(20_000) };
    for (let i = 0; i < 110; i++) data[`x${i}`] = `value ${i}`;
    const previous = { ...data, big: "ü".repeat(20_000) };
    const params = triggerParameters(moduleOf(fields), { event: "content.updated", moduleID: "7", contentID: "1", data, previous, changed: ["big"] });
    expect(Object.keys(params).length).toBeLessThanOrEqual(PARAMETERS_MAX_COUNT);
    expect(Object.keys(params).every((n) => n.length <= PARAMETER_NAME_MAX_CHARS)).toBe(true);
    expect(bytes(params)).toBeLessThanOrEqual(PARAMETERS_MAX_BYTES);
    expect(params.event).toBe("content.updated");
    expect(params.item_big).toBe("é".repeat(20_000));
    const omitted = JSON.parse(params.omitted);
    expect(omitted).toContain(`item_${long}`);
    expect(omitted).toContain("item");
    expect(omitted.length).toBeGreaterThan(10);
    for (const name of omitted) expect(params[name]).toBeUndefined();
  });
});

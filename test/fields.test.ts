import { describe, expect, it } from "vitest";
import { call } from "./helpers";

describe("GET /field/", () => {
  it("lists the twelve kinds sorted by type, each describing its options", async () => {
    const res = await call("/field/");
    expect(res.status).toBe(200);
    const types = res.json.response.map((k: any) => k.type);
    expect(types).toEqual(["bool", "date", "email", "enum", "hidden", "number", "related", "related_multi", "stamp", "text", "textarea", "url"]);
    const enumKind = res.json.response.find((k: any) => k.type === "enum");
    expect(enumKind.options.options).toMatchObject({ type: "string[]", required: true });
    expect(res.json.response.find((k: any) => k.type === "number").options).toHaveProperty("precision");
  });

  it("answers one kind, and 404 for an unknown one", async () => {
    const res = await call("/field/text");
    expect(res.status).toBe(200);
    expect(res.json.response).toMatchObject({ type: "text", name: "Text input" });
    const missing = await call("/field/nope");
    expect(missing.status).toBe(404);
    expect(missing.json.error.code).toBe("not_found");
  });
});

// The closed list of error codes (src/http/errors.ts) is what the README documents and what the
// OpenAPI document's error envelope allows.
import { describe, expect, it } from "vitest";
import readme from "../README.md?raw";
import { errorTable, tableIn } from "../scripts/error-table.mjs";
import { ERROR_CODES } from "../src/http/errors";
import { call } from "./helpers";

describe("error codes", () => {
  it("the README's table is the list (regenerate it with `node scripts/error-table.mjs --write`)", () => {
    const documented = tableIn(readme);
    expect(documented, "README.md has the error-codes markers").toBeDefined();
    expect(documented).toBe(errorTable(ERROR_CODES));
  });

  it("the error envelope's code in /openapi.json is an enum of the list", async () => {
    const res = await call("/openapi.json", { token: null });
    const envelope = res.json.components.schemas.Error;
    expect([...envelope.properties.error.properties.code.enum].sort()).toEqual(Object.keys(ERROR_CODES).sort());
  });

  it("answers a code with the status the list gives it", async () => {
    const unknown = await call("/no-such-route", { token: null });
    expect(unknown.status).toBe(ERROR_CODES.not_found.status);
    expect(unknown.json.error.code).toBe("not_found");
    const noToken = await call("/module/", { token: null });
    expect(noToken.status).toBe(ERROR_CODES.unauthorized.status);
    expect(noToken.json.error.code).toBe("unauthorized");
    const badId = await call("/module/abc");
    expect(badId.status).toBe(ERROR_CODES.invalid_id.status);
    expect(badId.json.error.code).toBe("invalid_id");
  });
});

// Names that exist on Object.prototype must be unknown fields everywhere, never a 500.
import { describe, expect, it } from "vitest";
import { call, makeModule } from "./helpers";

describe("field names that shadow Object.prototype", () => {
  it("are unknown fields in filter, sort and charts", async () => {
    const m = await makeModule("Proto", [
      { name: "title", kind: "text" },
      { name: "n", kind: "number" },
    ]);
    const base = `/module/${m.moduleID}`;
    const paths = [
      "/content?filter=__proto__%20eq%201",
      "/content?filter=constructor%20eq%201",
      "/content?filter=toString%20eq%201",
      "/content?sort=__proto__",
      "/content?sort=constructor",
      "/chart?kind=bar&groupBy=__proto__",
      "/chart?kind=bar&groupBy=constructor",
      "/chart?kind=bar&count=constructor",
      "/chart?kind=line&xAxis=constructor&yAxis=n",
      "/chart?kind=bar&groupBy=title&yAxis=__proto__",
      "/chart?kind=bar&sum=__proto__&xAxis=title",
    ];
    for (const path of paths) {
      const res = await call(base + path);
      expect(res.status, path).toBe(400);
      expect(res.json.error.code, path).toBeTypeOf("string");
    }
  });
});

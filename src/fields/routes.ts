import { z, type OpenAPIHono } from "@hono/zod-openapi";
import { ok } from "../http/envelope";
import { notFound } from "../http/errors";
import { defineRoute } from "../http/route";
import { responseOf } from "../http/schemas";
import type { AppEnv } from "../http/types";
import { describeKind, fieldKinds } from "./registry";

const kindSchema = z
  .object({
    type: z.string().openapi({ enum: [...fieldKinds.keys()] }),
    name: z.string(),
    description: z.string(),
    options: z.record(z.string(), z.object({ type: z.string(), required: z.boolean().optional(), description: z.string() })),
    multi: z.enum(["never", "optional", "always"]),
  })
  .openapi("FieldKind");

export function registerFieldRoutes(app: OpenAPIHono<AppEnv>) {
  defineRoute(app, { method: "get", path: "/field/", tag: "Fields", summary: "List field kinds", response: responseOf(z.array(kindSchema)) }, (c) =>
    ok(c, [...fieldKinds.values()].map(describeKind)),
  );
  defineRoute(
    app,
    {
      method: "get",
      path: "/field/{typeID}",
      tag: "Fields",
      summary: "Describe one field kind",
      strings: ["typeID"],
      response: responseOf(kindSchema),
    },
    (c, { params }) => {
      const kind = fieldKinds.get(params.typeID);
      if (!kind) throw notFound(`Field kind '${params.typeID}'`);
      return ok(c, describeKind(kind));
    },
  );
}

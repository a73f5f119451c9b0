// GET /module/{moduleID}/chart: one of the contract's four aggregates, run in D1, answered as
// c3.js / billboard.js `columns` JSON or, with format=svg, as an SVG drawn in the Worker.
import { z, type OpenAPIHono } from "@hono/zod-openapi";
import { getDb } from "../db/client";
import { ok } from "../http/envelope";
import { defineRoute } from "../http/route";
import { responseOf } from "../http/schemas";
import type { AppEnv } from "../http/types";
import { cachedResult } from "../content/result-cache";
import { fieldKinds } from "../fields/registry";
import { getModule } from "../module-model/module";
import { buildAnswer } from "./answer";
import { aggregateKey, BUCKETS, CHART_KINDS, chartQuery, MAX_POINTS, planChart } from "./params";
import { runAggregate } from "./query";
import { renderSvg } from "./svg";

const SVG_TYPE = "image/svg+xml; charset=utf-8";

const cell = z.union([z.string(), z.number(), z.boolean(), z.null()]);

export const chartAnswer = z
  .object({
    kind: z.enum(CHART_KINDS),
    data: z.array(z.array(cell)).openapi({
      description: "c3.js / billboard.js `columns`",
      example: [
        ["France", 12],
        ["Slovenia", 10],
        [null, 2],
      ],
    }),
    fields: z.record(
      z.string(),
      z.object({
        name: z.string(),
        kind: z.string().openapi({ enum: [...fieldKinds.keys(), "id"], description: "the field's kind; `id` for the item's own id and userID" }),
        min: z.number().optional(),
        max: z.number().optional(),
        bucket: z.enum(BUCKETS).optional(),
      }),
    ),
    meta: z.object({
      name: z.string(),
      description: z.string(),
      kind: z.enum(CHART_KINDS),
      module: z.string(),
      x: z.string(),
      y: z.string(),
      xmin: z.string(),
      xmax: z.string(),
      groupby: z.string(),
      sum: z.string(),
      count: z.string(),
      filter: z.string(),
    }),
  })
  .openapi("Chart");

export function registerChartsRoutes(app: OpenAPIHono<AppEnv>) {
  defineRoute(
    app,
    {
      method: "get",
      path: "/module/{moduleID}/chart",
      tag: "Charts",
      summary: "Aggregate a module's content for a chart (JSON columns or SVG)",
      description:
        "Requires the `read` scope. Which aggregate runs: 1. `groupBy` (sum of `sum`, or a count); 2. `count`; " +
        "3. `sum` by `xAxis`; 4. the raw (`xAxis`, `yAxis`) series, at most " +
        `${MAX_POINTS} points. With \`format=svg\` the answer is an \`image/svg+xml\` drawing.`,
      ids: ["moduleID"],
      query: chartQuery,
      response: responseOf(chartAnswer),
      alsoContent: { "image/svg+xml": "with `format=svg`: the chart drawn as an SVG image" },
    },
    async (c, { ids, query }) => {
      const db = getDb(c.env);
      const module = await getModule(db, ids.moduleID);
      const plan = planChart(module, query);
      // Exact per content version (see content/result-cache.ts): dashboards poll the same charts.
      const aggregate = await cachedResult(module, aggregateKey(plan), () => runAggregate(db, module, plan));
      const { answer, picture } = buildAnswer(plan, aggregate);
      if (plan.format === "svg") {
        return c.body(renderSvg(picture, plan.width, plan.height), 200, { "content-type": SVG_TYPE });
      }
      return ok(c, answer);
    },
  );
}

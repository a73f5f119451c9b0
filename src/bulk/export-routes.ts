// GET /module/{moduleID}/export (see docs/api/import-export.md, "Export"): every matching item as a
// CSV, JSON or NDJSON download, streamed page by page (export.ts).
import { z, type OpenAPIHono } from "@hono/zod-openapi";
import { contentSchema } from "../content/schemas";
import { getDb } from "../db/client";
import { defineRoute } from "../http/route";
import type { AppEnv } from "../http/types";
import { CONTENT_TYPES, EXPORT_FORMATS, exportLimits, openExport } from "./export";

const PATH = "/module/{moduleID}/export";

const exportQuery = z.object({
  format: z.enum(EXPORT_FORMATS).optional().openapi({ description: "`csv` (default), `json` (one array) or `ndjson` (one item a line)", example: "csv" }),
  query: z.string().optional().openapi({ description: "as for the content listing: words that must all occur in the item's text-like values" }),
  filter: z.string().optional().openapi({ description: "as for the content listing, e.g. `country eq 'France' and value ge 1000`", example: "" }),
  sort: z.string().optional().openapi({ description: "as for the content listing: `name [asc|desc], ...`; default `id desc`", example: "id desc" }),
  fields: z.string().optional().openapi({
    description:
      "comma-separated field names to export, in that order; default every field in the module's order. `contentID`, `createdAt`, `updatedAt` and `userID` are always exported.",
    example: "",
  }),
  bom: z
    .enum(["true", "false"])
    .optional()
    .openapi({ description: "`true`: a CSV starts with a UTF-8 byte order mark (for spreadsheet programs)", example: "false" }),
});

const description =
  "Requires the `read` scope. Streams every item the content listing would show with the same `query`, `filter` and `sort`, " +
  "in the same order, as a download (`Content-Disposition: attachment`). Not enveloped: `json` is a bare array of items as " +
  "`GET /module/{moduleID}/content/{contentID}` answers them, `ndjson` one such item per line, `csv` a header row " +
  "(`contentID`, the fields, `createdAt`, `updatedAt`, `userID`) and one record per item with values as the content API accepts " +
  "them (multi values as JSON arrays; text cells that would start a spreadsheet formula get a leading `'`). " +
  `At most ${exportLimits.maxRows} items (else 400 \`export_too_large\`); \`X-Total-Count\` is the number of items matching when the export started. ` +
  "Errors are answered as JSON before anything is streamed.";

export function registerExportRoutes(app: OpenAPIHono<AppEnv>) {
  defineRoute(
    app,
    {
      method: "get",
      path: PATH,
      tag: "Import and export",
      summary: "Export a module's content as CSV, JSON or NDJSON (streamed)",
      description,
      ids: ["moduleID"],
      query: exportQuery,
      response: z.array(contentSchema),
    },
    async (c, { ids, query }) => {
      const opened = await openExport(getDb(c.env), ids.moduleID, { ...query, bom: query.bom === "true" }, { requestId: c.get("requestId") });
      return new Response(opened.body, {
        status: 200,
        headers: {
          "content-type": CONTENT_TYPES[opened.format],
          "content-disposition": opened.filename,
          "x-total-count": String(opened.count),
          "cache-control": "no-store",
        },
      });
    },
  );
  documentDownloads(app);
}

/**
 * defineRoute documents a JSON success answer; this one is also CSV or NDJSON, chosen by `format`,
 * with the download's headers. The route's entry in the registry is completed here.
 */
function documentDownloads(app: OpenAPIHono<AppEnv>) {
  const entry = app.openAPIRegistry.definitions.find((d) => d.type === "route" && d.route.path === PATH && d.route.method === "get");
  if (entry?.type !== "route") throw new Error(`${PATH} is not registered`);
  const ok = entry.route.responses[200];
  if (!ok || "$ref" in ok) throw new Error(`${PATH} documents no 200`);
  ok.description = "The items, as the format asks (streamed)";
  ok.content = {
    [CONTENT_TYPES.json.split(";")[0]]: { schema: z.array(contentSchema) },
    [CONTENT_TYPES.ndjson.split(";")[0]]: { schema: { type: "string", description: "one item (as in `application/json`) per line" } },
    [CONTENT_TYPES.csv.split(";")[0]]: { schema: { type: "string", description: "RFC 4180: a header row, then one CRLF-terminated record per item" } },
  };
  ok.headers = {
    "Content-Disposition": { description: '`attachment; filename="<module>-<YYYY-MM-DD>.<format>"` (and `filename*` in UTF-8)', schema: { type: "string" } },
    "X-Total-Count": { description: "items matching when the export started", schema: { type: "integer" } },
  };
}

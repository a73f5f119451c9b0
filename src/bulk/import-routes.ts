// /module/{moduleID}/import (a job) and /job/{jobID}/report (its rejected rows); docs/api/import-export.md, "Import".
import type { OpenAPIHono } from "@hono/zod-openapi";
import { getDb } from "../db/client";
import { ok } from "../http/envelope";
import { defineRoute } from "../http/route";
import { responseOf } from "../http/schemas";
import type { AppEnv } from "../http/types";
import { jobSchema } from "../jobs/schemas";
import { getModule } from "../module-model/module";
import { IMPORT_MAX_BYTES, IMPORT_MAX_COLUMNS, IMPORT_MAX_MULTIPART_BYTES, IMPORT_MAX_ROWS } from "./import-limits";
import { importQuery, parseOptions } from "./import-options";
import { reportResponse } from "./import-report";
import { startImport } from "./import-upload";

const tag = "Import and export";
const MiB = (n: number) => `${n / 1024 / 1024} MiB`;

export function registerImportRoutes(app: OpenAPIHono<AppEnv>) {
  defineRoute(
    app,
    {
      method: "post",
      path: "/module/{moduleID}/import",
      tag,
      summary: "Import a file of records into a module, as a job",
      description:
        "Requires the `write` scope. The file is the body (`text/csv`, `application/json` — an array of objects —, `application/x-ndjson`) " +
        `or a multipart form's file part. At most ${MiB(IMPORT_MAX_BYTES)} as the body (${MiB(IMPORT_MAX_MULTIPART_BYTES)} as a form part), ` +
        `${IMPORT_MAX_ROWS} rows and ${IMPORT_MAX_COLUMNS} columns. Answers 202 with the import job: GET /job/{jobID} shows its progress ` +
        "(rows done / total) and `import` counts, its log each batch and each rejected row, GET /job/{jobID}/report the rejected rows as CSV.",
      ids: ["moduleID"],
      query: importQuery,
      fileBody: {
        description: "the file",
        contentTypes: ["text/csv", "application/json", "application/x-ndjson", "multipart/form-data"],
      },
      status: 202,
      response: responseOf(jobSchema),
      errors: {
        413: "The file is over the size or row limit",
        415: "Not CSV, JSON, NDJSON or a multipart form",
      },
    },
    async (c, { ids, query }) => {
      const module = await getModule(getDb(c.env), ids.moduleID);
      const options = parseOptions(module, query);
      return ok(c, await startImport(c, module, options), 202);
    },
  );

  defineRoute(
    app,
    {
      method: "get",
      path: "/job/{jobID}/report",
      tag,
      summary: "An import job's rejected rows as CSV, with `_row` and `_error` columns",
      description:
        "Requires the `read` scope. The file's columns with each rejected row's cells as the file had them, then `_row` (its number in the file, 1 = the first record after the header) and `_error` (\"column 'X': message; ...\"). Fix the rows and import the report again: `_row` and `_error` are ignored. While the import runs, the rows rejected so far.",
      ids: ["jobID"],
      alsoContent: { "text/csv": "the rejected rows, with `_row` and `_error` columns" },
    },
    async (c, { ids }) => reportResponse(c.env, ids.jobID),
  );
}

// `GET /job/{jobID}/report`: an import job's rejected rows as CSV — the file's own columns, the
// row's cells as the file had them, and two more columns: `_row` (its number in the file) and
// `_error` (each problem as "column 'X': message"). Fix the cells and send the report back as a
// new import: `_row` and `_error` are ignored by every import (no field name starts with `_`).
// Streamed page by page from the job's Durable Object, so a report of 100,000 rows is never held.
import { ApiError, notFound } from "../http/errors";
import { jobStub } from "../jobs/queue";
import { CSV_TYPE, csvCell, csvRecords, neutraliseFormula, UTF8_BOM } from "./csv";
import { IMPORT_REPORT_PAGE } from "./import-limits";
import { describeProblems, type RejectedRow } from "./import-model";
import { REPORT_COLUMNS } from "./import-values";

type ReportPage = { columns: string[]; format: string; rows: RejectedRow[] };

/** One report line: CSV cells as the file had them (its own text), JSON values as an export writes them. */
function line(columns: string[], r: RejectedRow, csvSource: boolean): string[] {
  const cells = columns.map((_, i) => {
    const v = r.cells[i];
    if (csvSource) return v === undefined || v === null ? "" : String(v);
    return csvCell(v);
  });
  return [...cells, String(r.row), neutraliseFormula(describeProblems(r.problems))];
}

/** The report's answer, streamed; 404 for an unknown job or a job that is not an import. */
export async function reportResponse(env: Env, jobID: number): Promise<Response> {
  const stub = jobStub(env, String(jobID));
  const read = async (after: number) => (await stub.importReport(after, IMPORT_REPORT_PAGE)) as ReportPage | "not_import" | null;
  const first = await read(0);
  if (first === null) throw notFound(`Job ${jobID}`);
  if (first === "not_import") throw new ApiError("not_found", `Job ${jobID} is not an import; only import jobs have a report`);
  const { columns } = first;
  // A CSV file's cells are written back as its own text; a JSON file's values as an export writes them.
  const csvSource = first.format === "csv";
  let page: RejectedRow[] | null = first.rows;
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(encoder.encode(UTF8_BOM + csvRecords([[...columns, ...REPORT_COLUMNS]])));
    },
    async pull(controller) {
      if (page === null || page.length === 0) {
        controller.close();
        return;
      }
      controller.enqueue(encoder.encode(csvRecords(page.map((r) => line(columns, r, csvSource)))));
      if (page.length < IMPORT_REPORT_PAGE) {
        page = null;
        return;
      }
      const next = await read(page[page.length - 1].row);
      page = next && next !== "not_import" ? next.rows : null;
    },
  });
  return new Response(body, {
    status: 200,
    headers: { "content-type": CSV_TYPE, "content-disposition": `attachment; filename="import-${jobID}-rejected.csv"` },
  });
}

// /job/: create, list (from the D1 mirror), read, logs, update, cancel.
import type { OpenAPIHono } from "@hono/zod-openapi";
import { created, ok, success } from "../http/envelope";
import { notFound } from "../http/errors";
import { parseAfter, parsePaging } from "../http/paging";
import { defineRoute } from "../http/route";
import { responseOf, successSchema } from "../http/schemas";
import type { AppEnv } from "../http/types";
import { redactLogData } from "./redact";
import type { LogLine } from "./model";
import { jobStub } from "./queue";
import { createJobBody, jobListQuery, jobListSchema, jobLogsQuery, jobLogsSchema, jobSchema, updateJobBody } from "./schemas";
import { createJob, getJob, listJobs, unwrap, updateJob } from "./service";

const tag = "Jobs";

export function registerJobsRoutes(app: OpenAPIHono<AppEnv>) {
  defineRoute(
    app,
    {
      method: "get",
      path: "/job/",
      tag,
      summary: "List jobs, newest first (from the D1 mirror); filter by status, workflowID, scheduleID",
      query: jobListQuery,
      response: responseOf(jobListSchema),
    },
    async (c, { query }) => {
      const page = parsePaging(query);
      const { count, jobs } = await listJobs(c.env, query, page);
      return ok(c, { meta: { page: page.page, perPage: page.perPage, count }, jobs });
    },
  );

  defineRoute(
    app,
    {
      method: "post",
      path: "/job/",
      tag,
      summary: "Create a job: a run of a snapshot of the workflow, status queued",
      description:
        "Requires the `write` scope. `parameters`: at most 100, names of at most 64 characters, 64 KiB as JSON (else 400). An `Idempotency-Key` header makes a repeat of the same request within 24 h answer the first job (200); the same key with a different body is a 409.",
      body: createJobBody,
      status: 201,
      alsoStatus: { status: 200, description: "A repeat with the same Idempotency-Key: the job the first request made" },
      response: responseOf(jobSchema),
      errors: { 409: "Idempotency-Key reused with a different request" },
    },
    async (c, { body }) => {
      const { job, created: isNew } = await createJob(c.env, c.get("user").sub, body, c.req.header("idempotency-key"));
      return isNew ? created(c, job) : ok(c, job);
    },
  );

  defineRoute(app, { method: "get", path: "/job/{jobID}", tag, summary: "Read a job", ids: ["jobID"], response: responseOf(jobSchema) }, async (c, { ids }) =>
    ok(c, await getJob(c.env, ids.jobID)),
  );

  defineRoute(
    app,
    {
      method: "get",
      path: "/job/{jobID}/logs",
      tag,
      summary: "A job's log, oldest first; `after` for tailing",
      description: 'Requires the `read` scope. For a token without `admin`, credential header values inside `data` (any `headers` object) read "[redacted]".',
      ids: ["jobID"],
      query: jobLogsQuery,
      response: responseOf(jobLogsSchema),
    },
    async (c, { ids, query }) => {
      const page = parsePaging(query);
      const after = parseAfter(query.after);
      const found = (await jobStub(c.env, String(ids.jobID)).logs({ offset: page.offset, limit: page.perPage, after })) as {
        count: number;
        logs: LogLine[];
      } | null;
      if (!found) throw notFound(`Job ${ids.jobID}`);
      // The engine redacts what it logs; lines clients wrote (or older lines) are redacted here.
      const logs = c.get("user").scopes.has("admin") ? found.logs : found.logs.map((l) => ({ ...l, data: redactLogData(l.data) }));
      return ok(c, { meta: { page: page.page, perPage: page.perPage, count: found.count }, logs });
    },
  );

  defineRoute(
    app,
    {
      method: "post",
      path: "/job/{jobID}",
      tag,
      summary: "Append log lines, change status, or (while queued) workflowID, startAt, parameters",
      ids: ["jobID"],
      body: updateJobBody,
      response: responseOf(jobSchema),
      errors: { 409: "Transition not allowed, or the job is no longer queued" },
    },
    async (c, { ids, body }) => {
      const startAt = body.startAt === null ? Date.now() : body.startAt;
      return ok(c, await updateJob(c.env, ids.jobID, { ...body, startAt }));
    },
  );

  defineRoute(
    app,
    {
      method: "delete",
      path: "/job/{jobID}",
      tag,
      summary: "Cancel a queued or running job",
      ids: ["jobID"],
      response: successSchema,
      errors: { 409: "The job is already final" },
    },
    async (c, { ids }) => {
      unwrap(await jobStub(c.env, String(ids.jobID)).cancel(), ids.jobID);
      return success(c);
    },
  );
}

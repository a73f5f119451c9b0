// /schedule/: create, list, read, update, delete; trigger now, backfill a range; the schedule's log.
import { z, type OpenAPIHono } from "@hono/zod-openapi";
import { created, ok, success } from "../http/envelope";
import { conflict } from "../http/errors";
import { parseAfter, parsePaging } from "../http/paging";
import { defineRoute } from "../http/route";
import { responseOf, successSchema } from "../http/schemas";
import type { AppEnv } from "../http/types";
import { jobSchema } from "../jobs/schemas";
import { getJob } from "../jobs/service";
import { BACKFILL_MAX_FIRES } from "./limits";
import {
  backfillBody,
  backfillSchema,
  createScheduleBody,
  runSchema,
  scheduleListQuery,
  scheduleListSchema,
  scheduleLogQuery,
  scheduleLogSchema,
  scheduleSchema,
  triggerBody,
  updateScheduleBody,
} from "./schemas";
import { backfillSchedule, createSchedule, deleteSchedule, getSchedule, listSchedules, scheduleLog, triggerSchedule, updateSchedule } from "./service";

const tag = "Schedules";

// A union, not `.nullable()`: on a registered schema the generator writes `allOf` with the reference, which null never matches.
const triggerSchema = runSchema.extend({ job: z.union([jobSchema, z.null()]) });

export function registerSchedulesRoutes(app: OpenAPIHono<AppEnv>) {
  defineRoute(
    app,
    {
      method: "get",
      path: "/schedule/",
      tag,
      summary: "List schedules, oldest first",
      query: scheduleListQuery,
      response: responseOf(scheduleListSchema),
    },
    async (c, { query }) => {
      const page = parsePaging(query);
      const { count, schedules } = await listSchedules(c.env, query, page);
      return ok(c, { meta: { page: page.page, perPage: page.perPage, count }, schedules });
    },
  );

  defineRoute(
    app,
    {
      method: "post",
      path: "/schedule/",
      tag,
      summary: "Create a schedule: a workflow started on a cron spec in a time zone",
      description:
        "Requires the `write` scope. `cron` and `workflowID` are required; `timezone` defaults to UTC, `overlap` to skip, `catchupWindow` to 60 s. Jobs it starts run as the token's subject.",
      body: createScheduleBody,
      status: 201,
      response: responseOf(scheduleSchema),
    },
    async (c, { body }) => created(c, await createSchedule(c.env, c.get("user").sub, body)),
  );

  defineRoute(
    app,
    {
      method: "get",
      path: "/schedule/{scheduleID}",
      tag,
      summary: "Read a schedule, with its next five fire times and its last jobs",
      ids: ["scheduleID"],
      response: responseOf(scheduleSchema),
    },
    async (c, { ids }) => ok(c, await getSchedule(c.env, ids.scheduleID)),
  );

  defineRoute(
    app,
    {
      method: "post",
      path: "/schedule/{scheduleID}",
      tag,
      summary: "Change a schedule (only the fields sent); the next fire time is recomputed",
      description:
        "Requires the `write` scope. A change of `cron`, `timezone`, `startAt` or `endAt`, or a resume (`paused: false`), counts fire times from now on: none before it is caught up. `startAt`/`endAt` null clear them.",
      ids: ["scheduleID"],
      body: updateScheduleBody,
      response: responseOf(scheduleSchema),
      errors: { 409: "Changed by another request at the same time; retry" },
    },
    async (c, { ids, body }) => ok(c, await updateSchedule(c.env, ids.scheduleID, body)),
  );

  defineRoute(
    app,
    {
      method: "delete",
      path: "/schedule/{scheduleID}",
      tag,
      summary: "Delete a schedule (jobs it started keep running)",
      ids: ["scheduleID"],
      response: successSchema,
    },
    async (c, { ids }) => {
      await deleteSchedule(c.env, ids.scheduleID);
      return success(c);
    },
  );

  defineRoute(
    app,
    {
      method: "post",
      path: "/schedule/{scheduleID}/trigger",
      tag,
      summary: "Start one job now (fire time = now), obeying the overlap policy",
      description:
        "Requires the `write` scope. Works while paused and outside startAt/endAt. 201 with `action: started` and the job; 200 when the overlap policy skipped or buffered it (`job` null). `overlap` overrides the schedule's policy for this start.",
      ids: ["scheduleID"],
      body: triggerBody,
      status: 201,
      alsoStatus: { status: 200, description: "The overlap policy skipped or buffered the start (`job` null)" },
      response: responseOf(triggerSchema),
      errors: { 409: "The schedule's workflow no longer exists" },
    },
    async (c, { ids, body }) => {
      const run = await triggerSchedule(c.env, ids.scheduleID, body.overlap);
      if (run.action === "failed") {
        throw conflict(`Schedule ${ids.scheduleID} cannot start a job: ${run.reason}`, [{ path: "workflowID", message: run.reason ?? "" }], "workflow_missing");
      }
      const job = run.jobID === null ? null : await getJob(c.env, Number(run.jobID));
      return run.action === "started" ? created(c, { ...run, job }) : ok(c, { ...run, job });
    },
  );

  defineRoute(
    app,
    {
      method: "post",
      path: "/schedule/{scheduleID}/backfill",
      tag,
      summary: `Start the jobs of every fire time in [from, to] (at most ${BACKFILL_MAX_FIRES}), obeying the overlap policy`,
      description: `Requires the \`write\` scope. Fire times come from \`cron\` and \`timezone\` alone (paused, startAt and endAt do not apply). A fire time that already has a job answers it (\`existing\`): a repeated backfill starts nothing twice. More than ${BACKFILL_MAX_FIRES} fire times, \`to\` before \`from\` or in the future: 400. Under \`skip\` only the first job starts while it runs; send \`overlap: allow_all\` to start every one.`,
      ids: ["scheduleID"],
      body: backfillBody,
      response: responseOf(backfillSchema),
    },
    async (c, { ids, body }) => ok(c, { runs: await backfillSchedule(c.env, ids.scheduleID, body) }),
  );

  defineRoute(
    app,
    {
      method: "get",
      path: "/schedule/{scheduleID}/log",
      tag,
      summary: "The schedule's log (fire times started, skipped, buffered, missed, failed), oldest first; `after` for tailing",
      description: "Requires the `read` scope. The newest 1,000 lines are kept.",
      ids: ["scheduleID"],
      query: scheduleLogQuery,
      response: responseOf(scheduleLogSchema),
    },
    async (c, { ids, query }) => {
      const page = parsePaging(query);
      const after = parseAfter(query.after);
      const found = await scheduleLog(c.env, ids.scheduleID, { offset: page.offset, limit: page.perPage, after });
      return ok(c, { meta: { page: page.page, perPage: page.perPage, count: found.count }, logs: found.logs });
    },
  );
}

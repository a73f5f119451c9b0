import { z, type OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { getDb } from "../db/client";
import { created, ok, success } from "../http/envelope";
import { defineRoute } from "../http/route";
import { responseOf, successSchema } from "../http/schemas";
import type { AppEnv } from "../http/types";
import { armDateTriggers } from "../triggers/date-dispatch";
import { triggerInputSchema } from "../triggers/schemas";
import { taskInputDoc, workflowBody, workflowSchema } from "./schemas";
import { createWorkflow, deleteWorkflow, getWorkflow, listWorkflows, presentWorkflow, updateWorkflow } from "./service";

const tag = "Workflows";

const reader = (c: Context<AppEnv>) => ({ admin: c.get("user").scopes.has("admin") });

const REDACTION_NOTE =
  'Requires the `read` scope. For a token without `admin`, the values of credential headers of http tasks (authorization, proxy-authorization, cookie, set-cookie, names containing token, secret or key) read "[redacted]" unless they hold only templates.';

export function registerWorkflowsRoutes(app: OpenAPIHono<AppEnv>) {
  app.openAPIRegistry.registerComponent("schemas", "WorkflowTaskInput", taskInputDoc);
  app.openAPIRegistry.register("WorkflowTriggerInput", triggerInputSchema);
  defineRoute(
    app,
    {
      method: "get",
      path: "/workflow/",
      tag,
      summary: "List workflows, oldest first",
      description: REDACTION_NOTE,
      response: responseOf(z.array(workflowSchema)),
    },
    async (c) =>
      ok(
        c,
        (await listWorkflows(getDb(c.env))).map((w) => presentWorkflow(w, reader(c))),
      ),
  );
  defineRoute(
    app,
    {
      method: "post",
      path: "/workflow/",
      tag,
      summary: "Create a workflow",
      scope: "admin",
      body: workflowBody,
      status: 201,
      response: responseOf(workflowSchema),
    },
    async (c, { body }) => {
      const workflow = await createWorkflow(getDb(c.env), body, c.env.HTTP_TASK_ALLOW_HOSTS);
      if (workflow.triggers?.some((t) => t.on === "content.date")) await armDateTriggers(c.env, workflow.id);
      return created(c, presentWorkflow(workflow, reader(c)));
    },
  );
  defineRoute(
    app,
    {
      method: "get",
      path: "/workflow/{workflowID}",
      tag,
      summary: "Read a workflow",
      description: REDACTION_NOTE,
      ids: ["workflowID"],
      response: responseOf(workflowSchema),
    },
    async (c, { ids }) => ok(c, presentWorkflow(await getWorkflow(getDb(c.env), ids.workflowID), reader(c))),
  );
  defineRoute(
    app,
    {
      method: "post",
      path: "/workflow/{workflowID}",
      tag,
      summary: "Replace a workflow (jobs already created keep the version they started with)",
      scope: "admin",
      ids: ["workflowID"],
      body: workflowBody,
      response: responseOf(workflowSchema),
    },
    async (c, { ids, body }) => {
      const workflow = await updateWorkflow(getDb(c.env), ids.workflowID, body, c.env.HTTP_TASK_ALLOW_HOSTS);
      // New date triggers get their clock at once (kept ones keep theirs; removed ones stop on their next wake).
      if (workflow.triggers?.some((t) => t.on === "content.date")) await armDateTriggers(c.env, workflow.id);
      return ok(c, presentWorkflow(workflow, reader(c)));
    },
  );
  defineRoute(
    app,
    {
      method: "delete",
      path: "/workflow/{workflowID}",
      tag,
      summary: "Delete a workflow",
      scope: "admin",
      ids: ["workflowID"],
      response: successSchema,
      errors: { 409: "The workflow has queued or running jobs" },
    },
    async (c, { ids }) => {
      await deleteWorkflow(getDb(c.env), ids.workflowID);
      return success(c);
    },
  );
}

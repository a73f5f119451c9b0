import { describe, expect, it } from "vitest";
import { call } from "./helpers";
import { createJob, expectMirrorMatches, getJob, inspect, logsOf, makeJob, makeWorkflow, mirrorRow } from "./jobs-helpers";

const FUTURE = "2099-01-01T10:00:00+02:00";

describe("POST /job/", () => {
  it("creates a queued job with the contract's JSON", async () => {
    const wf = await makeWorkflow([{ name: "a", kind: "log", options: { message: "hi" } }]);
    const res = await createJob({ workflowID: wf, startAt: FUTURE, parameters: { leadID: "42" } });
    expect(res.status).toBe(201);
    const job = res.json.response;
    expect(job).toEqual({
      jobID: expect.stringMatching(/^[1-9][0-9]*$/),
      workflowID: wf,
      status: "queued",
      startAt: "2099-01-01T08:00:00.000Z",
      startedAt: null,
      finishedAt: null,
      parameters: { leadID: "42" },
      progress: { task: null, done: 0, total: 1 },
      error: null,
      createdAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/),
      updatedAt: expect.any(String),
    });
    expect(Object.keys(job)).toEqual(["jobID", "workflowID", "status", "startAt", "startedAt", "finishedAt", "parameters", "progress", "error", "createdAt", "updatedAt"]);
    await expectMirrorMatches(job.jobID);
    const row = await mirrorRow(job.jobID);
    expect(row!.version).toBeGreaterThan(0);
  });
});

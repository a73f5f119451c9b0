// Regression tests for defects found in a white-box review of the job engine.
import { describe, expect, it } from "vitest";
import { JobObject } from "../src/jobs/job-object";
import { call } from "./helpers";
import { createJob, getJob, inspect, makeWorkflow, mirrorRow } from "./jobs-helpers";

const FUTURE = "2099-01-01T10:00:00+02:00";

describe("creation whose DO call fails after the DO made the job", () => {
  it("keeps the mirror row and answers the job (no invisible job, no duplicate on a retry)", async () => {
    const wf = await makeWorkflow([{ name: "wait", kind: "delay", options: { seconds: 3600 } }]);
    const proto = JobObject.prototype as any;
    const original = proto.create;
    // The DO commits the job, then its answer is lost (e.g. the connection drops).
    proto.create = async function (this: unknown, ...args: unknown[]) {
      await original.apply(this, args);
      throw new Error("Network connection lost.");
    };
    let res;
    try {
      res = await createJob({ workflowID: wf, startAt: FUTURE }, { "Idempotency-Key": "lost-answer-1" });
    } finally {
      proto.create = original;
    }
    expect(res.status).toBe(201);
    const jobID = res.json.response.jobID as string;
    expect((await getJob(jobID)).status).toBe("queued");
    expect(await mirrorRow(jobID)).not.toBeNull();
    // A retry with the same key answers the same job instead of making a second one.
    const again = await createJob({ workflowID: wf, startAt: FUTURE }, { "Idempotency-Key": "lost-answer-1" });
    expect(again.status).toBe(200);
    expect(again.json.response.jobID).toBe(jobID);
    expect((await inspect(jobID)).state.status).toBe("queued");
  });
});

import { afterEach, describe, expect, it } from "vitest";
import { engineHooks } from "../src/jobs/attempt";
import { executeTask } from "../src/workflows/execute";
import { TaskFailure } from "../src/workflows/tasks";
import { isFinal, logsOf, makeJob, makeWorkflow, waitForJob } from "./jobs-helpers";

afterEach(() => {
  engineHooks.executeTask = executeTask;
});

describe("engine smoke", () => {
  it("runs an http task through the queue", async () => {
    const calls: string[] = [];
    engineHooks.executeTask = async (_env, task) => {
      calls.push(task.name);
      if (task.kind === "log") return { logs: [{ level: "info", message: String(task.options.message) }] };
      return { result: { status: 200 } };
    };
    const wf = await makeWorkflow([{ name: "call", kind: "http", options: { method: "GET", url: "http://test.local/x" } }, { name: "say", kind: "log", options: { message: "done" } }]);
    const job = await makeJob(wf);
    const done = await waitForJob(job.jobID, isFinal);
    const logs = await logsOf(job.jobID);
    console.warn(JSON.stringify(logs.map((l) => `${l.seq} ${l.level} ${l.message}`), null, 1));
    expect(done.status).toBe("ok");
    expect(calls).toEqual(["call", "say"]);
  });
});

// Size caps of what a client stores through /job/ and /workflow/: each is refused with a clean 400
// (the envelope names the parameter in `details`) and changes nothing; exactly the cap fits.
import { describe, expect, it } from "vitest";
import { PARAMETER_NAME_MAX_CHARS, PARAMETERS_MAX_BYTES, PARAMETERS_MAX_COUNT } from "../src/jobs/schemas";
import { LOG_LINE_MAX_BYTES } from "../src/jobs/limits";
import { WORKFLOW_MAX_BYTES } from "../src/workflows/schemas";
import { call } from "./helpers";
import { createJob, getJob, logsOf, longWorkflow, makeJob, makeWorkflow } from "./jobs-helpers";

const FUTURE = "2099-01-01T00:00:00Z";
const bytes = (value: unknown) => new TextEncoder().encode(JSON.stringify(value)).byteLength;
const jobCount = async () => (await call("/job/?perPage=1")).json.response.meta.count as number;

/** One parameter whose JSON object is exactly `size` bytes. */
function parametersOf(size: number) {
  const overhead = bytes({ p: "" });
  return { p: "x".repeat(size - overhead) };
}

function expectRefusal(res: Awaited<ReturnType<typeof call>>, code: string, path: string, message: RegExp) {
  expect(res.status, res.text.slice(0, 300)).toBe(400);
  expect(res.json.error.code).toBe(code);
  expect(res.json.error.details).toEqual([{ path, message: expect.stringMatching(message) }]);
}

describe("job parameters", () => {
  it(`are at most ${PARAMETERS_MAX_BYTES} bytes of JSON: more is a 400 on 'parameters' and no job; exactly that is created`, async () => {
    const wf = await longWorkflow();
    const before = await jobCount();
    const tooBig = await createJob({ workflowID: wf, startAt: FUTURE, parameters: parametersOf(PARAMETERS_MAX_BYTES + 1) });
    expectRefusal(tooBig, "invalid_input", "parameters", new RegExp(`is ${PARAMETERS_MAX_BYTES + 1} bytes as JSON; at most ${PARAMETERS_MAX_BYTES}`));
    // Multi-byte characters count as their UTF-8 bytes.
    const wide = await createJob({ workflowID: wf, startAt: FUTURE, parameters: { p: "é".repeat(PARAMETERS_MAX_BYTES / 2) } });
    expectRefusal(wide, "invalid_input", "parameters", /bytes as JSON/);
    expect(await jobCount()).toBe(before);
    const fits = await createJob({ workflowID: wf, startAt: FUTURE, parameters: parametersOf(PARAMETERS_MAX_BYTES) });
    expect(fits.status).toBe(201);
    expect(bytes(fits.json.response.parameters)).toBe(PARAMETERS_MAX_BYTES);
    expect(await jobCount()).toBe(before + 1);
  });

  it(`are at most ${PARAMETERS_MAX_COUNT}, with names of at most ${PARAMETER_NAME_MAX_CHARS} characters`, async () => {
    const wf = await longWorkflow();
    const before = await jobCount();
    const many = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`p${i}`, "v"]));
    expectRefusal(
      await createJob({ workflowID: wf, startAt: FUTURE, parameters: many(PARAMETERS_MAX_COUNT + 1) }),
      "invalid_input",
      "parameters",
      new RegExp(`at most ${PARAMETERS_MAX_COUNT} parameters \\(got ${PARAMETERS_MAX_COUNT + 1}\\)`),
    );
    expectRefusal(
      await createJob({ workflowID: wf, startAt: FUTURE, parameters: { ["n".repeat(PARAMETER_NAME_MAX_CHARS + 1)]: "v" } }),
      "invalid_input",
      "parameters",
      new RegExp(`names are at most ${PARAMETER_NAME_MAX_CHARS} characters \\(got ${PARAMETER_NAME_MAX_CHARS + 1}`),
    );
    expect(await jobCount()).toBe(before);
    expect((await createJob({ workflowID: wf, startAt: FUTURE, parameters: many(PARAMETERS_MAX_COUNT) })).status).toBe(201);
    expect((await createJob({ workflowID: wf, startAt: FUTURE, parameters: { ["ü".repeat(PARAMETER_NAME_MAX_CHARS)]: "v" } })).status).toBe(201);
  });

  it("are bounded in an edit of a queued job too, which then changes nothing", async () => {
    const wf = await longWorkflow();
    const job = await makeJob(wf, { startAt: FUTURE, parameters: { a: "1" } });
    const res = await call(`/job/${job.jobID}`, { body: { parameters: parametersOf(PARAMETERS_MAX_BYTES + 1), startAt: "2099-06-01T00:00:00Z" } });
    expectRefusal(res, "invalid_input", "parameters", /bytes as JSON/);
    expect(await getJob(job.jobID)).toEqual(job);
    const listed = (await call(`/job/?workflowID=${wf}`)).json.response.jobs;
    expect(listed).toEqual([job]);
  });

  it("are bounded in a form too", async () => {
    const wf = await longWorkflow();
    const before = await jobCount();
    const res = await call("/job/", { form: { workflowID: wf, parameters: JSON.stringify(parametersOf(PARAMETERS_MAX_BYTES + 1)) } });
    expectRefusal(res, "invalid_input", "parameters", /bytes as JSON/);
    expect(await jobCount()).toBe(before);
  });
});

describe("a workflow definition", () => {
  /** `n` log tasks whose definition (name, tasks, onError as sent) is exactly `size` bytes. */
  function definitionOf(size: number, n = 20) {
    const name = "big";
    const tasks = Array.from({ length: n }, (_, i) => ({ name: `t${i}`, kind: "log", options: { message: "" } }));
    const room = size - bytes({ name, tasks, onError: [] });
    const each = Math.floor(room / n);
    tasks.forEach((t, i) => {
      t.options.message = "m".repeat(i < n - 1 ? each : room - each * (n - 1));
    });
    const body = { name, tasks, onError: [] as unknown[] };
    expect(bytes(body)).toBe(size);
    return body;
  }

  it(`is at most ${WORKFLOW_MAX_BYTES} bytes of JSON: more is a 400 on the larger list and nothing is stored`, async () => {
    const before = (await call("/workflow/")).text;
    const res = await call("/workflow/", { body: definitionOf(WORKFLOW_MAX_BYTES + 1) });
    expectRefusal(res, "invalid_workflow", "tasks", new RegExp(`is ${WORKFLOW_MAX_BYTES + 1} bytes of JSON; at most ${WORKFLOW_MAX_BYTES}`));
    const { name, tasks } = definitionOf(WORKFLOW_MAX_BYTES + 1);
    const onErrorHeavy = await call("/workflow/", { body: { name, tasks: [], onError: tasks } });
    expectRefusal(onErrorHeavy, "invalid_workflow", "onError", /bytes of JSON/);
    expect((await call("/workflow/")).text).toBe(before);
    const fits = await call("/workflow/", { body: definitionOf(WORKFLOW_MAX_BYTES) });
    expect(fits.status, fits.text.slice(0, 300)).toBe(201);
  });

  it("is bounded in POST /workflow/{id} too, which then changes nothing", async () => {
    const wf = await makeWorkflow([{ name: "say", kind: "log", options: { message: "hi" } }]);
    const before = (await call(`/workflow/${wf}`)).json.response;
    const res = await call(`/workflow/${wf}`, { body: definitionOf(WORKFLOW_MAX_BYTES + 1) });
    expectRefusal(res, "invalid_workflow", "tasks", /bytes of JSON/);
    expect((await call(`/workflow/${wf}`)).json.response).toEqual(before);
  });
});

describe("log lines of POST /job/{jobID}", () => {
  it(`are at most ${LOG_LINE_MAX_BYTES} bytes each: a bigger one is a 400 naming it, and nothing of the request applies`, async () => {
    const wf = await longWorkflow();
    const job = await makeJob(wf, { startAt: FUTURE });
    const logs = await logsOf(job.jobID);
    const res = await call(`/job/${job.jobID}`, {
      body: { parameters: { b: "2" }, log: [{ message: "fine" }, { message: "big", data: { blob: "y".repeat(LOG_LINE_MAX_BYTES) } }] },
    });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe("log_line_too_large");
    expect(res.json.error.details).toEqual([
      { path: "log[1]", message: expect.stringMatching(new RegExp(`a line \\(message \\+ data\\) is at most ${LOG_LINE_MAX_BYTES}`)) },
    ]);
    expect(await logsOf(job.jobID)).toEqual(logs);
    expect(await getJob(job.jobID)).toEqual(job);
  });
});

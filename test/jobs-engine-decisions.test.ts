// The engine's decisions on their own: pure functions of (job, event, now) that answer the new job
// and the effects to carry out, without touching storage, the queue or the network.
import { describe, expect, it } from "vitest";
import { claimAttempt, tick, updateJob, wakeAt } from "../src/jobs/job-engine";
import { newJob, type Job } from "../src/jobs/job-state";
import { LOG_MAX_LINES, REPORT_GRACE_MS, RUN_WATCH_MS } from "../src/jobs/limits";

const T0 = Date.UTC(2030, 0, 1);

function job(): Job {
  return newJob(
    {
      jobID: "5",
      workflowID: "2",
      userID: "7",
      parameters: { a: "1" },
      startAt: T0,
      createdAt: T0 - 1000,
      snapshot: {
        workflowID: "2",
        name: "wf",
        timeout: 60,
        tasks: [
          { name: "say", kind: "log", options: { message: "hi" }, retries: [], timeout: 30 },
          { name: "call", kind: "http", options: { url: "http://test.local/x" }, retries: [], timeout: 30 },
        ],
        onError: [],
      },
    },
    T0 - 1000,
  );
}

const here = { instance: "this-instance", canRun: true, canRunQueued: true };

describe("engine decisions", () => {
  it("are pure: the job handed in is not changed, and the same input gives the same decision", () => {
    const j = job();
    const before = structuredClone(j);
    const a = tick(j, { now: T0, ...here });
    const b = tick(j, { now: T0, ...here });
    expect(j).toEqual(before);
    const strip = (d: any) => JSON.parse(JSON.stringify(d).replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, "ID"));
    expect(strip(a)).toEqual(strip(b));
  });

  it("start a due job and run an inline task, or only wait for the alarm when runs are not allowed here", () => {
    const j = job();
    expect(tick(j, { now: T0 - 1, ...here })).toMatchObject({ changed: false, effects: [] });
    const d = tick(j, { now: T0, ...here });
    expect(d.job!.state).toMatchObject({
      status: "running",
      startedAt: T0,
      deadline: T0 + 60_000,
      attempt: { mode: "inline", running: { since: T0, instance: "this-instance" } },
    });
    expect(d.logs.map((l) => [l.seq, l.message])).toEqual([
      [1, "job started"], // (createJob writes line 1 when the job is stored; this job was never stored)
      [2, "attempt 1 of task 'say' (log) started"],
    ]);
    expect(d.effects).toEqual([{ type: "run", run: expect.objectContaining({ number: 1, phase: "main", index: 0, deadline: T0 + 30_000 }) }]);
    const sweep = tick(j, { now: T0, instance: "this-instance", canRun: false, canRunQueued: false });
    expect(sweep.effects).toEqual([]);
    expect(wakeAt(sweep.job!, T0, "this-instance")).toBe(T0);
  });

  /** A queue attempt of task 1, claimed and running on this instance since T0. */
  const queuedRunHere = () => ({
    id: "a1",
    phase: "main" as const,
    index: 1,
    number: 1,
    mode: "queue" as const,
    dispatchedAt: T0,
    claimedAt: T0,
    running: { since: T0, instance: "this-instance" },
    deadline: T0 + 15_000,
  });

  it("never start a second copy of a run in flight here; call a run marked by another instance lost and send it again", () => {
    const j = job();
    j.state = { ...j.state, status: "running", startedAt: T0, deadline: T0 + 60_000, phase: "main", index: 1, attempts: 1 };
    j.state.attempt = queuedRunHere();
    expect(tick(j, { now: T0 + 50_000, ...here })).toMatchObject({ changed: false, effects: [] });
    expect(claimAttempt(j, "a1", T0 + 1).value).toBe(false);
    const lost = tick(j, { now: T0 + 10, instance: "a-new-instance", canRun: true, canRunQueued: true });
    expect(lost.logs.map((l) => l.message)).toEqual(["attempt 1 of task 'call' was lost: the Durable Object instance running it is gone; running it again"]);
    expect(lost.effects).toEqual([{ type: "send", message: { jobID: "5", attemptId: lost.job!.state.attempt!.id } }]);
    expect(lost.job!.state).toMatchObject({ lost: 1, attempts: 2, attempt: { number: 2, claimedAt: null, running: null } });
  });

  it("keep the alarm within RUN_WATCH_MS while a run is in flight, so a dead instance's run is found soon", () => {
    const j = job();
    j.state = { ...j.state, status: "running", startedAt: T0, deadline: T0 + 60_000, phase: "main", index: 1, attempts: 1 };
    j.state.attempt = queuedRunHere();
    // The task's timeout is 30 s: without the watch the next look would be at T0 + 35 s.
    expect(wakeAt(j, T0 + 1_000, "this-instance")).toBe(T0 + 1_000 + RUN_WATCH_MS);
    expect(wakeAt(j, T0 + 33_000, "this-instance")).toBe(T0 + 30_000 + REPORT_GRACE_MS);
  });

  it("refuse client lines past the log's cap, changing nothing", () => {
    const j = job();
    j.state.log.lines = LOG_MAX_LINES - 1;
    const d = updateJob(j, { status: "running", log: [{ level: "info", message: "x" }] }, T0);
    expect(d.value).toMatchObject({ code: "log_full" });
    expect(d).toMatchObject({ changed: false, logs: [], effects: [] });
    expect(d.job).toBe(j);
  });
});

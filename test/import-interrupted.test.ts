// An import interrupted: the Durable Object instance running it dies after a batch (it resumes
// after the last recorded batch, without duplicates), a client cancels it (nothing visible), the
// rows were published just before a cancel (409), the attempt's alarm fires twice.
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import * as stage from "../src/bulk/import-stage";
import { call, makeModule } from "./helpers";
import { countRows, csv, items, postImport, runStateOf, stagedRows } from "./import-helpers";
import { forceAlarm, getJob, inDO, isFinal, logsOf, messages, patchState, waitFor, waitForJob } from "./jobs-helpers";

afterEach(() => {
  vi.restoreAllMocks();
});

const realStage = stage.stageRows;

/** The job's stored state row as it is (the engine's and the import's progress). */
const stateRow = (jobID: string) =>
  inDO(jobID, (_i, state) => JSON.parse(state.storage.sql.exec<{ data: string }>("select data from state where id = 1").one().data));

/**
 * Lets the first `pass` stagings through; the next one commits in D1 and then does not return
 * until released, like an instance that dies right there. Answers the hang's release.
 */
function hangStaging(pass: number, _commits: true) {
  let calls = 0;
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const spy = vi.spyOn(stage, "stageRows").mockImplementation(async (db, jobId, rows) => {
    calls++;
    if (calls <= pass || calls > pass + 1) return realStage(db, jobId, rows);
    const state = await realStage(db, jobId, rows);
    await released;
    return state;
  });
  return { spy, calls: () => calls, release };
}

async function leadModule(name: string) {
  return (
    await makeModule(name, [
      { name: "name", kind: "text" },
      { name: "n", kind: "number" },
    ])
  ).moduleID as string;
}

const file = csv(["name", "n"], 2500, (i) => [`lead ${i}`, i]);

describe("crash and resume", () => {
  it("an instance that dies after staging batch 2 (before recording it): the next run resumes at batch 2, every row once", async () => {
    const m = await leadModule("Crash");
    const hang = hangStaging(1, true);
    const res = await postImport(m, file);
    expect(res.status).toBe(202);
    const jobID = res.json.response.jobID;
    await waitFor("the second staging", () => hang.calls() >= 2, 20_000);
    // Batch 2 is in D1, but the job recorded only batch 1.
    await waitFor("batch 2 staged", async () => (await stagedRows(jobID)) === 2000, 20_000);
    const state = await stateRow(jobID);
    expect(state.import).toMatchObject({ nextChunk: 1, rowsDone: 1000, staged: 1000 });
    expect(state.progress).toEqual({ task: "import", done: 1000, total: 2500 });
    // What a Durable Object instance that died mid-run leaves behind: the attempt marked running by it.
    await patchState(jobID, (s) => {
      s.attempt.running = { since: Date.now(), instance: "an-instance-that-is-gone" };
    });
    const lost = (await stateRow(jobID)).attempt.id;
    await forceAlarm(jobID); // finds the run lost and dispatches it again through the queue
    await waitFor(
      "the new attempt claimed",
      async () => {
        const a = (await stateRow(jobID)).attempt;
        return a !== null && a.id !== lost && a.claimedAt !== null;
      },
      20_000,
    );
    // The claim points the alarm at now; the hung alarm invocation of the dead run still holds
    // this test's instance, so the alarm is run here.
    await forceAlarm(jobID);
    const job = await waitForJob(jobID, isFinal, 30_000);
    expect(job).toMatchObject({ status: "ok", progress: { done: 2500, total: 2500 }, import: { created: 2500, rejected: 0 } });
    const logs = await logsOf(jobID, "perPage=100");
    expect(messages(logs, /^attempt 1 of task 'import' was lost: /)).toHaveLength(1);
    expect(messages(logs, /^batch 1 of 3: /)).toHaveLength(1);
    expect(messages(logs, /^batch 2 of 3: rows 1001-2000: 1000 staged/)).toHaveLength(1);
    expect(messages(logs, /^batch 3 of 3: /)).toHaveLength(1);
    expect(await countRows(m)).toEqual({ content: 2500, typed: 2500 });
    const names = (await items(m)).map((i) => i.name);
    expect(new Set(names).size).toBe(2500);
    expect(names[0]).toBe("lead 1");
    expect(names[2499]).toBe("lead 2500");
    // The dead run, should it come back, records nothing: it is no longer the job's run.
    hang.release();
    await new Promise((r) => setTimeout(r, 300));
    expect(await logsOf(jobID, "perPage=100")).toEqual(logs);
    expect(await countRows(m)).toEqual({ content: 2500, typed: 2500 });
    expect(await stagedRows(jobID)).toBe(0);
  });

  it("the import's alarm fired twice more while it runs starts no second run", async () => {
    const m = await leadModule("Twice");
    const hang = hangStaging(0, true);
    const res = await postImport(m, file);
    const jobID = res.json.response.jobID;
    await waitFor("the first staging", () => hang.calls() >= 1, 20_000);
    await forceAlarm(jobID);
    await inDO(jobID, (instance) => instance.alarm());
    expect(hang.calls()).toBe(1);
    hang.release();
    expect((await waitForJob(jobID, isFinal, 30_000)).status).toBe("ok");
    expect(messages(await logsOf(jobID, "perPage=100"), /started$/).map((l) => l.message)).toEqual([
      "job started",
      "attempt 1 of task 'import' (import) started",
    ]);
    expect(await countRows(m)).toEqual({ content: 2500, typed: 2500 });
  });
});

describe("cancel", () => {
  it("a cancelled import leaves nothing visible and nothing staged; its run cannot publish afterwards", async () => {
    const m = await leadModule("Cancel");
    const hang = hangStaging(1, true);
    const res = await postImport(m, file, "text/csv", { mode: "valid" });
    const jobID = res.json.response.jobID;
    await waitFor("the second staging", () => hang.calls() >= 2, 20_000);
    const cancelled = await call(`/job/${jobID}`, { method: "DELETE" });
    expect(cancelled.status).toBe(200);
    expect(await getJob(jobID)).toMatchObject({ status: "cancelled" });
    expect(await runStateOf(jobID)).toBe("void");
    expect(await stagedRows(jobID)).toBe(0);
    hang.release(); // the run in flight goes on: it may stage nothing more and publish nothing
    await new Promise((r) => setTimeout(r, 500));
    expect(await countRows(m)).toEqual({ content: 0, typed: 0 });
    expect(await stagedRows(jobID)).toBe(0);
    expect((await getJob(jobID)).status).toBe("cancelled");
    // The file is gone from the job's Durable Object; the report (empty) is still there.
    expect(await inDO(jobID, (_i, state) => state.storage.sql.exec("select count(*) as n from sqlite_master where name = 'import_chunks'").one().n)).toBe(0);
    expect((await call(`/job/${jobID}/report`)).status).toBe(200);
  });

  it("a cancel that comes after the rows were published is refused (409 import_published)", async () => {
    const m = await leadModule("Late cancel");
    const hang = hangStaging(0, true);
    const res = await postImport(m, file);
    const jobID = res.json.response.jobID;
    await waitFor("the first staging", () => hang.calls() >= 1, 20_000);
    // As if the publish batch had just committed.
    await env.DB.prepare("update import_runs set state = 'published' where job_id = ?").bind(Number(jobID)).run();
    const refused = await call(`/job/${jobID}`, { method: "DELETE" });
    expect(refused.status).toBe(409);
    expect(refused.json.error.code).toBe("import_published");
    expect((await getJob(jobID)).status).toBe("running");
    hang.release();
    await waitForJob(jobID, isFinal, 30_000);
  });
});

describe("the module edited while the import runs", () => {
  it("the publish batch refuses; the file is checked again against the new definition and imported once", async () => {
    const m = await leadModule("Edited");
    const hang = hangStaging(1, true);
    const res = await postImport(m, file);
    const jobID = res.json.response.jobID;
    await waitFor("the second staging", () => hang.calls() >= 2, 20_000);
    const edit = await call(`/module/${m}`, {
      body: {
        name: "Edited",
        fields: [
          { name: "name", kind: "text", label: "Name" },
          { name: "n", kind: "number", options: { min: 0 } },
        ],
      },
    });
    expect(edit.status).toBe(200);
    hang.release();
    const job = await waitForJob(jobID, isFinal, 30_000);
    expect(job).toMatchObject({ status: "ok", import: { created: 2500 } });
    const logs = await logsOf(jobID, "perPage=100");
    expect(
      messages(logs, /^the module was edited while the import ran: checking the file again from row 1 against the module's new definition \(restart 1 of 3\)$/),
    ).toHaveLength(1);
    expect(messages(logs, /^batch 1 of 3: /)).toHaveLength(2);
    expect(await countRows(m)).toEqual({ content: 2500, typed: 2500 });
  });
});

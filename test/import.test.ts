// POST /module/{moduleID}/import end to end: formats, columns, values, keys, modes, the report,
// refusals. Crashes and cancels are in import-interrupted.test.ts.
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, makeModule, token } from "./helpers";
import { csv, countRows, importFile, items, postImport, reportOf, runStateOf, stagedRows } from "./import-helpers";
import { logsOf, messages } from "./jobs-helpers";
import { parseFile } from "../src/bulk/csv-parse";

const leadFields = [
  { name: "name", kind: "text", isRequired: true, maxLength: 20 },
  { name: "email", kind: "email", label: "E-mail", isUnique: true },
  { name: "value", kind: "number", options: { min: 0, precision: 2 } },
  { name: "active", kind: "bool" },
  { name: "country", kind: "enum", options: { options: ["France", "Slovenia"] } },
  { name: "closeDate", kind: "date", label: "Close date" },
  { name: "seenAt", kind: "stamp" },
  { name: "site", kind: "url" },
  { name: "tags", kind: "text", isMulti: true },
  { name: "notes", kind: "textarea" },
];

async function leads(name = "Lead") {
  return (await makeModule(name, leadFields)).moduleID as string;
}

describe("formats", () => {
  it("CSV: every kind read from text like the API takes it, in file order, as the token's user", async () => {
    const m = await leads();
    const file = [
      "name,E-mail,value,active,country,Close date,seenAt,site,tags,notes",
      `Acme,ann@example.com,1200.5,true,France,2027-01-31,2026-11-27T21:18:49+01:00,https://acme.test/x,"[""hot"",""eu""]","line 1\nline 2, with ""quotes"""`,
      "Globex,bob@example.com,-0,FALSE,Slovenia,,,,cold|b2b,",
      "'=Initech,,3e2,,,,,,,'@notes",
    ].join("\r\n");
    const { job, logs } = await importFile(m, file);
    expect(job).toMatchObject({ status: "ok", progress: { done: 3, total: 3 }, import: { rows: 3, created: 3, rejected: 0, mode: "all", format: "csv" } });
    expect(messages(logs, /^batch 1 of 1: rows 1-3: 3 staged, 0 skipped, 0 rejected$/)).toHaveLength(1);
    const got = await items(m);
    expect(got).toEqual([
      {
        contentID: expect.any(String),
        name: "Acme",
        email: "ann@example.com",
        value: 1200.5,
        active: true,
        country: "France",
        closeDate: "2027-01-31",
        seenAt: "2026-11-27T20:18:49.000Z",
        site: "https://acme.test/x",
        tags: ["hot", "eu"],
        notes: 'line 1\nline 2, with "quotes"',
      },
      { contentID: expect.any(String), name: "Globex", email: "bob@example.com", value: 0, active: false, country: "Slovenia", tags: ["cold", "b2b"] },
      // The leading ' an export writes before a formula character is taken off again.
      { contentID: expect.any(String), name: "=Initech", value: 300, notes: "@notes" },
    ]);
    const one = await call(`/module/${m}/content/${got[0].contentID}`);
    expect(one.json.response.userID).toBe("7");
    expect(await countRows(m)).toEqual({ content: 3, typed: 3 });
    // Full-text search finds imported items (their FTS rows were written with them).
    const found = await call(`/module/${m}/content?query=initech`);
    expect(found.json.response.meta.count).toBe(1);
  });

  it("JSON array, NDJSON, API-shaped objects and a multipart file part", async () => {
    const m = await leads("Lead JSON");
    const json = JSON.stringify([
      { name: "A", value: 1, active: true, tags: ["x"] },
      { name: "B", email: "b@example.com", closeDate: "2027-02-01" },
    ]);
    expect((await importFile(m, json, "application/json")).job.import.created).toBe(2);
    const ndjson = `{"name": "C", "value": 2.25}\n\n{"contentID": "99", "fields": [{"name": "name", "value": "D"}, {"name": "country", "value": "France"}], "createdAt": "2026-01-01T00:00:00Z"}\n`;
    expect((await importFile(m, ndjson, "application/x-ndjson")).job.import.created).toBe(2);
    const form = new FormData();
    form.append("file", new File(["name,value\nE,5\n"], "leads.csv", { type: "text/csv" }));
    const res = await exports.default.fetch(
      new Request(`http://api.test/module/${m}/import`, { method: "POST", headers: { authorization: `Bearer ${await token()}` }, body: form }),
    );
    expect(res.status).toBe(202);
    const jobID = ((await res.json()) as any).response.jobID;
    const { waitForJob, isFinal } = await import("./jobs-helpers");
    expect((await waitForJob(jobID, isFinal)).status).toBe("ok");
    expect((await items(m)).map((i) => [i.name, i.value ?? null, i.country ?? null])).toEqual([
      ["A", 1, null],
      ["B", null, null],
      ["C", 2.25, null],
      ["D", null, "France"],
      ["E", 5, null],
    ]);
  });

  it("JSON values are checked exactly as a JSON body's: no text-to-number reading", async () => {
    const m = await leads("Lead strict");
    const { job } = await importFile(
      m,
      JSON.stringify([
        { name: "A", value: "12" },
        { name: "B", active: "true" },
      ]),
      "application/json",
      { mode: "valid" },
    );
    expect(job.import).toMatchObject({ created: 0, rejected: 2 });
    const report = await reportOf(job.jobID);
    expect(report.text).toContain("column 'value': must be a number");
    expect(report.text).toContain("column 'active': must be true or false");
  });
});

describe("columns", () => {
  it("matches headers to names, then labels, case-insensitively; mapping decides for the columns it names", async () => {
    const m = await leads("Lead cols");
    const { job } = await importFile(m, "NAME,e-mail,Close Date,Owner Notes\nA,a@example.com,2027-01-01,hello\n", "text/csv", {
      mapping: JSON.stringify({ "Owner Notes": "notes" }),
    });
    expect(job.status).toBe("ok");
    expect(await items(m)).toEqual([{ contentID: expect.any(String), name: "A", email: "a@example.com", closeDate: "2027-01-01", notes: "hello" }]);
  });

  it("an unknown column is a 400 listing it unless ignoreUnknown; the export's and report's own columns are ignored", async () => {
    const m = await leads("Lead unknown");
    const res = await postImport(m, "name,shoe size,colour\nA,42,red\n");
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe("invalid_import");
    expect(res.json.error.message).toContain("unknown columns 'shoe size', 'colour'");
    expect(res.json.error.details[0].path).toBe("columns");
    expect(await countRows(m)).toEqual({ content: 0, typed: 0 });
    const ok = await importFile(m, "contentID,name,shoe size,createdAt,_row,_error\n5,A,42,2026-01-01T00:00:00Z,3,bad\n", "text/csv", {
      ignoreUnknown: "true",
    });
    expect(ok.job.status).toBe("ok");
    expect((await items(m)).map((i) => i.name)).toEqual(["A"]);
  });

  it("mapping errors: not JSON, an unknown column or field, two columns for one field, a key without a column", async () => {
    const m = await leads("Lead mapping");
    const cases: [Record<string, string>, string, string][] = [
      [{ mapping: "{nope" }, "mapping", "must be a JSON object"],
      [{ mapping: JSON.stringify({ missing: "name" }) }, "mapping.missing", "the file has no column 'missing'"],
      [{ mapping: JSON.stringify({ name: "nope" }) }, "mapping.name", "no field 'nope'"],
      [{ mapping: JSON.stringify({ value: "name" }) }, "columns[1]", "would both fill field 'name'"],
      [{ key: "email" }, "key", "has no column in the file"],
      [{ key: "tags" }, "key", "a key is a single-valued"],
      [{ onConflict: "update" }, "onConflict", "needs key=<field>"],
      [{ mode: "some" }, "mode", "must be all or valid"],
    ];
    for (const [query, path, text] of cases) {
      const res = await postImport(m, "name,value\nA,1\n", "text/csv", query);
      expect(res.status, JSON.stringify(query)).toBe(400);
      expect(res.json.error.details.find((d: any) => d.path === path)?.message ?? "", JSON.stringify(res.json)).toContain(text);
    }
    expect(await countRows(m)).toEqual({ content: 0, typed: 0 });
  });
});

describe("values and modes", () => {
  const bad = [
    "name,E-mail,value,active,country,Close date,seenAt,site,tags",
    "ok1,ok1@example.com,1,true,France,2027-01-01,2027-01-01T00:00:00Z,https://a.test,a|b",
    ",bad-email,abc,yes,Germany,2027-13-01,yesterday,ftp://x,",
    "way too long a name for the field,x@example.com,1.234,,,,,,",
    "neg,,-5,,,,,,",
    'arr,,,,,,,,"[1,"',
    "ok2,ok2@example.com,2,false,Slovenia,,,,",
  ].join("\n");

  it("mode=valid: valid rows go in; each invalid row is rejected with its row, column and message, in the log and the report", async () => {
    const m = await leads("Lead valid");
    const { job, logs } = await importFile(m, bad, "text/csv", { mode: "valid" });
    expect(job).toMatchObject({ status: "ok", import: { rows: 6, created: 2, rejected: 4, skipped: 0 }, progress: { done: 6, total: 6 } });
    expect((await items(m)).map((i) => i.name)).toEqual(["ok1", "ok2"]);
    const row2 = messages(logs, /^row 2 rejected: /)[0];
    expect(row2.message).toBe(
      "row 2 rejected: column 'value': must be a number (like 1200 or -3.5), not \"abc\"; column 'active': must be true or false, not \"yes\"; " +
        "column 'name': is required; column 'E-mail': must be a valid email address; column 'country': must be one of: France, Slovenia; " +
        "column 'Close date': must be a date in YYYY-MM-DD form; column 'seenAt': must be an RFC 3339 date-time; column 'site': must be an absolute http(s) URL",
    );
    expect(row2.data.row).toBe(2);
    expect(messages(logs, /^row 3 rejected: column 'name': must be at most 20 characters; column 'value': must have at most 2 decimal places$/)).toHaveLength(
      1,
    );
    expect(messages(logs, /^row 4 rejected: column 'value': must be at least 0$/)).toHaveLength(1);
    expect(messages(logs, /^row 5 rejected: column 'tags': must be a JSON array/)).toHaveLength(1);
    expect(messages(logs, /^batch 1 of 1: rows 1-6: 2 staged, 0 skipped, 4 rejected$/)).toHaveLength(1);
  });

  it("the report lists the rejected rows as the file had them, with _row and _error; fixed, it imports", async () => {
    const m = await leads("Lead report");
    const { job } = await importFile(m, bad, "text/csv", { mode: "valid" });
    const report = await reportOf(job.jobID);
    expect(report.status).toBe(200);
    expect(report.headers.get("content-type")).toContain("text/csv");
    expect(report.headers.get("content-disposition")).toBe(`attachment; filename="import-${job.jobID}-rejected.csv"`);
    const lines = report.text.trim().split("\r\n");
    expect(lines[0]).toBe("name,E-mail,value,active,country,Close date,seenAt,site,tags,_row,_error");
    expect(lines).toHaveLength(5);
    expect(lines[2]).toBe(
      `way too long a name for the field,x@example.com,1.234,,,,,,,3,column 'name': must be at most 20 characters; column 'value': must have at most 2 decimal places`,
    );
    expect(lines[3]).toBe(`neg,,-5,,,,,,,4,column 'value': must be at least 0`);
    // Fix the rows in the report and send it back: _row and _error are ignored.
    const fixed = [
      lines[0],
      "fixed2,f2@example.com,3,true,France,2027-01-02,2027-01-01T00:00:00Z,https://b.test,,2,",
      "short,,1.23,,,,,,,3,",
      "pos,,5,,,,,,,4,",
    ].join("\n");
    const again = await importFile(m, fixed);
    expect(again.job).toMatchObject({ status: "ok", import: { created: 3, rejected: 0 } });
    expect((await items(m)).map((i) => i.name)).toEqual(["ok1", "ok2", "fixed2", "short", "pos"]);
  });

  it("mode=all (the default): one invalid row and nothing is visible; the job fails; the report lists every problem", async () => {
    const m = await leads("Lead all");
    const rows = csv(["name", "value"], 2500, (i) => [`n${i}`, i === 1700 ? "oops" : i]);
    const { job, logs } = await importFile(m, rows);
    expect(job.status).toBe("error");
    expect(job.error).toBe(`task 'import' failed: 1 row of 2500 rejected and mode is all, so nothing was imported; GET /job/${job.jobID}/report lists them`);
    expect(job.import).toMatchObject({ created: 0, rejected: 1 });
    expect(await countRows(m)).toEqual({ content: 0, typed: 0 });
    expect(await stagedRows(job.jobID)).toBe(0);
    expect(await runStateOf(job.jobID)).toBe("void");
    // Rows after the bad one are checked (for the report), not staged.
    expect(messages(logs, /^batch 3 of 3: rows 2001-2500: 500 valid \(not staged: mode all and rows were rejected\), 0 skipped, 0 rejected$/)).toHaveLength(1);
    expect(messages(logs, /^attempt 1 of task 'import' failed/)).toHaveLength(1);
    expect(messages(logs, /retry/)).toHaveLength(0);
    const report = await reportOf(job.jobID);
    expect(report.text.trim().split("\r\n")).toEqual([
      "name,value,_row,_error",
      `n1700,oops,1700,"column 'value': must be a number (like 1200 or -3.5), not ""oops"""`,
    ]);
  });

  it("related IDs must be live items of the target module; multi values may be JSON arrays or | lists", async () => {
    const account = await makeModule("Account", [{ name: "title", kind: "text" }]);
    const a1 = (await call(`/module/${account.moduleID}/content`, { body: { fields: { title: "a1" } } })).json.response.contentID;
    const a2 = (await call(`/module/${account.moduleID}/content`, { body: { fields: { title: "a2" } } })).json.response.contentID;
    const m = (
      await makeModule("Deal", [
        { name: "title", kind: "text" },
        { name: "account", kind: "related", options: { moduleID: account.moduleID } },
        { name: "others", kind: "related_multi", options: { moduleID: account.moduleID } },
        { name: "scores", kind: "number", isMulti: true },
      ])
    ).moduleID;
    const file = `title,account,others,scores\nd1,${a1},"[${a1},""${a2}""]",1|2.5\nd2,999999,${a2}|888888,"[3]"\nd3,${m},,x|1\n`;
    const { job } = await importFile(m, file, "text/csv", { mode: "valid" });
    expect(job.import).toMatchObject({ created: 1, rejected: 2 });
    expect(await items(m)).toEqual([{ contentID: expect.any(String), title: "d1", account: a1, others: [a1, a2], scores: [1, 2.5] }]);
    const report = (await reportOf(job.jobID)).text;
    expect(report).toContain(
      `column 'account': ID 999999 is not an item of module ${account.moduleID}; column 'others': ID 888888 is not an item of module ${account.moduleID}`,
    );
    expect(report).toContain("column 'scores': item 0: must be a number");
  });
});

describe("keys and onConflict", () => {
  async function seeded(name: string) {
    const m = await leads(name);
    await importFile(m, "name,email,value\nAnn,ann@example.com,1\nBob,bob@example.com,2\n");
    return m;
  }
  const again = "name,E-mail,value\nAnn 2,ANN@example.com,10\nCid,cid@example.com,3\n";

  it("skip (the default with a key): a row whose key matches a live item (case-insensitively) is skipped", async () => {
    const m = await seeded("Lead skip");
    const { job } = await importFile(m, again, "text/csv", { key: "email" });
    expect(job.import).toMatchObject({ key: "email", onConflict: "skip", created: 1, updated: 0, skipped: 1, rejected: 0 });
    expect((await items(m)).map((i) => [i.name, i.value])).toEqual([
      ["Ann", 1],
      ["Bob", 2],
      ["Cid", 3],
    ]);
    // Importing the same file again changes nothing.
    const twice = await importFile(m, again, "text/csv", { key: "E-mail" });
    expect(twice.job.import).toMatchObject({ created: 0, skipped: 2 });
    expect(await countRows(m)).toEqual({ content: 3, typed: 3 });
  });

  it("update: the file's columns replace the item's values (others kept); error: the row is rejected", async () => {
    const m = await seeded("Lead update");
    await call(`/module/${m}/content?perPage=1`);
    const before = await items(m);
    const { job } = await importFile(m, "E-mail,value,country\nANN@example.com,10,France\n", "text/csv", { key: "email", onConflict: "update" });
    expect(job.import).toMatchObject({ created: 0, updated: 1, skipped: 0 });
    const after = await items(m);
    // The key matched case-insensitively; the stored email takes the file's spelling.
    expect(after[0]).toEqual({ contentID: before[0].contentID, name: "Ann", email: "ANN@example.com", value: 10, country: "France" });
    expect(after[1]).toEqual(before[1]);
    const created = await importFile(m, "E-mail,name\ncid@example.com,Cid\n", "text/csv", { key: "email", onConflict: "update" });
    expect(created.job.import).toMatchObject({ created: 1, updated: 0 });
    const failed = await importFile(m, "email,name\nbob@example.com,B\nzed@example.com,Z\n", "text/csv", { key: "email", onConflict: "error" });
    expect(failed.job.status).toBe("error");
    expect((await reportOf(failed.jobID)).text).toContain(`column 'email': an item with this key already exists (item ${before[1].contentID})`);
    expect(await countRows(m)).toEqual({ content: 3, typed: 3 });
  });

  it("JSON: a key an object lacks is left alone (kept on update, the default on create); null removes the value", async () => {
    const m = (
      await makeModule("Lead json keys", [
        { name: "email", kind: "email", isUnique: true },
        { name: "name", kind: "text" },
        { name: "stage", kind: "enum", options: { options: ["Open", "Won"] }, defaultValue: "Open" },
      ])
    ).moduleID;
    await importFile(
      m,
      JSON.stringify([
        { email: "a@example.com", name: "A", stage: "Won" },
        { email: "b@example.com", name: "B", stage: "Won" },
      ]),
      "application/json",
    );
    const file = JSON.stringify([
      { email: "a@example.com", name: "A2" },
      { email: "b@example.com", stage: null },
      { email: "c@example.com", name: "C" },
    ]);
    const { job } = await importFile(m, file, "application/json", { key: "email", onConflict: "update" });
    expect(job.import).toMatchObject({ created: 1, updated: 2 });
    expect((await items(m)).map(({ contentID: _id, ...rest }) => rest)).toEqual([
      { email: "a@example.com", name: "A2", stage: "Won" },
      { email: "b@example.com", name: "B" },
      { email: "c@example.com", name: "C", stage: "Open" },
    ]);
  });

  it("a key or a unique value given twice in one file, or held by a live item, rejects the later row", async () => {
    const m = await seeded("Lead unique");
    const file = "name,email,value\nX,x@example.com,1\nY,X@EXAMPLE.com,2\nZ,bob@example.com,3\n";
    const { job } = await importFile(m, file, "text/csv", { mode: "valid" });
    expect(job.import).toMatchObject({ created: 1, rejected: 2 });
    const report = (await reportOf(job.jobID)).text;
    expect(report).toContain("2,column 'email': 'email' must be unique: row 1 of this file has the same value");
    expect(report).toMatch(/3,column 'email': 'email' must be unique: the value is already held by item \d+/);
    const keyed = await importFile(m, "name,email\nP,p@example.com\nQ,P@example.com\n", "text/csv", { mode: "valid", key: "email" });
    expect(keyed.job.import).toMatchObject({ created: 1, rejected: 1 });
    expect((await reportOf(keyed.jobID)).text).toContain("2,column 'email': has the same key as row 1; a key value may appear once per file");
  });
});

describe("triggers", () => {
  it("imported items record content.created / content.updated events in the publish batch; triggers=false records none", async () => {
    const m = await leads("Lead triggers");
    const wf = await call("/workflow/", {
      body: {
        name: "on lead",
        tasks: [{ name: "note", kind: "log", options: { message: "new lead" } }],
        triggers: [
          { on: "content.created", moduleID: m },
          { on: "content.updated", moduleID: m },
        ],
      },
    });
    expect(wf.status, wf.text).toBe(201);
    const events = async () =>
      (await env.DB.prepare("select event, count(*) as n from content_events where module_id = ? group by event order by event").bind(Number(m)).all()).results;
    const jobsOf = async () =>
      (await env.DB.prepare("select count(*) as n from jobs where trigger_content_id in (select id from content where module_id = ?)")
        .bind(Number(m))
        .first<{ n: number }>())!.n;
    await importFile(m, "name,email\nA,a@example.com\nB,b@example.com\n", "text/csv", { triggers: "false" });
    expect(await events()).toEqual([]);
    expect(await jobsOf()).toBe(0);
    await importFile(m, "name,email\nC,c@example.com\nA2,a@example.com\n", "text/csv", { key: "email", onConflict: "update" });
    // Dispatched through the queue at once, or left in the outbox for the sweep: either way one job per event.
    const { waitFor } = await import("./jobs-helpers");
    await waitFor("two triggered jobs", async () => (await jobsOf()) === 2, 20_000);
  });
});

describe("progress and scale", () => {
  it("a few thousand ten-field rows: batches logged with progress, every row once", async () => {
    const m = await leads("Lead scale");
    const countries = ["France", "Slovenia"];
    const file = csv(["name", "email", "value", "active", "country", "closeDate", "seenAt", "site", "tags", "notes"], 3500, (i) => [
      `lead ${i}`,
      `lead${i}@example.com`,
      (i * 1.25).toFixed(2),
      i % 2 ? "true" : "false",
      countries[i % 2],
      `2027-0${(i % 9) + 1}-1${i % 10}`,
      `2026-11-27T10:00:${String(i % 60).padStart(2, "0")}Z`,
      `https://lead${i}.test`,
      `t${i % 3}|t${i % 5}`,
      `notes about lead ${i}`,
    ]);
    const { job, logs } = await importFile(m, file);
    expect(job).toMatchObject({ status: "ok", progress: { task: null, done: 3500, total: 3500 }, import: { created: 3500 } });
    expect(messages(logs, /^batch \d of 4: /).map((l) => l.message)).toEqual([
      "batch 1 of 4: rows 1-1000: 1000 staged, 0 skipped, 0 rejected",
      "batch 2 of 4: rows 1001-2000: 1000 staged, 0 skipped, 0 rejected",
      "batch 3 of 4: rows 2001-3000: 1000 staged, 0 skipped, 0 rejected",
      "batch 4 of 4: rows 3001-3500: 500 staged, 0 skipped, 0 rejected",
    ]);
    expect(await countRows(m)).toEqual({ content: 3500, typed: 3500 });
    const list = await call(`/module/${m}/content?filter=${encodeURIComponent("country eq 'France' and value ge 4000")}`);
    expect(list.json.response.meta.count).toBe(151); // even i from 3200 to 3500
    const listed = await call(`/job/?perPage=100`);
    expect(listed.json.response.jobs.find((j: any) => j.jobID === job.jobID)).toEqual(job);
  });
});

describe("refusals", () => {
  it("404 unknown module, 401 without a token, 415 other content types", async () => {
    const m = await leads("Lead refusals");
    expect((await postImport("999999", "name\nA\n")).status).toBe(404);
    expect((await call(`/module/${m}/import`, { body: "name\nA\n", headers: { "content-type": "text/csv" }, token: null })).status).toBe(401);
    const res = await postImport(m, "<xml/>", "application/xml");
    expect(res.status).toBe(415);
    expect(res.json.error.code).toBe("unsupported_media_type");
    expect((await call(`/job/424242/report`)).status).toBe(404);
  });

  it("bad files: not UTF-8, ragged rows, an unterminated quote, empty, header only, JSON that is not an array of objects", async () => {
    const m = await leads("Lead bad files");
    const latin1 = new Uint8Array([...new TextEncoder().encode("name\n"), 0x43, 0x61, 0x66, 0xe9, 0x0a]);
    const res = await exports.default.fetch(
      new Request(`http://api.test/module/${m}/import`, {
        method: "POST",
        headers: { authorization: `Bearer ${await token()}`, "content-type": "text/csv" },
        body: latin1,
      }),
    );
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error.message).toContain("not UTF-8");
    const cases: [string, string, string, string][] = [
      ["name,value\nA,1\nB\n", "text/csv", "malformed_file", "every row must have as many cells as the header"],
      ['name,value\nA,"1\n', "text/csv", "malformed_file", "a quoted cell is never closed"],
      ["", "text/csv", "empty_file", "has no rows"],
      ["name,value\n", "text/csv", "empty_file", "has a header but no rows"],
      ['{"name": "A"}', "application/json", "malformed_file", "must be an array of objects"],
      ['[{"name": "A"}, 5]', "application/json", "malformed_file", "element 2 of the array is not a JSON object"],
      ['[{"name": "A"}', "application/json", "malformed_file", "never closed"],
      ['{"name": "A"}\nnot json\n', "application/x-ndjson", "malformed_file", "line 2 is not JSON"],
    ];
    for (const [body, type, code, text] of cases) {
      const r = await postImport(m, body, type);
      expect(r.status, body).toBe(400);
      expect(r.json.error.code, body).toBe(code);
      expect(r.json.error.message, body).toContain(text);
    }
    expect(await countRows(m)).toEqual({ content: 0, typed: 0 });
    // Nothing was made for the refused files: no job rows, no runs.
    expect((await env.DB.prepare("select count(*) as n from import_runs where module_id = ?").bind(Number(m)).first<{ n: number }>())!.n).toBe(0);
  });

  it("limits: columns, rows, and bytes (declared, or counted while the body arrives)", async () => {
    const m = await leads("Lead limits");
    const wide = await postImport(m, `${Array.from({ length: 121 }, (_, i) => `c${i}`).join(",")}\n`);
    expect(wide.status).toBe(400);
    expect(wide.json.error.code).toBe("too_many_columns");
    const many = await postImport(m, `name\n${"a\n".repeat(100_001)}`);
    expect(many.status).toBe(413);
    expect(many.json.error.code).toBe("too_many_rows");
    const declared = await exports.default.fetch(
      new Request(`http://api.test/module/${m}/import`, {
        method: "POST",
        headers: { authorization: `Bearer ${await token()}`, "content-type": "text/csv", "content-length": String(60 * 1024 * 1024) },
        body: "name\nA\n",
      }),
    );
    expect(declared.status).toBe(413);
    // No Content-Length: the stream is counted and cut off at the limit.
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(c) {
        sent += 1000;
        c.enqueue(new TextEncoder().encode(`${"x".repeat(999)}\n`));
        if (sent > 1_000_000) c.close();
      },
    });
    const err = await parseFile(stream, "csv", { maxBytes: 10_000 }, async () => {}).catch((e) => e);
    expect(err).toMatchObject({ status: 413, code: "payload_too_large" });
    expect(sent).toBeLessThan(100_000);
    expect(await countRows(m)).toEqual({ content: 0, typed: 0 });
  });

  it("a report of a job that is not an import is a 404", async () => {
    const wf = await call("/workflow/", { body: { name: "plain", tasks: [{ name: "l", kind: "log", options: { message: "x" } }] } });
    const job = await call("/job/", { body: { workflowID: wf.json.response.workflowID } });
    const res = await call(`/job/${job.json.response.jobID}/report`);
    expect(res.status).toBe(404);
    expect(res.json.error.message).toContain("is not an import");
  });

  it("an import job's workflowID, startAt and parameters cannot change", async () => {
    const m = await leads("Lead edits");
    const { jobID } = await importFile(m, "name\nA\n");
    const res = await call(`/job/${jobID}`, { body: { parameters: { a: "b" } } });
    expect(res.status).toBe(409);
    expect(await logsOf(jobID)).toBeTruthy();
  });
});

describe("round trip", () => {
  it("a CSV export of a module imports into an empty copy of it as the same records", async () => {
    const source = await leads("Lead source");
    const awkward = [
      {
        name: "=SUM(A1)",
        email: "a@example.com",
        value: 5,
        active: true,
        country: "France",
        closeDate: "2027-01-31",
        seenAt: "2026-01-01T08:00:00.000Z",
        site: "https://x.test/?a=1,2",
        tags: ["hot", "e,u", '"q"'],
        notes: "line 1\r\nline 2\n'=kept",
      },
      { name: "'=x", email: "b@example.com", value: 1e21, active: false, tags: ["-1"], notes: "@home\ttab" },
      { name: 'Zoë, "the" café', value: 0.5 },
    ];
    for (const fields of awkward) expect((await call(`/module/${source}/content`, { body: { fields } })).status).toBe(201);
    const exported = await call(`/module/${source}/export?format=csv&sort=id`);
    expect(exported.status).toBe(200);
    const copy = await leads("Lead copy");
    const { job } = await importFile(copy, exported.text);
    expect(job).toMatchObject({ status: "ok", import: { created: 3, rejected: 0 } });
    const strip = (list: Array<Record<string, unknown>>) => list.map(({ contentID: _id, ...rest }) => rest);
    expect(strip(await items(copy))).toEqual(strip(await items(source)));
  });
});

describe("key=contentID", () => {
  it("an export, edited and imported with key=contentID&onConflict=update, updates the same items", async () => {
    const m = await leads("Lead by id");
    await importFile(m, "name,value\nA,1\nB,2\n");
    const before = await items(m);
    const exported = (await call(`/module/${m}/export?format=csv&sort=id`)).text
      .replace(/^\uFEFF/, "")
      .trim()
      .split("\r\n");
    const header = exported[0];
    expect(header.startsWith("contentID,name,")).toBe(true);
    const rows = exported.slice(1).map((line) => line.replace(/,(A|B),,1?2?,/, (_m, n) => `,${n} edited,,${n === "A" ? 10 : 20},`));
    const file = [header, ...rows, ",C new,,,,,,,,,,,,", "999999,ghost,,,,,,,,,,,,"].join("\n");
    const { job } = await importFile(m, file, "text/csv", { key: "contentID", onConflict: "update", mode: "valid" });
    expect(job.import).toMatchObject({ key: "contentID", updated: 2, created: 1, rejected: 1 });
    const after = await items(m);
    expect(after.map((i) => [i.contentID, i.name, i.value ?? null])).toEqual([
      [before[0].contentID, "A edited", 10],
      [before[1].contentID, "B edited", 20],
      [expect.any(String), "C new", null],
    ]);
    expect((await reportOf(job.jobID)).text).toContain(`column 'contentID': no live item 999999 in module ${m}; leave the cell empty to create a new item`);
  });
});

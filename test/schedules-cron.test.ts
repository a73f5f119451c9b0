// Cron specs and time zones (src/schedules/cron.ts): validation that names the bad field, and fire
// times across daylight-saving changes in two zones, computed inside workerd (its ICU time zones).
import { describe, expect, it } from "vitest";
import { canonicalTimeZone, cronProblem, fireTimesAfter, fireTimesBetween, localIso, nextFireAfter } from "../src/schedules/cron";

const at = (text: string) => Date.parse(text);
const iso = (ms: number[]) => ms.map((t) => new Date(t).toISOString());
const open = { startAt: null, endAt: null };
const next = (cron: string, timezone: string, after: string, count: number) => iso(fireTimesAfter({ cron, timezone }, at(after), open, count));

describe("cron validation", () => {
  it("accepts five fields with ranges, lists, steps and names, and the shorthands", () => {
    for (const ok of [
      "* * * * *",
      "0 8 * * MON-FRI",
      "*/15 9-17 * * 1-5",
      "0 0 1 JAN,JUL *",
      "30 2 * * sun",
      "0 0 L * *",
      "0 12 * * FRI#2",
      "5,35 */2 1-15 * *",
    ]) {
      expect(cronProblem(ok), ok).toBeNull();
    }
    for (const ok of ["@daily", "@hourly", "@weekly", "@monthly", "@yearly", "@annually", "@midnight", "@DAILY"]) expect(cronProblem(ok), ok).toBeNull();
  });

  it("names the field at fault", () => {
    const cases: Array<[string, RegExp]> = [
      ["61 * * * *", /^field 1 \(minute\) '61' is invalid: expected 0-59/],
      ["0 24 * * *", /^field 2 \(hour\) '24' is invalid: expected 0-23/],
      ["0 0 0 * *", /^field 3 \(day of month\) '0' is invalid/],
      ["0 0 32 * *", /^field 3 \(day of month\) '32'/],
      ["0 0 * 13 *", /^field 4 \(month\) '13' is invalid: expected 1-12 or JAN-DEC/],
      ["0 0 * FOO *", /^field 4 \(month\) 'FOO'/],
      ["0 0 * * 8", /^field 5 \(day of week\) '8'/],
      ["0 0 * * MON-XYZ", /^field 5 \(day of week\)/],
      ["*/0 * * * *", /^field 1 \(minute\) '\*\/0'/],
      ["5-1 * * * *", /^field 1 \(minute\) '5-1'/],
    ];
    for (const [cron, message] of cases) expect(cronProblem(cron)?.message, cron).toMatch(message);
  });

  it("refuses the wrong number of fields, unknown shorthands, empty and never-matching specs", () => {
    expect(cronProblem("* * * *")?.message).toBe("must have 5 fields (minute hour day-of-month month day-of-week), got 4");
    expect(cronProblem("0 * * * * *")?.message).toMatch(/got 6$/);
    expect(cronProblem("@reboot")?.message).toMatch(/^unknown shorthand '@reboot'/);
    expect(cronProblem("   ")?.message).toBe("must not be empty");
    expect(cronProblem("0 0 30 2 *")?.message).toMatch(/never matches a date/);
    expect(cronProblem(`0 0 ${"1,".repeat(200)}1 * *`)?.message).toMatch(/at most 256 characters/);
  });

  it("knows IANA zones in any case and refuses others, fixed offsets included", () => {
    expect(canonicalTimeZone("Europe/Ljubljana")).toBe("Europe/Ljubljana");
    expect(canonicalTimeZone("europe/ljubljana")).toBe("Europe/Ljubljana");
    expect(canonicalTimeZone("America/New_York")).toBe("America/New_York");
    expect(canonicalTimeZone("UTC")).toBe("UTC");
    expect(canonicalTimeZone(" Europe/Ljubljana ")).toBe("Europe/Ljubljana");
    for (const bad of ["Mars/Base", "+01:00", "", "Europe/Ljubljana/", "GMT+1:00", "x".repeat(100)]) expect(canonicalTimeZone(bad), bad).toBeNull();
  });
});

describe("fire times", () => {
  it("weekday mornings in a zone, with the wall-clock time and offset", () => {
    const times = fireTimesAfter({ cron: "0 8 * * MON-FRI", timezone: "Europe/Ljubljana" }, at("2026-11-27T12:00:00Z"), open, 3);
    expect(iso(times)).toEqual(["2026-11-30T07:00:00.000Z", "2026-12-01T07:00:00.000Z", "2026-12-02T07:00:00.000Z"]);
    expect(localIso(times[0], "Europe/Ljubljana")).toBe("2026-11-30T08:00:00.000+01:00");
    expect(localIso(at("2026-07-01T06:00:00.123Z"), "Europe/Ljubljana")).toBe("2026-07-01T08:00:00.123+02:00");
    expect(localIso(at("2026-07-01T12:00:00Z"), "America/New_York")).toBe("2026-07-01T08:00:00.000-04:00");
    expect(localIso(at("2026-07-01T12:00:00Z"), "Asia/Kolkata")).toBe("2026-07-01T17:30:00.000+05:30");
  });

  it("shorthands", () => {
    expect(next("@daily", "UTC", "2026-11-27T12:00:30Z", 2)).toEqual(["2026-11-28T00:00:00.000Z", "2026-11-29T00:00:00.000Z"]);
    expect(next("@hourly", "UTC", "2026-11-27T12:00:30Z", 1)).toEqual(["2026-11-27T13:00:00.000Z"]);
    expect(next("@weekly", "UTC", "2026-11-27T12:00:30Z", 1)).toEqual(["2026-11-29T00:00:00.000Z"]); // Sunday
    expect(next("@monthly", "Europe/Ljubljana", "2026-11-27T12:00:30Z", 1)).toEqual(["2026-11-30T23:00:00.000Z"]);
  });

  it("is strictly after the given instant, and respects startAt/endAt (inclusive)", () => {
    const spec = { cron: "0 * * * *", timezone: "UTC" };
    expect(nextFireAfter(spec, at("2026-01-01T13:00:00Z"), open)).toBe(at("2026-01-01T14:00:00Z"));
    expect(nextFireAfter(spec, at("2026-01-01T12:59:59.999Z"), open)).toBe(at("2026-01-01T13:00:00Z"));
    const window = { startAt: at("2026-01-01T15:00:00Z"), endAt: at("2026-01-01T17:00:00Z") };
    expect(iso(fireTimesAfter(spec, at("2026-01-01T00:00:00Z"), window, 10))).toEqual([
      "2026-01-01T15:00:00.000Z",
      "2026-01-01T16:00:00.000Z",
      "2026-01-01T17:00:00.000Z",
    ]);
    expect(nextFireAfter(spec, at("2026-01-01T17:00:00Z"), window)).toBeNull();
    expect(fireTimesBetween(spec, at("2026-01-01T10:00:00Z"), at("2026-01-01T12:00:00Z"), 10)).toHaveLength(3);
    expect(fireTimesBetween(spec, at("2026-01-01T10:00:00Z"), at("2026-01-02T12:00:00Z"), 5)).toHaveLength(5);
  });

  describe("across daylight-saving changes", () => {
    // Europe/Ljubljana: 2026-03-29 02:00 CET → 03:00 CEST; 2026-10-25 03:00 CEST → 02:00 CET.
    // America/New_York: 2026-03-08 02:00 EST → 03:00 EDT; 2026-11-01 02:00 EDT → 01:00 EST.
    it("Europe/Ljubljana: a skipped 02:30 fires once at 03:00; a repeated 02:30 fires once", () => {
      expect(next("30 2 * * *", "Europe/Ljubljana", "2026-03-27T12:00:00Z", 3)).toEqual([
        "2026-03-28T01:30:00.000Z", // 02:30 CET
        "2026-03-29T01:00:00.000Z", // 02:30 does not exist: 03:00 CEST, the next valid instant
        "2026-03-30T00:30:00.000Z", // 02:30 CEST
      ]);
      expect(next("30 2 * * *", "Europe/Ljubljana", "2026-10-24T12:00:00Z", 2)).toEqual([
        "2026-10-25T00:30:00.000Z", // 02:30 CEST, the first of two; 02:30 CET (01:30Z) does not fire
        "2026-10-26T01:30:00.000Z",
      ]);
    });

    it("America/New_York: a skipped 02:30 fires once at 03:00; a repeated 01:30 fires once", () => {
      expect(next("30 2 * * *", "America/New_York", "2026-03-07T12:00:00Z", 2)).toEqual(["2026-03-08T07:00:00.000Z", "2026-03-09T06:30:00.000Z"]);
      expect(next("30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z", 2)).toEqual(["2026-11-01T05:30:00.000Z", "2026-11-02T06:30:00.000Z"]);
    });

    it("a list of fixed times inside the gap fires once, at the end of the gap", () => {
      expect(next("0,30 2 * * *", "Europe/Ljubljana", "2026-03-28T12:00:00Z", 3)).toEqual([
        "2026-03-29T01:00:00.000Z",
        "2026-03-30T00:00:00.000Z",
        "2026-03-30T00:30:00.000Z",
      ]);
      expect(next("0 1-3 * * *", "America/New_York", "2026-10-31T12:00:00Z", 4)).toEqual([
        "2026-11-01T05:00:00.000Z", // 01:00 EDT; 01:00 EST (06:00Z) is a repeat and does not fire
        "2026-11-01T07:00:00.000Z", // 02:00 EST
        "2026-11-01T08:00:00.000Z", // 03:00 EST
        "2026-11-02T06:00:00.000Z",
      ]);
    });

    it("a schedule that repeats within the day keeps its interval in elapsed time", () => {
      // Every 30 minutes stays every 30 minutes: no made-up times in the gap, each real instant of the repeated hour fires.
      const spring = fireTimesAfter({ cron: "*/30 * * * *", timezone: "Europe/Ljubljana" }, at("2026-03-29T00:00:00Z"), open, 4);
      expect(iso(spring)).toEqual(["2026-03-29T00:30:00.000Z", "2026-03-29T01:00:00.000Z", "2026-03-29T01:30:00.000Z", "2026-03-29T02:00:00.000Z"]);
      const autumn = fireTimesAfter({ cron: "*/30 * * * *", timezone: "America/New_York" }, at("2026-11-01T04:45:00Z"), open, 6);
      expect(autumn.slice(1).map((t, i) => t - autumn[i])).toEqual([1_800_000, 1_800_000, 1_800_000, 1_800_000, 1_800_000]);
      expect(autumn.map((t) => localIso(t, "America/New_York"))).toEqual([
        "2026-11-01T01:00:00.000-04:00",
        "2026-11-01T01:30:00.000-04:00",
        "2026-11-01T01:00:00.000-05:00",
        "2026-11-01T01:30:00.000-05:00",
        "2026-11-01T02:00:00.000-05:00",
        "2026-11-01T02:30:00.000-05:00",
      ]);
    });

    it("fire times strictly increase through a whole year of changes in both zones", () => {
      for (const timezone of ["Europe/Ljubljana", "America/New_York"]) {
        for (const cron of ["30 2 * * *", "0 1-3 * * *", "30 */2 * * *"]) {
          const times = fireTimesAfter({ cron, timezone }, at("2026-01-01T00:00:00Z"), { startAt: null, endAt: at("2027-01-01T00:00:00Z") }, 5000);
          expect(times.length).toBeGreaterThan(364);
          for (let i = 1; i < times.length; i++) expect(times[i], `${cron} ${timezone} #${i}`).toBeGreaterThan(times[i - 1]);
        }
      }
    });
  });
});

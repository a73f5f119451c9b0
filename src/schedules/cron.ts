// Cron specs and time zones, through croner (a maintained parser with no dependencies that runs in
// workerd). Everything else in src/schedules asks this file for fire times; nothing else parses a
// cron expression.
//
// Daylight-saving rules (croner's `fixedTimeRule: "no-wildcard"`, the rule Vixie cron follows):
//   - a schedule at fixed wall-clock times (minute and hour fields without `*` or a step, e.g.
//     `30 2 * * *`, `0 8,17 * * MON-FRI`): a time skipped by the change fires once, at the first
//     valid instant after the gap (02:30 → 03:00); a time that occurs twice fires once, at its first
//     occurrence;
//   - a schedule that repeats within the day by a wildcard or step (`*/15 * * * *`, `0 */2 * * *`)
//     follows elapsed time: wall-clock times inside the gap do not exist and are not made up, and
//     each real instant of the repeated hour fires (every 15 minutes stays every 15 minutes).
// Either way every fire time is one instant, and fire times strictly increase.
import { Cron } from "croner";
import { CRON_MAX_CHARS } from "./limits";

export type CronSpec = { cron: string; timezone: string };

const FIELDS = [
  { name: "minute", range: "0-59" },
  { name: "hour", range: "0-23" },
  { name: "day of month", range: "1-31, L, W" },
  { name: "month", range: "1-12 or JAN-DEC" },
  { name: "day of week", range: "0-7 (0 and 7 are Sunday) or SUN-SAT, #n, L" },
] as const;

const SHORTHANDS = ["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"];

/** croner's options for every spec: five fields, standard day-of-month OR day-of-week, Vixie DST rule. */
const options = (timezone: string) => ({ timezone, mode: "5-part" as const, fixedTimeRule: "no-wildcard" as const });

function compile(spec: CronSpec): Cron {
  // Without a callback croner only evaluates: no timer is started.
  return new Cron(spec.cron, options(spec.timezone));
}

type CronProblem = { message: string };

/**
 * Why `cron` is not a valid five-field expression (or shorthand), naming the field at fault; null
 * when it is valid. Each field is tried on its own (the others `*`), so the message can say which.
 */
export function cronProblem(cron: string): CronProblem | null {
  const text = cron.trim();
  if (text === "") return { message: "must not be empty" };
  if (text.length > CRON_MAX_CHARS) return { message: `at most ${CRON_MAX_CHARS} characters` };
  if (text.startsWith("@")) {
    return SHORTHANDS.includes(text.toLowerCase()) ? null : { message: `unknown shorthand '${text}': use one of ${SHORTHANDS.join(", ")}` };
  }
  const parts = text.split(/\s+/);
  if (parts.length !== 5) {
    return { message: `must have 5 fields (minute hour day-of-month month day-of-week), got ${parts.length}` };
  }
  for (let i = 0; i < parts.length; i++) {
    const alone = FIELDS.map((_, j) => (j === i ? parts[i] : "*")).join(" ");
    if (!compiles(alone)) {
      const field = FIELDS[i];
      return { message: `field ${i + 1} (${field.name}) '${parts[i]}' is invalid: expected ${field.range}, with lists (,), ranges (-) and steps (/)` };
    }
  }
  if (!compiles(text)) return { message: "is not a valid cron expression" };
  if (compile({ cron: text, timezone: "UTC" }).nextRun(new Date(Date.UTC(2000, 0, 1))) === null) {
    return { message: "never matches a date (e.g. the 30th of February)" };
  }
  return null;
}

function compiles(cron: string): boolean {
  try {
    compile({ cron, timezone: "UTC" });
    return true;
  } catch {
    return false;
  }
}

/**
 * The canonical spelling of an IANA time zone name ("europe/ljubljana" → "Europe/Ljubljana"), or
 * null when the runtime does not know it. Fixed offsets ("+01:00") are refused: a schedule follows a
 * place's rules, daylight saving included.
 */
export function canonicalTimeZone(name: string): string | null {
  const text = name.trim();
  if (!/^[A-Za-z][A-Za-z0-9_+\-/]{0,63}$/.test(text)) return null;
  try {
    return new Intl.DateTimeFormat("en-US", { timeZone: text }).resolvedOptions().timeZone;
  } catch {
    return null;
  }
}

/** Bounds on fire times, ms since the epoch (both inclusive; null: none). */
export type Window = { startAt: number | null; endAt: number | null };

/** The first fire time strictly after `after` within the window, or null (none left). */
export function nextFireAfter(spec: CronSpec, after: number, window: Window): number | null {
  const from = window.startAt !== null && window.startAt - 1 > after ? window.startAt - 1 : after;
  const next = compile(spec).nextRun(new Date(from));
  if (!next) return null;
  const t = next.getTime();
  return window.endAt !== null && t > window.endAt ? null : t;
}

/** Up to `count` fire times strictly after `after`, within the window, oldest first. */
export function fireTimesAfter(spec: CronSpec, after: number, window: Window, count: number): number[] {
  const cron = compile(spec);
  const out: number[] = [];
  let cursor = window.startAt !== null && window.startAt - 1 > after ? window.startAt - 1 : after;
  for (let i = 0; i < count; i++) {
    const next = cron.nextRun(new Date(cursor));
    if (!next) break;
    const t = next.getTime();
    if (window.endAt !== null && t > window.endAt) break;
    if (t <= cursor) break; // never expected; guards the loop against a stuck iterator
    out.push(t);
    cursor = t;
  }
  return out;
}

/**
 * Fire times in [from, to] (inclusive), oldest first; at most `limit` (so a caller asking for
 * limit + 1 learns that there are more).
 */
export function fireTimesBetween(spec: CronSpec, from: number, to: number, limit: number): number[] {
  return fireTimesAfter(spec, from - 1, { startAt: null, endAt: to }, limit);
}

const pad = (n: number, width = 2) => String(n).padStart(width, "0");

/**
 * The instant as wall-clock time in the zone with its offset, as RFC 3339 with milliseconds:
 * `2026-11-30T08:00:00.000+01:00`.
 */
export function localIso(ms: number, timezone: string): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-US", {
      timeZone: timezone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    })
      .formatToParts(new Date(ms))
      .map((p) => [p.type, p.value]),
  );
  const millis = ((ms % 1000) + 1000) % 1000;
  const wall = Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day), Number(parts.hour), Number(parts.minute), Number(parts.second));
  const offsetMin = Math.round((wall - (ms - millis)) / 60_000);
  const sign = offsetMin < 0 ? "-" : "+";
  const abs = Math.abs(offsetMin);
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}:${parts.second}.${pad(millis, 3)}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

// ISO 8601 durations for date trigger offsets: `P3D`, `-P3D`, `PT2H`, `P1DT12H`, `P2W`, `-PT90M`.
// Only units of fixed length: years and months are refused (a month is 28 to 31 days), so an
// offset is a number of milliseconds and "date + offset" is plain arithmetic in UTC.
import { MAX_OFFSET_MS } from "./limits";

const DURATION = /^([+-])?P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d{1,3})?)S)?)?$/;

/** The offset in milliseconds, or a message saying what is wrong. */
export function parseOffset(text: string): { ms: number } | { problem: string } {
  const upper = text.trim().toUpperCase();
  if (/^[+-]?P(?:[^T]*\d+Y|[^T]*\d+M)/.test(upper)) {
    return { problem: "years and months have no fixed length: write the offset in weeks, days, hours, minutes or seconds (e.g. -P30D)" };
  }
  const m = DURATION.exec(upper);
  if (!m || upper.endsWith("P") || upper.endsWith("T")) {
    return { problem: "must be an ISO 8601 duration such as P3D, -P3D (before), PT2H or P1DT12H" };
  }
  const [, sign, w, d, h, min, s] = m;
  const ms = ((Number(w ?? 0) * 7 + Number(d ?? 0)) * 86_400 + Number(h ?? 0) * 3600 + Number(min ?? 0) * 60 + Number(s ?? 0)) * 1000;
  if (ms > MAX_OFFSET_MS) return { problem: `must be at most ${MAX_OFFSET_MS / 86_400_000} days either way` };
  return { ms: sign === "-" && ms !== 0 ? -ms : ms };
}

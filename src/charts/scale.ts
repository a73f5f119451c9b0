// Tick and scale arithmetic for the SVG renderer, defined for every double a chart can hold.
// Stored numbers reach ±1.8e308 (so `hi - lo` can overflow to Infinity), go down to subnormals
// (so a step can underflow to 0), and two x values can be nearly equal relative to their size
// (0.3 and 0.1 + 0.2; 1e16 and 1e16 + 2: `v += step` leaves v unchanged). So ticks are computed
// by index, at most MAX_TICKS of them, never by walking the range; and every position is finite.

/** The most ticks an axis ever gets, whatever it is asked for. */
const MAX_TICKS = 20;

/** A round step, m·10^p with m in 1, 2, 5. */
type Step = { m: number; p: number };

/** Beyond 10^±307 a step or its inverse stops being an ordinary double. */
const MIN_POWER = -307;
const MAX_POWER = 308;

const stepValue = (s: Step) => s.m * 10 ** s.p;

/** The largest round step that is a finite double. */
const TOP_STEP: Step = { m: 1, p: MAX_POWER };

/** The 1-2-5 round step for a raw step (d3's rule: 1 below 1.5, 2 below 3.5, 5 below 7.5, else 10). */
function roundStep(raw: number): Step {
  const p = Math.floor(Math.log10(raw));
  const err = raw / 10 ** p;
  if (err >= 7.5) return { m: 1, p: p + 1 };
  return { m: err >= 3.5 ? 5 : err >= 1.5 ? 2 : 1, p };
}

/** The next round step up: 1 → 2 → 5 → 10. */
const nextStep = (s: Step): Step => (s.m === 1 ? { m: 2, p: s.p } : s.m === 2 ? { m: 5, p: s.p } : { m: 1, p: s.p + 1 });

/**
 * The k-th multiple of a step. For negative powers it divides by the step's inverse (an integer),
 * so 3 · 0.1 is 0.3, not 0.30000000000000004.
 */
function multiple(k: number, s: Step): number {
  return s.p < 0 ? k / (10 ** -s.p / s.m) : k * stepValue(s);
}

/** The first and last index k with multiple(k) inside [a, b]. */
function indexRange(a: number, b: number, s: Step): [number, number] {
  const v = stepValue(s);
  let first = Math.round(a / v);
  if (multiple(first, s) < a) first += 1;
  let last = Math.round(b / v);
  if (multiple(last, s) > b) last -= 1;
  return [first, last];
}

/** The finite ends of a range, ascending; undefined when neither end is finite. */
function finiteEnds(lo: number, hi: number): [number, number] | undefined {
  const ends = [lo, hi].filter(Number.isFinite);
  if (!ends.length) return undefined;
  return [Math.min(...ends), Math.max(...ends)];
}

/** The round step for about `count` ticks over [a, b] (a < b, both finite), or undefined when none resolves the range. */
function chooseStep(a: number, b: number, count: number, integer: boolean): Step | undefined {
  const n = Math.min(MAX_TICKS, Math.max(1, Math.floor(count) || 5));
  // b - a overflows beyond ±1.8e308: measure the span in halves.
  const halfSpan = b / 2 - a / 2;
  const raw = Math.min(Number.MAX_VALUE, (halfSpan / n) * 2);
  if (!(raw > 0)) return undefined;
  let step = roundStep(raw);
  if (!Number.isFinite(stepValue(step))) step = TOP_STEP; // 2e308 overflows
  if (integer && step.p < 0) step = { m: 1, p: 0 }; // counts have no fractional ticks
  if (step.p < MIN_POWER) return undefined;
  const v = stepValue(step);
  // A step below the resolution of the values themselves cannot tell two ticks apart.
  if (a + v === a || b - v === b) return undefined;
  // The 1-2-5 rounding can give up to 1.5 times the ticks asked for: widen to stay within the cap.
  for (let tries = 0; tries < 4; tries++) {
    const [first, last] = indexRange(a, b, step);
    const wider = nextStep(step);
    if (last - first + 1 <= MAX_TICKS || !Number.isFinite(stepValue(wider))) break;
    step = wider;
  }
  return step;
}

/**
 * Evenly spaced round tick values inside [lo, hi] (the d3 steps 1, 2, 5): about `count` of them,
 * never more than MAX_TICKS, all finite and ascending. Non-finite ends are left out; a range
 * that is one value, or too narrow for a round step to resolve, answers its ends.
 */
export function niceTicks(lo: number, hi: number, count = 5, integer = false): number[] {
  const ends = finiteEnds(lo, hi);
  if (!ends) return [];
  const [a, b] = ends;
  if (a === b) return [a === 0 ? 0 : a];
  const step = chooseStep(a, b, count, integer);
  const out: number[] = [];
  if (step) {
    const [first, last] = indexRange(a, b, step);
    const n = Math.min(last - first + 1, MAX_TICKS); // NaN compares false: no ticks
    for (let i = 0; i < n; i++) {
      const v = multiple(first + i, step);
      // Near 2^53 multiples the index itself rounds: keep what is in range and new.
      if (Number.isFinite(v) && v >= a && v <= b && v !== out[out.length - 1]) out.push(v === 0 ? 0 : v);
    }
  }
  return out.length ? out : [a, b];
}

/**
 * The value axis of a chart: the range of the finite values and 0, widened to round ticks where
 * that stays finite. Always finite with lo < hi.
 */
export function valueDomain(values: readonly (number | null)[], integer: boolean): [number, number] {
  let lo = 0;
  let hi = 0;
  for (const v of values) {
    if (v === null || !Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo === hi) return [0, 1]; // only zeros, or nothing: lo and hi are 0
  const step = chooseStep(lo, hi, 5, integer);
  if (!step) return [lo, hi];
  const v = stepValue(step);
  const roundLo = multiple(Math.floor(lo / v), step);
  const roundHi = multiple(Math.ceil(hi / v), step);
  return [Number.isFinite(roundLo) && roundLo <= lo ? roundLo : lo, Number.isFinite(roundHi) && roundHi >= hi ? roundHi : hi];
}

/**
 * Where v sits between lo and hi, as a fraction (0 at lo, 1 at hi), finite for any finite input:
 * a span that overflows is measured in halves; an empty span puts everything in the middle.
 */
export function fraction(v: number, lo: number, hi: number): number {
  if (!(hi > lo) || !Number.isFinite(v)) return 0.5;
  const span = hi - lo;
  const f = Number.isFinite(span) ? (v - lo) / span : (v / 2 - lo / 2) / (hi / 2 - lo / 2);
  return Number.isFinite(f) ? Math.max(-1, Math.min(2, f)) : 0.5;
}

/**
 * Tick labels that tell their ticks apart: the short format, or, where two ticks would read the
 * same (1e16 and 1e16 + 2 both read 1.00e+16), each number's shortest exact form.
 */
export function tickLabels(ticks: readonly number[], format: (n: number) => string): string[] {
  const short = ticks.map(format);
  return new Set(short).size === short.length ? short : ticks.map((t) => String(t));
}

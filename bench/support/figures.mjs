/** One figure per line, `name value unit`, as every Herald benchmark prints them. */
export function printFigure(name, value, unit) {
  const shown =
    typeof value === 'number' && !Number.isInteger(value) ? value.toFixed(value < 10 ? 2 : 1) : value;
  process.stdout.write(`${name} ${shown} ${unit}\n`);
}

/** A line that is not a figure (what was measured, how); starts with `#`. */
export function printNote(text) {
  process.stdout.write(`# ${text}\n`);
}

/** Herald/baseline with its goal. The benchmark reports; it never asserts. */
export function printRatio(name, herald, baseline, goal) {
  const ratio = herald / baseline;
  process.stdout.write(`${name} ${Number.isFinite(ratio) ? ratio.toFixed(2) : ratio} x (goal ${goal})\n`);
  return ratio;
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function percentile(values, p) {
  if (values.length === 0) return NaN;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Milliseconds on a clock that worker threads and the main thread share. */
export function now() {
  return performance.timeOrigin + performance.now();
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

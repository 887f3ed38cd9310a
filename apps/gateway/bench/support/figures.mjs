/** One figure per line, `name value unit`, as every Herald benchmark prints them. */
export function printFigure(name, value, unit) {
  process.stdout.write(`${name} ${value} ${unit}\n`);
}

export function percentile(values, p) {
  if (values.length === 0) return NaN;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

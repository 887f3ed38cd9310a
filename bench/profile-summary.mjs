// Self time by function from V8 .cpuprofile files (node --cpu-prof), heaviest first:
//   node bench/profile-summary.mjs /tmp/prof/*.cpuprofile [--top 40] [--by-package] [--from 5 --to 12]
// --from/--to: only the samples taken that many seconds after the profile started (leaves out start-up).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    top: { type: 'string', default: '40' },
    'by-package': { type: 'boolean', default: false },
    from: { type: 'string', default: '0' },
    to: { type: 'string', default: 'Infinity' },
  },
});
/** `--by-package`: npm package, workspace package, node internals or the VM's own buckets. */
function packageOf(url, functionName) {
  if (!url) return functionName.startsWith('(') ? functionName : `(native) ${functionName}`;
  if (url.startsWith('node:')) return 'node:internal';
  const npm = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (npm) return npm[1];
  const workspace = /\/(apps|packages)\/([^/]+)\//.exec(url);
  return workspace ? `@herald/${workspace[2]}` : url;
}

const selfByFrame = new Map();
let total = 0;
for (const file of positionals) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const deltas = profile.timeDeltas;
  let at = 0; // µs since the profile started
  for (let i = 0; i < profile.samples.length; i++) {
    at += deltas[i] ?? 0;
    if (at < Number(values.from) * 1e6 || at > Number(values.to) * 1e6) continue;
    const { callFrame } = nodes.get(profile.samples[i]);
    const where = callFrame.url
      ? callFrame.url.replace(/^.*node_modules\/(\.pnpm\/[^/]+\/node_modules\/)?/, '')
      : '';
    const key = values['by-package']
      ? packageOf(callFrame.url, callFrame.functionName)
      : `${callFrame.functionName || '(anonymous)'} ${where}:${callFrame.lineNumber + 1}`;
    const dt = deltas[i] ?? 0;
    selfByFrame.set(key, (selfByFrame.get(key) ?? 0) + dt);
    total += dt;
  }
}
const rows = [...selfByFrame].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top));
for (const [key, us] of rows) {
  console.log(
    `${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(7)} ms  ${key}`,
  );
}

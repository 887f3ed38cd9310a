// Self time by function from V8 .cpuprofile files (node --cpu-prof), heaviest first:
//   node bench/profile-summary.mjs /tmp/prof/*.cpuprofile [--top 40] [--by-package]
//     [--from 16 --to 21]   only the samples between these seconds of the profile (e.g. the full-load
//                           window of one target; `--per-second` shows where that is)
//     [--inclusive]         time with the function anywhere on the stack, as a share of the busy samples
//     [--per-second]        the share of non-idle samples in each second, to find the load windows
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    top: { type: 'string', default: '40' },
    'by-package': { type: 'boolean', default: false },
    from: { type: 'string', default: '0' },
    to: { type: 'string', default: 'Infinity' },
    inclusive: { type: 'boolean', default: false },
    'per-second': { type: 'boolean', default: false },
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

function keyOf({ url, functionName, lineNumber }) {
  if (values['by-package']) return packageOf(url, functionName);
  const where = url ? url.replace(/^.*node_modules\/(\.pnpm\/[^/]+\/node_modules\/)?/, '') : '';
  return `${functionName || '(anonymous)'} ${where}:${lineNumber + 1}`;
}

const from = Number(values.from) * 1e6;
const to = Number(values.to) * 1e6;
const timeByKey = new Map();
let total = 0;
for (const file of positionals) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parents = new Map(profile.nodes.flatMap((n) => (n.children ?? []).map((child) => [child, n])));
  const busyBySecond = [];
  let elapsed = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i] ?? 0;
    elapsed += dt;
    if (elapsed < from || elapsed >= to) continue;
    const node = nodes.get(profile.samples[i]);
    const idle = node.callFrame.functionName === '(idle)';
    const second = (busyBySecond[Math.floor(elapsed / 1e6)] ??= { busy: 0, all: 0 });
    second.all += dt;
    if (!idle) second.busy += dt;
    if (values.inclusive) {
      if (idle) continue;
      // Each function once per sample, however deep its recursion.
      const keys = new Set();
      for (let n = node; n; n = parents.get(n.id)) keys.add(keyOf(n.callFrame));
      for (const key of keys) timeByKey.set(key, (timeByKey.get(key) ?? 0) + dt);
    } else {
      const key = keyOf(node.callFrame);
      timeByKey.set(key, (timeByKey.get(key) ?? 0) + dt);
    }
    total += dt;
  }
  if (values['per-second']) {
    const shares = busyBySecond.map((s, second) => `${second}s ${Math.round((100 * s.busy) / s.all)}%`);
    console.log(`${file}: busy share per second: ${shares.filter(Boolean).join(', ')}`);
  }
}
const rows = [...timeByKey].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top));
for (const [key, us] of rows) {
  console.log(
    `${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(7)} ms  ${key}`,
  );
}

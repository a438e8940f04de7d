/**
 * Where a server's CPU went, from a V8 profile written by `bench:clients -- --cpu-prof DIR`:
 * self time by function and by origin (our source file, an npm package, Node itself).
 *
 *   node --import tsx bench/cpu-profile-top.ts DIR/*.cpuprofile [--top 30]
 */
import { readFileSync } from 'node:fs';
import { flag, table } from './lib.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const top = Number(flag('top', '30'));
const files = process.argv.slice(2).filter((a) => a.endsWith('.cpuprofile'));
if (files.length === 0) throw new Error('usage: cpu-profile-top.ts FILE.cpuprofile...');

function origin(url: string): string {
  if (url === '') return '(V8 / native)';
  if (url.startsWith('node:')) return 'node: core';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return `npm ${pkg[1]}`;
  const own = /\/((?:src|bench)\/.+)$/.exec(url);
  return own ? (own[1] as string) : url;
}

const byFunction = new Map<string, number>();
const byOrigin = new Map<string, number>();
let total = 0;
for (const file of files) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  profile.samples.forEach((id, i) => {
    const node = nodes.get(id);
    const micros = profile.timeDeltas[i] ?? 0;
    if (!node) return;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)' || functionName === '(program)') return;
    total += micros;
    const where = origin(url);
    const key = `${functionName || '(anonymous)'} ${where}${url ? `:${lineNumber + 1}` : ''}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + micros);
    byOrigin.set(where, (byOrigin.get(where) ?? 0) + micros);
  });
}

function rows(map: Map<string, number>): (string | number)[][] {
  return [...map.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, micros]) => [
      name,
      Math.round(micros / 1000),
      `${((100 * micros) / total).toFixed(1)}%`,
    ]);
}

console.log(
  `busy CPU in the profile (idle and "(program)" left out): ${Math.round(total / 1000)} ms\n`,
);
console.log(table(['origin', 'self ms', 'share'], rows(byOrigin)));
console.log();
console.log(table(['function', 'self ms', 'share'], rows(byFunction)));

/**
 * `node --import tsx test/bench/summarize-profile.ts <file.cpuprofile> [top]`: self and total time per
 * function of a `node --cpu-prof` profile, to find a benchmark's hot path. For example:
 *
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx test/bench/run.ts --child tumbling-count 1 2000000
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

const [file, topArg] = process.argv.slice(2);
if (file === undefined) throw new Error('usage: summarize-profile.ts <file.cpuprofile> [top]');
const top = Number(topArg ?? 30);
const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;

const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const parentOf = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);

const label = (node: ProfileNode): string => {
  const { functionName, url, lineNumber } = node.callFrame;
  const where = url === '' ? '' : ` ${url.replace(/^.*\/(src|connectors|test|node_modules)\//, '$1/')}:${lineNumber + 1}`;
  return `${functionName === '' ? '(anonymous)' : functionName}${where}`;
};

const selfUs = new Map<string, number>();
const totalUs = new Map<string, number>();
let allUs = 0;
for (let i = 0; i < profile.samples.length; i++) {
  const delta = profile.timeDeltas[i] ?? 0;
  allUs += delta;
  let node = byId.get(profile.samples[i]!);
  if (node === undefined) continue;
  const self = label(node);
  selfUs.set(self, (selfUs.get(self) ?? 0) + delta);
  const seen = new Set<string>();
  while (node !== undefined) {
    const name = label(node);
    if (!seen.has(name)) {
      seen.add(name);
      totalUs.set(name, (totalUs.get(name) ?? 0) + delta);
    }
    const parent = parentOf.get(node.id);
    node = parent === undefined ? undefined : byId.get(parent);
  }
}

const print = (title: string, table: Map<string, number>): void => {
  console.log(`\n${title} (of ${(allUs / 1000).toFixed(0)} ms)`);
  for (const [name, us] of [...table].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${((us / allUs) * 100).toFixed(1).padStart(5)} %  ${name}`);
  }
};
print('self time', selfUs);
print('total time', totalUs);

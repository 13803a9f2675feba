/**
 * `npm run bench [-- --quick] [-- scenario…]`: the throughput benchmark. Each scenario runs through the
 * real runtime (`executeJob`) with a generator source and a discarding sink, at parallelism 1 (every
 * task in one thread, `workers: 0`) and 2 (two worker threads), each in a fresh child process so that
 * its peak RSS is its own. Prints a markdown table for the README.
 *
 * Options: `--quick` (fewer events), `--parallelism 1,2`, `--runs n` (best of n, default 1),
 * scenario names or prefixes (`map-filter`, `tumbling`, `sliding`, `session`) to run only those.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SCENARIOS, formatTable, machineDescription, type Measurement, type Scenario } from './scenarios.ts';
import { measureInChild } from './measure.ts';

interface Options {
  readonly quick: boolean;
  readonly parallelisms: readonly number[];
  readonly runs: number;
  readonly scenarios: readonly Scenario[];
}

function parseOptions(argv: readonly string[]): Options {
  let quick = false;
  let parallelisms = [1, 2];
  let runs = 1;
  const filters: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--quick') quick = true;
    else if (arg === '--parallelism') parallelisms = argv[++i]!.split(',').map(Number);
    else if (arg === '--runs') runs = Number(argv[++i]);
    else if (arg.startsWith('--')) throw new Error(`unknown option ${arg}`);
    else filters.push(arg);
  }
  if (parallelisms.some((p) => !Number.isInteger(p) || p < 1)) throw new Error('--parallelism takes whole numbers ≥ 1, e.g. 1,2');
  if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs takes a whole number ≥ 1');
  const scenarios = filters.length === 0 ? SCENARIOS : SCENARIOS.filter((s) => filters.some((f) => s.id.startsWith(f)));
  if (scenarios.length === 0) throw new Error(`no scenario matches ${filters.join(', ')}; known: ${SCENARIOS.map((s) => s.id).join(', ')}`);
  return { quick, parallelisms, runs, scenarios };
}

/** Runs one measurement in a fresh `node --import tsx` process and returns what it printed. */
function runChild(scenarioId: string, parallelism: number, count: number): Promise<Measurement> {
  const script = fileURLToPath(import.meta.url);
  const child = spawn(process.execPath, ['--import', 'tsx', script, '--child', scenarioId, String(parallelism), String(count)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let stdout = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => (stdout += chunk));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) {
        reject(new Error(`${scenarioId} at parallelism ${parallelism} exited with code ${code}`));
        return;
      }
      const line = stdout.trim().split('\n').at(-1) ?? '';
      resolve(JSON.parse(line) as Measurement);
    });
  });
}

async function main(argv: readonly string[]): Promise<void> {
  if (argv[0] === '--child') {
    const measurement = await measureInChild(argv[1]!, Number(argv[2]), Number(argv[3]));
    process.stdout.write(`${JSON.stringify(measurement)}\n`);
    return;
  }
  const options = parseOptions(argv);
  console.error(`${machineDescription()}${options.quick ? ' — quick run' : ''}`);
  const rows: Measurement[] = [];
  const needsWorkers = options.parallelisms.some((p) => p > 1);
  for (const scenario of options.scenarios) {
    for (const parallelism of options.parallelisms) {
      const count = options.quick ? scenario.quickCount : scenario.count;
      let best: Measurement | undefined;
      for (let run = 0; run < options.runs; run++) {
        const measurement = await runChild(scenario.id, parallelism, count);
        console.error(
          `  ${scenario.id} p=${parallelism}: ${Math.round(measurement.eventsPerSecond).toLocaleString('en-US')} events/s ` +
            `(${measurement.measuredMs} ms measured, ${measurement.cpuMs} ms CPU in ${measurement.totalMs} ms, ` +
            `${measurement.recordsOut} out, peak RSS ${measurement.maxRssMb} MB)`,
        );
        if (best === undefined || measurement.eventsPerSecond > best.eventsPerSecond) best = measurement;
      }
      rows.push(best!);
    }
  }
  const startup = needsWorkers ? await runChild('empty', 2, 0) : undefined;
  process.stdout.write(`${formatTable(rows, startup, options.runs)}\n`);
}

await main(process.argv.slice(2));

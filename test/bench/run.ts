/**
 * `npm run bench [-- --quick] [-- scenario…]`: the throughput benchmark. Each scenario runs through the
 * real runtime (`executeJob`) with a generator source and a discarding sink, at parallelism 1 (every
 * task in one thread, `workers: 0`) and 2 (two worker threads), each in a fresh child process so that
 * its peak RSS is its own. Prints a markdown table for the README. Then the checkpointing benchmarks
 * (checkpoint-bench.ts): `checkpoints` (throughput with checkpoints every 1 s against off, and the
 * checkpoints' durations) and `recovery` (SIGKILL to processing again); `soak` (a random-kill soak,
 * ~60 s) runs only when named; so does `kafka` (kafka-bench.ts: Kafka ▶ count ▶ Kafka with Eddy beside raw
 * kafkajs, against a development broker it starts itself; needs Java, ~3 minutes). `rocksdb` (in the default
 * set) compares the RocksDB state backend with the memory one (rocksdb-bench.ts: a tumbling count whose
 * state fits the cache, 1M-key value updates that do not); `larger-than-memory` runs only when named (20M
 * keys, over 2 GB of state, under a 512 MB heap and a 256 MB state budget; ~15 minutes).
 *
 * Options: `--quick` (fewer events, one kill per parallelism), `--parallelism 1,2`, `--runs n` (best of
 * n, default 1; for `recovery`, kills per parallelism, default 3), scenario names or prefixes
 * (`map-filter`, `tumbling`, `sliding`, `session`, `checkpoints`, `recovery`, `soak`, `kafka`, `rocksdb`,
 * `larger-than-memory`) to run only those;
 * for the soak `--seed n` (default 1) and `--soak-seconds n` (default 60); for `kafka` `--records n` (input
 * records, default 1,000,000; 200,000 with `--quick`); for `larger-than-memory` `--keys n` (default
 * 20,000,000) and `--state-memory size` (default 256mb).
 */
import { fileURLToPath } from 'node:url';
import { runJsonChild } from './json-child.ts';
import { SCENARIOS, formatTable, machineDescription, type Measurement, type Scenario } from './scenarios.ts';
import { measureInChild } from './measure.ts';
import {
  formatCheckpointTables,
  formatRecoveryTable,
  formatSoakTable,
  measureCheckpointsInChild,
  measureRecovery,
  runSoak,
  type CheckpointMeasurement,
  type RecoveryMeasurement,
  type SinkKind,
} from './checkpoint-bench.ts';
import { benchKafka, DEFAULT_KAFKA_RECORDS, measureKafkaInChild, QUICK_KAFKA_RECORDS, type KafkaChildRequest } from './kafka-bench.ts';
import { benchRocksDB, DEFAULT_HUGE_KEYS, DEFAULT_HUGE_STATE_MEMORY } from './rocksdb-bench.ts';

/** Events of the checkpoint throughput runs: ~6 s at parallelism 1 on a quiet machine. */
const CHECKPOINT_EVENTS = 10_000_000;
const CHECKPOINT_QUICK_EVENTS = 3_000_000;

interface Options {
  readonly quick: boolean;
  readonly parallelisms: readonly number[];
  readonly runs: number;
  readonly scenarios: readonly Scenario[];
  readonly checkpoints: boolean;
  readonly recovery: boolean;
  readonly soak: boolean;
  readonly kafka: boolean;
  /** The RocksDB backend's throughput against memory, (a) and (b) of rocksdb-bench.ts. */
  readonly rocksdb: boolean;
  /** The larger-than-memory run, (c) of rocksdb-bench.ts. */
  readonly largerThanMemory: boolean;
  readonly hugeKeys: number;
  readonly hugeStateMemory: string;
  readonly runsGiven: boolean;
  readonly seed: number;
  readonly soakSeconds: number;
  /** Input records of `kafka`; undefined: the default for the run (quick or not). */
  readonly kafkaRecords: number | undefined;
}

function parseOptions(argv: readonly string[]): Options {
  let quick = false;
  let parallelisms = [1, 2];
  let runs = 1;
  let runsGiven = false;
  let seed = 1;
  let soakSeconds = 60;
  let kafkaRecords: number | undefined;
  let hugeKeys = DEFAULT_HUGE_KEYS;
  let hugeStateMemory = DEFAULT_HUGE_STATE_MEMORY;
  const filters: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--quick') quick = true;
    else if (arg === '--parallelism') parallelisms = argv[++i]!.split(',').map(Number);
    else if (arg === '--runs') {
      runs = Number(argv[++i]);
      runsGiven = true;
    } else if (arg === '--seed') seed = Number(argv[++i]);
    else if (arg === '--soak-seconds') soakSeconds = Number(argv[++i]);
    else if (arg === '--records') kafkaRecords = Number(argv[++i]);
    else if (arg === '--keys') hugeKeys = Number(argv[++i]);
    else if (arg === '--state-memory') hugeStateMemory = argv[++i] ?? '';
    else if (arg.startsWith('--')) throw new Error(`unknown option ${arg}`);
    else filters.push(arg);
  }
  if (parallelisms.some((p) => !Number.isInteger(p) || p < 1)) throw new Error('--parallelism takes whole numbers ≥ 1, e.g. 1,2');
  if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs takes a whole number ≥ 1');
  if (!Number.isInteger(seed)) throw new Error('--seed takes a whole number');
  if (!(soakSeconds > 0)) throw new Error('--soak-seconds takes a positive number');
  if (kafkaRecords !== undefined && (!Number.isInteger(kafkaRecords) || kafkaRecords < 1)) throw new Error('--records takes a whole number ≥ 1');
  const matches = (id: string): boolean => filters.some((f) => id.startsWith(f));
  const all = filters.length === 0;
  const scenarios = all ? SCENARIOS : SCENARIOS.filter((s) => matches(s.id));
  const checkpoints = all || matches('checkpoints');
  const recovery = all || matches('recovery');
  const soak = !all && matches('soak');
  const kafka = !all && matches('kafka');
  const rocksdb = all || matches('rocksdb');
  const largerThanMemory = !all && matches('larger-than-memory');
  if (!Number.isInteger(hugeKeys) || hugeKeys < 1) throw new Error('--keys takes a whole number ≥ 1');
  if (scenarios.length === 0 && !checkpoints && !recovery && !soak && !kafka && !rocksdb && !largerThanMemory) {
    const known = [...SCENARIOS.map((s) => s.id), 'checkpoints', 'recovery', 'soak', 'kafka', 'rocksdb', 'larger-than-memory'];
    throw new Error(`no scenario matches ${filters.join(', ')}; known: ${known.join(', ')}`);
  }
  return {
    quick,
    parallelisms,
    runs,
    scenarios,
    checkpoints,
    recovery,
    soak,
    kafka,
    rocksdb,
    largerThanMemory,
    hugeKeys,
    hugeStateMemory,
    runsGiven,
    seed,
    soakSeconds,
    kafkaRecords,
  };
}

/** Runs one measurement in a fresh `node --import tsx` process and returns what it printed. */
function runChild(scenarioId: string, parallelism: number, count: number): Promise<Measurement> {
  return runChildWith<Measurement>(['--child', scenarioId, String(parallelism), String(count)], `${scenarioId} at parallelism ${parallelism}`);
}

function runChildWith<T>(args: readonly string[], what: string): Promise<T> {
  return runJsonChild<T>(fileURLToPath(import.meta.url), args, what);
}

async function main(argv: readonly string[]): Promise<void> {
  if (argv[0] === '--child') {
    const measurement = await measureInChild(argv[1]!, Number(argv[2]), Number(argv[3]));
    process.stdout.write(`${JSON.stringify(measurement)}\n`);
    return;
  }
  if (argv[0] === '--checkpoint-child') {
    const measurement = await measureCheckpointsInChild(argv[1] as SinkKind, Number(argv[2]), Number(argv[3]), argv[4] === 'on');
    process.stdout.write(`${JSON.stringify(measurement)}\n`);
    return;
  }
  if (argv[0] === '--kafka-child') {
    const measurement = await measureKafkaInChild(JSON.parse(argv[1]!) as KafkaChildRequest);
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
  if (rows.length > 0) {
    const startup = needsWorkers ? await runChild('empty', 2, 0) : undefined;
    process.stdout.write(`${formatTable(rows, startup, options.runs)}\n`);
  }
  if (options.checkpoints) await benchCheckpoints(options);
  if (options.recovery) await benchRecovery(options);
  if (options.soak) {
    console.error(`soak: seed ${options.seed}, ${options.soakSeconds} s of kills`);
    const result = await runSoak(options.seed, options.soakSeconds * 1000, (line) => console.error(line));
    console.error(`  soak: ${result.kills} kills, ${result.restarts} restarts, output ${result.matched ? 'matched' : 'DID NOT match'} the golden run`);
    process.stdout.write(`\n${formatSoakTable(result)}\n`);
    if (!result.matched) process.exitCode = 1;
  }
  if (options.rocksdb || options.largerThanMemory) {
    const tables = await benchRocksDB({
      quick: options.quick,
      throughput: options.rocksdb,
      huge: options.largerThanMemory,
      hugeKeys: options.hugeKeys,
      hugeStateMemory: options.hugeStateMemory,
      runs: options.runs,
      log: (line) => console.error(line),
    });
    process.stdout.write(`\n${tables}\n`);
  }
  if (options.kafka) {
    const records = options.kafkaRecords ?? (options.quick ? QUICK_KAFKA_RECORDS : DEFAULT_KAFKA_RECORDS);
    console.error(`kafka: ${records.toLocaleString('en-US')} records, parallelism ${options.parallelisms.join(', ')}`);
    const table = await benchKafka({ records, parallelisms: options.parallelisms, runs: options.runs, log: (line) => console.error(line) });
    process.stdout.write(`\n${table}\n`);
  }
}

/** (1) and (2): each sink and parallelism without and with checkpoints, alternating, best of `runs`. */
async function benchCheckpoints(options: Options): Promise<void> {
  const count = options.quick ? CHECKPOINT_QUICK_EVENTS : CHECKPOINT_EVENTS;
  const rows: CheckpointMeasurement[] = [];
  for (const sink of ['discard', 'file'] as const) {
    for (const parallelism of options.parallelisms) {
      const best = new Map<string, CheckpointMeasurement>();
      for (let run = 0; run < options.runs; run++) {
        for (const mode of ['off', 'on'] as const) {
          const m = await runChildWith<CheckpointMeasurement>(
            ['--checkpoint-child', sink, String(parallelism), String(count), mode],
            `checkpoints ${sink} at parallelism ${parallelism}`,
          );
          console.error(
            `  checkpoints ${mode} ${sink} p=${parallelism}: ${Math.round(m.eventsPerSecond).toLocaleString('en-US')} events/s ` +
              `(${m.measuredMs} ms measured, ${m.cpuMs} ms CPU, ${m.checkpoints.length} checkpoints)`,
          );
          const previous = best.get(mode);
          if (previous === undefined || m.eventsPerSecond > previous.eventsPerSecond) best.set(mode, m);
        }
      }
      rows.push(best.get('off')!, best.get('on')!);
    }
  }
  process.stdout.write(`\n${formatCheckpointTables(rows, options.runs)}\n`);
}

/** (3): kills per parallelism (`--runs`, default 3; 1 with `--quick`). */
async function benchRecovery(options: Options): Promise<void> {
  const kills = options.runsGiven ? options.runs : options.quick ? 1 : 3;
  const rows: RecoveryMeasurement[] = [];
  for (const parallelism of options.parallelisms) {
    for (let run = 0; run < kills; run++) {
      const m = await measureRecovery(parallelism);
      console.error(
        `  recovery p=${parallelism}: ${m.killToRecordsMs} ms from the kill to records (first line after ${m.killToFirstLineMs} ms` +
          `${m.recordsInFirstLine ? ', already with records' : ''}; cold start ${m.coldStartMs} ms)`,
      );
      rows.push(m);
    }
  }
  process.stdout.write(`\n${formatRecoveryTable(rows)}\n`);
}

await main(process.argv.slice(2));

import { mkdtempSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, Partitioners, logLevel, type Admin, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WindowCount } from '../../../jobs/kafka-window-count.ts';
import { partitionOwner } from '../../../connectors/kafka/index.ts';
import { findFreePorts, startDevBroker, stopDevBroker } from '../../../connectors/kafka/dev-broker/index.ts';
import { TEST_BROKER_START_TIMEOUT_MS, useTestKafkaBroker } from '../../support/kafka-broker.ts';
import {
  checkpointIds,
  completedCheckpointIds,
  killAllSpawned,
  killGroup,
  latestCompletedId,
  Schedule,
  scheduleSeed,
  spawnEddy,
  waitUntil,
  type EddyProcess,
} from '../../recovery/kill-support.ts';
import {
  compareMultisets,
  createTopic,
  generateEvents,
  goldenWindowCounts,
  parseWindowCount,
  produceEvents,
  readCommittedOutput,
  uniqueName,
  windowCountLine,
  OUT_OF_ORDERNESS_MS,
  WINDOW_MS,
  type InputShape,
  type PlacedEvent,
} from './fixtures/exactly-once-support.ts';

/**
 * End to end, exactly once through Kafka: jobs/kafka-window-count.ts (Kafka JSON events ▶ keyed
 * tumbling event-time windows ▶ Kafka, the sink writing in transactions committed with checkpoints)
 * as the real `eddy` binary, over topics of a real broker. Whatever happens to the job — SIGKILL of
 * its whole process group at seeded random moments, the broker itself going away mid-run — a
 * `read_committed` consumer of the output topic must then see exactly the golden output computed
 * from the input: every window once, none lost, none twice.
 *
 * The kill schedule is the only random part; its seed is logged (replay with EDDY_KILL_SEED=<seed>).
 * Every test uses its own topics and transactional id prefix.
 */
const JOB = 'jobs/kafka-window-count.ts';
/** Time between checkpoint starts: each checkpoint commits one transaction per sink subtask. */
const CHECKPOINT_INTERVAL = '250ms';
/** Kills per parallelism in the kill test; the run after the last kill goes to the end. */
const KILLS_PER_CASE = 6;
/** Bound of one condition wait on a running job: start-up (~1-3 s) plus a checkpoint, with room for a loaded machine. */
const WAIT_MS = 45_000;
/** Bound of a job run to its end. */
const RUN_MS = 120_000;
/** Partitions of every output topic: results spread over them by key (murmur2, as the Java client). */
const OUTPUT_PARTITIONS = 3;

const seed = scheduleSeed();
let bootstrap: string;
let kafka: Kafka;
let admin: Admin;
let producer: Producer;
const dirs: string[] = [];
let totalKills = 0;

beforeAll(async () => {
  console.log(`kafka-exactly-once: kill schedule seed ${seed} (replay with EDDY_KILL_SEED=${seed})`);
  bootstrap = await useTestKafkaBroker();
  kafka = new Kafka({ clientId: 'eddy-kafka-exactly-once-test', brokers: [bootstrap], logLevel: logLevel.NOTHING });
  admin = kafka.admin();
  await admin.connect();
  producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
  await producer.connect();
}, TEST_BROKER_START_TIMEOUT_MS);

afterAll(async () => {
  await killAllSpawned();
  await producer?.disconnect();
  await admin?.disconnect();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  console.log(`kafka-exactly-once: ${totalKills} kills (seed ${seed})`);
});

function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

/** The topics, input and golden output of one test. */
interface Setup {
  readonly input: string;
  readonly output: string;
  readonly transactionalIdPrefix: string;
  readonly golden: WindowCount[];
}

/** Fresh input and output topics on `on`, the input produced from `shape`, and its golden output. */
async function setUp(on: { readonly admin: Admin; readonly producer: Producer }, shape: InputShape, name: string): Promise<Setup & { events: PlacedEvent[] }> {
  const input = await createTopic(on.admin, uniqueName(`eddy-eo-${name}-in`), shape.partitions);
  const output = await createTopic(on.admin, uniqueName(`eddy-eo-${name}-out`), OUTPUT_PARTITIONS);
  const events = generateEvents(shape);
  const startedAtMs = Date.now();
  await produceEvents(on.producer, input, events);
  console.log(`${name}: produced ${events.length} events to ${shape.partitions} partitions in ${Date.now() - startedAtMs} ms`);
  return { input, output, transactionalIdPrefix: uniqueName(`eddy-eo-${name}`), golden: goldenWindowCounts(events), events };
}

/** `eddy run` of the job, bounded, without engine options. */
function jobArgs(brokers: string, setup: Setup): string[] {
  return [
    'run', JOB, '--brokers', brokers, '--input', setup.input, '--output', setup.output,
    '--transactional-id-prefix', setup.transactionalIdPrefix, '--window', `${WINDOW_MS}ms`, '--out-of-orderness', `${OUT_OF_ORDERNESS_MS}ms`,
    '--bounded', 'true', '--quiet',
  ];
}

/** Asserts that the output topic's committed records are exactly `golden`, as a multiset. */
async function expectGoldenOutput(brokers: string, setup: Setup, context: string): Promise<void> {
  const { values, endOffsets, highWatermarks } = await readCommittedOutput(brokers, setup.output);
  const actual = values.map((value) => windowCountLine(parseWindowCount(value)));
  const expected = setup.golden.map(windowCountLine);
  const difference = compareMultisets(actual, expected);
  const offsets = [...endOffsets.values()].reduce((sum, offset) => sum + offset, 0);
  // Offsets beyond the committed records: transaction markers, and records of aborted transactions.
  console.log(
    `${context.split('\n')[0]}: ${actual.length} committed results; ${offsets - actual.length} offsets of markers and aborted records ` +
      `(read to ${JSON.stringify([...endOffsets])}, high watermarks ${JSON.stringify([...highWatermarks])})`,
  );
  expect(
    { missing: difference.missing.length, unexpected: difference.unexpected.length, someMissing: difference.missing.slice(0, 5), someUnexpected: difference.unexpected.slice(0, 5) },
    `read_committed output of ${setup.output} against the golden output (${expected.length} windows); unexpected includes duplicates\n${context}`,
  ).toEqual({ missing: 0, unexpected: 0, someMissing: [], someUnexpected: [] });
  expect(actual.sort()).toEqual(expected.sort());
}

async function expectCleanExit(handle: EddyProcess, what: string): Promise<void> {
  const outcome = await waitUntil(handle, () => false, `${what} to finish`, RUN_MS);
  expect(outcome).toBe('exited');
  expect(handle.exit, `${what} failed: eddy ${handle.args.join(' ')}\nstderr: ${handle.stderr}`).toEqual({ code: 0, signal: null });
}

/** What a kill schedule did. */
interface KillReport {
  readonly kills: number;
  /** Kills after which the checkpoint dir held a checkpoint completed by the killed run. */
  readonly killsAfterOwnCheckpoint: number;
  /** Kills while the checkpoint dir held no completed checkpoint at all (the next run started afresh). */
  readonly killsBeforeAnyCheckpoint: number;
  readonly log: string[];
}

/** Where a run is killed: during start-up, once its first checkpoint is in flight, or after 1 (sometimes 2) completed checkpoints. */
type KillPoint = 'start-up' | 'first-checkpoint' | 'after-checkpoints';

/**
 * Runs the job with checkpoints, SIGKILLs its process group at the schedule's moments and starts it
 * again — from the latest completed checkpoint, or afresh while there is none — until `plannedKills`
 * kills are done; the run after them must finish by itself (exit 0).
 */
async function runWithKills(setup: Setup, parallelism: number, workerChoices: readonly number[], schedule: Schedule, plannedKills: number): Promise<KillReport> {
  const checkpointDir = tempDir('eddy-eo-chk-');
  const log: string[] = [];
  let kills = 0;
  let killsAfterOwnCheckpoint = 0;
  let killsBeforeAnyCheckpoint = 0;
  for (let run = 0; ; run++) {
    const baseline = latestCompletedId(checkpointDir);
    // Checkpoint ids only grow, also across runs (1 + the largest id on disk, completed or not): this
    // run's checkpoints have ids above every folder there now, including one a killed run left half-written.
    const highestId = checkpointIds(checkpointDir).at(-1) ?? 0;
    const workers = schedule.pick(workerChoices);
    const handle = spawnEddy([
      ...jobArgs(bootstrap, setup), '--parallelism', String(parallelism), '--workers', String(workers),
      '--checkpoint-dir', checkpointDir, '--checkpoint-interval', CHECKPOINT_INTERVAL, '--restart-strategy', 'none',
      ...(baseline > 0 ? ['--from-checkpoint', checkpointDir] : []),
    ]);
    const startedAtMs = Date.now();
    const origin = baseline > 0 ? `from chk ${baseline}` : 'afresh';
    if (kills === plannedKills) {
      await expectCleanExit(handle, `the last run (${origin}; seed ${schedule.seed})`);
      log.push(`run ${run}: w=${workers}, ${origin}, finished in ${Date.now() - startedAtMs} ms`);
      break;
    }
    // The first run is killed with its first checkpoint in flight: no checkpoint has completed yet.
    const point: KillPoint = run === 0 ? 'first-checkpoint' : schedule.pick(['start-up', 'first-checkpoint', 'after-checkpoints', 'after-checkpoints', 'after-checkpoints', 'after-checkpoints']);
    const ownCompleted = (): number => completedCheckpointIds(checkpointDir).filter((id) => id > highestId).length;
    let outcome: 'met' | 'exited' = 'met';
    if (point === 'first-checkpoint') {
      outcome = await waitUntil(handle, () => checkpointIds(checkpointDir).some((id) => id > highestId), 'the run’s first checkpoint to start', WAIT_MS);
    } else if (point === 'after-checkpoints') {
      const wanted = schedule.chance(0.25) ? 2 : 1;
      outcome = await waitUntil(handle, () => ownCompleted() >= wanted, `${wanted} checkpoint(s) after chk ${highestId}`, WAIT_MS);
    }
    // The moment itself: a seeded delay after the condition (the schedule, not a wait for something).
    const delayMs = point === 'start-up' ? schedule.integer(200, 900) : point === 'first-checkpoint' ? schedule.integer(0, 40) : schedule.integer(0, 100);
    if (outcome === 'met') await sleep(delayMs);
    const exit = handle.exit ?? (await killGroup(handle));
    if (exit.signal !== 'SIGKILL') {
      // The job reached its end before the kill: that is the last run.
      expect(exit, `run ${run} (${origin}) failed; seed ${schedule.seed}\nstderr: ${handle.stderr}`).toEqual({ code: 0, signal: null });
      log.push(`run ${run}: w=${workers}, ${origin}, finished before its kill point (${point})`);
      break;
    }
    kills++;
    totalKills++;
    const completed = ownCompleted();
    if (completed > 0) killsAfterOwnCheckpoint++;
    if (latestCompletedId(checkpointDir) === 0) killsBeforeAnyCheckpoint++;
    log.push(`run ${run}: w=${workers}, ${origin}, killed (${point} +${delayMs} ms) at ${Date.now() - startedAtMs} ms after ${completed} new checkpoint(s)`);
  }
  return { kills, killsAfterOwnCheckpoint, killsBeforeAnyCheckpoint, log };
}

describe('Kafka ▶ keyed windows ▶ Kafka, exactly once under SIGKILL', () => {
  it.each([
    { parallelism: 1, workerChoices: [0, 0, 1], offset: 0 },
    { parallelism: 2, workerChoices: [0, 2], offset: 1 },
  ])(
    'at parallelism $parallelism: killed ≥ 5 times and restarted, a read_committed consumer sees exactly the golden windows',
    async ({ parallelism, workerChoices, offset }) => {
      // 16 keys over 8 minutes of event time: ~3,800 windows of 2 s; disorder up to 800 ms per partition.
      // 600k records: an uninterrupted run reads for several seconds (also on 2 idle cores), so that the
      // kills, each after at most a checkpoint or two of progress, fall before the end.
      const setup = await setUp(
        { admin, producer },
        { count: 600_000, keys: 16, partitions: 4, spanMs: 8 * 60_000, maxDisorderMs: 800, seed: 20_260_101 + offset },
        `kill-p${parallelism}`,
      );
      const schedule = new Schedule((seed + offset * 0x9e3779b9) >>> 0);
      const report = await runWithKills(setup, parallelism, workerChoices, schedule, KILLS_PER_CASE);
      const context = `p=${parallelism}, seed ${schedule.seed}: ${report.kills} kills, ${report.killsAfterOwnCheckpoint} after a checkpoint of the run, ${report.killsBeforeAnyCheckpoint} before any checkpoint\n${report.log.join('\n')}`;
      console.log(context);
      expect(report.kills, `the input was consumed before ${KILLS_PER_CASE} kills: make it larger\n${context}`).toBeGreaterThanOrEqual(5);
      expect(report.killsAfterOwnCheckpoint, context).toBeGreaterThanOrEqual(1);
      await expectGoldenOutput(bootstrap, setup, context);
    },
    180_000,
  );

  it('the kill schedules above killed the job at least 10 times', () => {
    expect(totalKills).toBeGreaterThanOrEqual(10);
  });
});

describe('Kafka ▶ keyed windows ▶ Kafka, exactly once across a broker restart', () => {
  // Its own broker: the shared one must keep running for the other test files.
  let dataDir: string;
  let brokerOptions: { port: number; controllerPort: number; dataDir: string; ownerPid: number; readyTimeoutMs: number };
  let ownBootstrap: string;

  beforeAll(async () => {
    const [port, controllerPort] = (await findFreePorts(2)) as [number, number];
    dataDir = await mkdtemp(path.join(tmpdir(), 'eddy-kafka-eo-restart-'));
    brokerOptions = { port, controllerPort, dataDir, ownerPid: process.pid, readyTimeoutMs: 90_000 };
    ownBootstrap = (await startDevBroker(brokerOptions)).bootstrap;
  }, TEST_BROKER_START_TIMEOUT_MS);

  afterAll(async () => {
    await killAllSpawned();
    if (dataDir === undefined) return;
    await stopDevBroker(dataDir);
    await rm(dataDir, { recursive: true, force: true });
  });

  it('the broker stops after a completed checkpoint and comes back: the job restarts, finishes by itself, and the output is exactly the golden windows', async () => {
    const ownKafka = new Kafka({ clientId: 'eddy-kafka-eo-restart-test', brokers: [ownBootstrap], logLevel: logLevel.NOTHING });
    const ownAdmin = ownKafka.admin();
    const ownProducer = ownKafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
    await ownAdmin.connect();
    await ownProducer.connect();
    let setup: Setup;
    try {
      setup = await setUp(
        { admin: ownAdmin, producer: ownProducer },
        { count: 80_000, keys: 12, partitions: 4, spanMs: 6 * 60_000, maxDisorderMs: 800, seed: 20_260_201 },
        'broker-restart',
      );
    } finally {
      // Nothing may hold a connection across the outage: the clients reconnect for reading afterwards.
      await ownProducer.disconnect();
      await ownAdmin.disconnect();
    }
    const checkpointDir = tempDir('eddy-eo-restart-chk-');
    const handle = spawnEddy([
      ...jobArgs(ownBootstrap, setup), '--parallelism', '2', '--workers', '0',
      '--checkpoint-dir', checkpointDir, '--checkpoint-interval', CHECKPOINT_INTERVAL,
      // Restarts, each from the latest completed checkpoint, while the broker is away; bounded, so that a job that cannot recover fails.
      '--restart-strategy', 'fixed-delay:attempts=30,delay=500ms',
    ]);
    const outcome = await waitUntil(handle, () => completedCheckpointIds(checkpointDir).length >= 1, 'a completed checkpoint', WAIT_MS);
    expect(outcome, `the job ended before its first checkpoint completed\nstderr: ${handle.stderr}`).toBe('met');
    expect(handle.exit, 'the job finished before the broker was stopped: make the input larger').toBeUndefined();
    const stoppedAtCheckpoint = latestCompletedId(checkpointDir);
    expect(await stopDevBroker(dataDir)).toMatchObject({ kind: 'stopped' });
    // The outage: the broker stays away for a while on purpose (a duration of the scenario, not a wait for a condition).
    await sleep(2_000);
    await startDevBroker(brokerOptions);
    await expectCleanExit(handle, 'the job after the broker restart');
    const lines = handle.stderr.split('\n');
    const restarts = lines.filter((line) => line.includes('restarting job'));
    // What the job said about its recovery (not the connection errors kafkajs logs during the outage).
    const recovery = lines.filter((line) => /restarting job|checkpoint/.test(line));
    const context = `broker stopped after chk ${stoppedAtCheckpoint}; ${restarts.length} restart(s) of the job\n${recovery.join('\n')}`;
    console.log(context);
    await expectGoldenOutput(ownBootstrap, setup, context);
  }, 240_000);
});

describe('Kafka ▶ keyed windows ▶ Kafka, exactly once with idle input', () => {
  it('parallelism 3 over 2 partitions, one of them silent after the first third of event time: every window fires, output exactly golden', async () => {
    const setup = await setUp(
      { admin, producer },
      { count: 12_000, keys: 10, partitions: 2, spanMs: 4 * 60_000, maxDisorderMs: 800, seed: 20_260_301, activeFraction: [1, 0.3] },
      'idle',
    );
    // Round-robin over 3 subtasks: 2 partitions leave one source subtask without any.
    expect(new Set([0, 1].map((partition) => partitionOwner(setup.input, partition, 3))).size).toBe(2);
    const lastTs = (partition: number): number => Math.max(...setup.events.filter((placed) => placed.partition === partition).map((placed) => placed.event.ts));
    expect(lastTs(1) - setup.events[0]!.event.ts).toBeLessThan(0.35 * 4 * 60_000);
    const handle = spawnEddy([
      ...jobArgs(bootstrap, setup), '--parallelism', '3', '--workers', '0',
      '--checkpoint-dir', tempDir('eddy-eo-idle-chk-'), '--checkpoint-interval', CHECKPOINT_INTERVAL, '--restart-strategy', 'none',
    ]);
    await expectCleanExit(handle, 'the job');
    await expectGoldenOutput(bootstrap, setup, 'idle partition, parallelism 3');
  }, 120_000);
});

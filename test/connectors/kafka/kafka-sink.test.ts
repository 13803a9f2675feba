import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel, type Admin, type Consumer, type IHeaders } from 'kafkajs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { JobModuleRef } from '../../../src/api/job.ts';
import { redistributeSnapshots } from '../../../src/checkpoint/restore-assignment.ts';
import { ConfigurationError } from '../../../src/core/errors.ts';
import { DEFAULT_MAX_PARALLELISM } from '../../../src/core/key-group.ts';
import type { OperatorSnapshot } from '../../../src/operators/operator.ts';
import { SinkOperator, type PendingCommit } from '../../../src/operators/sink-operator.ts';
import { buildJobGraph } from '../../../src/runtime/job-loader.ts';
import { executeJob, type ExecutionOptions, type JobResult } from '../../../src/runtime/local-executor.ts';
import { kafkaSink, type KafkaSink, type KafkaSinkOptions } from '../../../connectors/kafka/index.ts';
import { readCommittedOutput } from './fixtures/exactly-once-support.ts';
import { OperatorTestHarness } from '../../harness/operator-test-harness.ts';
import { TEST_BROKER_START_TIMEOUT_MS, useTestKafkaBroker } from '../../support/kafka-broker.ts';
import { killAllSpawned, killGroup, spawnEddy, waitUntil } from '../../recovery/kill-support.ts';
import { uniqueName } from './fixtures/exactly-once-support.ts';
import { BASE_TS, type KafkaSinkJobArgs, type Numbered } from './fixtures/kafka-sink-jobs.ts';

/**
 * The Kafka sink against a real broker (the run's shared Kafka, test/support/kafka-broker.ts).
 *
 * Exactly-once is driven through the real {@link SinkOperator} in the operator harness — the calls a
 * task makes at a barrier (snapshot, then its asynchronous part), on checkpoint completion and on
 * restore — so that each step can be followed by a look at the broker: the partition's last stable
 * offset (LSO: where `read_committed` consumers stop; the first offset of the oldest open
 * transaction) and what `read_committed` and `read_uncommitted` consumers have received. A writer
 * "dies" by never being called again (nor closed); one test kills a real `eddy` process with SIGKILL.
 * At-least-once and the runtime errors run whole jobs (fixtures/kafka-sink-jobs.ts). Records are
 * `{ n }`; every test uses its own topics and transactional id prefix.
 */

const modulePath = fileURLToPath(new URL('./fixtures/kafka-sink-jobs.ts', import.meta.url));
/** Bound of a wait for the broker or a consumer (a consumer's group join takes ~0.1-1 s). */
const WAIT_MS = 20_000;

let bootstrap: string;
let kafka: Kafka;
let admin: Admin;
const observers: TopicObserver[] = [];
const sinks: RunningSink[] = [];
const dirs: string[] = [];

beforeAll(async () => {
  bootstrap = await useTestKafkaBroker();
  kafka = new Kafka({ clientId: 'eddy-kafka-sink-test', brokers: [bootstrap], logLevel: logLevel.NOTHING });
  admin = kafka.admin();
  await admin.connect();
}, TEST_BROKER_START_TIMEOUT_MS);

afterAll(async () => {
  await killAllSpawned();
  await admin?.disconnect();
});

afterEach(async () => {
  // Writers left "dead" by a test are closed only now: closing aborts their open transaction.
  await Promise.allSettled(sinks.splice(0).map((running) => closeSink(running)));
  await Promise.allSettled(observers.splice(0).map((observer) => observer.stop()));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

async function createTopic(numPartitions: number, topic = uniqueName('eddy-sink')): Promise<string> {
  expect(await admin.createTopics({ topics: [{ topic, numPartitions }], waitForLeaders: true })).toBe(true);
  return topic;
}

/** n for n in [from, to). */
function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

/** Ascending: for checks of which records arrived, not of their order (tested on its own). */
function ascending(numbers: readonly number[]): number[] {
  return [...numbers].sort((a, b) => a - b);
}

function parseNumber(value: string): number {
  const parsed = JSON.parse(value) as { n?: unknown };
  if (typeof parsed.n !== 'number') throw new Error(`not a record { n }: ${value}`);
  return parsed.n;
}

/** Waits for a condition instead of sleeping a guessed time; fails with `what` after `timeoutMs`. */
async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = WAIT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(25);
  }
}

/**
 * Per partition (index), the last stable offset: kafkajs's admin lists offsets with isolation level
 * READ_COMMITTED, for which the broker answers the LSO — the high watermark once no transaction is open.
 */
async function lastStableOffsets(topic: string): Promise<number[]> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets.sort((a, b) => a.partition - b.partition).map(({ offset }) => Number(offset));
}

// ---- consumers ---------------------------------------------------------------------------------

type Isolation = 'read_committed' | 'read_uncommitted';

/** One record as a consumer received it. */
interface ObservedRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly key: string | null;
  readonly n: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly timestampMs: number;
  /** The record batch's transactional flag. */
  readonly inTransaction: boolean;
  /** The batch's producer id: -1 for a plain producer, an id for idempotent and transactional ones. */
  readonly producerId: string;
  readonly receivedAtMs: number;
}

/** kafkajs decodes each record's batch attributes into `batchContext` (not in its typings). */
function batchContextOf(message: unknown): { readonly inTransaction: boolean; readonly producerId: string } {
  const context = (message as { batchContext?: { inTransaction?: unknown; producerId?: unknown } }).batchContext;
  if (typeof context?.inTransaction !== 'boolean' || context.producerId === undefined) {
    throw new Error('kafkajs no longer exposes the record batch attributes (batchContext)');
  }
  return { inTransaction: context.inTransaction, producerId: String(context.producerId) };
}

function headerStrings(headers: IHeaders | undefined): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value !== undefined) result[name] = Array.isArray(value) ? value.map(String).join(',') : value.toString();
  }
  return result;
}

/** A consumer (its own group, from the beginning) that keeps everything it receives, in order. */
class TopicObserver {
  readonly records: ObservedRecord[] = [];

  private constructor(private readonly consumer: Consumer) {}

  static async start(topics: readonly string[], isolation: Isolation): Promise<TopicObserver> {
    // A short fetch wait: stop() waits for the fetch in flight.
    const consumer = kafka.consumer({
      groupId: uniqueName('eddy-sink-observer'),
      readUncommitted: isolation === 'read_uncommitted',
      maxWaitTimeInMs: 100,
    });
    const observer = new TopicObserver(consumer);
    observers.push(observer);
    await consumer.connect();
    await consumer.subscribe({ topics: [...topics], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ topic, partition, message }) => {
        observer.records.push({
          topic,
          partition,
          offset: Number(message.offset),
          key: message.key?.toString('utf8') ?? null,
          n: parseNumber(message.value?.toString('utf8') ?? 'null'),
          headers: headerStrings(message.headers),
          timestampMs: Number(message.timestamp),
          ...batchContextOf(message),
          receivedAtMs: Date.now(),
        });
      },
    });
    return observer;
  }

  numbers(): number[] {
    return this.records.map((record) => record.n);
  }

  /** The highest offset received, −1 before the first record. */
  lastOffset(): number {
    return this.records.reduce((max, record) => Math.max(max, record.offset), -1);
  }

  async stop(): Promise<void> {
    await this.consumer.disconnect();
  }
}

/**
 * Every committed record of `topic`, per partition in offset order: what a `read_committed` consumer
 * gets, read up to the last stable offset. Read with the Kafka source's fetch client: kafkajs's
 * consumer cannot serve here, as it shows aborted records when the broker lists aborted transactions
 * in another order than their first offsets (it assumes that order; Kafka's Java consumer sorts them),
 * which happens whenever transactions that interleave are aborted — as a writer's initialisation does.
 */
async function committedNumbers(topic: string): Promise<number[]> {
  const { values } = await readCommittedOutput(bootstrap, topic, { timeoutMs: WAIT_MS });
  return values.map(parseNumber);
}

// ---- the sink operator in the harness ----------------------------------------------------------------

/** One sink subtask of one run ("process"): its own KafkaSink, as a new process would build. */
interface RunningSink {
  readonly sink: KafkaSink<Numbered>;
  readonly harness: OperatorTestHarness<never>;
  readonly operator: SinkOperator<Numbered>;
}

interface SubtaskRun {
  readonly subtask?: number;
  readonly parallelism?: number;
  readonly attempt?: number;
  readonly snapshot?: OperatorSnapshot;
}

/** Exactly-once options: batches of 5 records, so that records reach the broker as they are written. */
function exactlyOnce(topic: string, transactionalIdPrefix: string, extra: Partial<KafkaSinkOptions<Numbered>> = {}): KafkaSinkOptions<Numbered> {
  return { brokers: bootstrap, topic, transactionalIdPrefix, deliveryGuarantee: 'exactly-once', batchSize: 5, logLevel: 'nothing', ...extra };
}

/** Sets up, restores (given a snapshot), opens and async-opens a sink subtask, as a task does. */
async function startSink(options: KafkaSinkOptions<Numbered>, run: SubtaskRun = {}): Promise<RunningSink> {
  const sink = kafkaSink(options);
  let operator: SinkOperator<Numbered> | undefined;
  const harness = new OperatorTestHarness<never>(() => (operator = new SinkOperator<Numbered>(sink)), {
    uid: 'out',
    checkpointingMode: 'exactly-once',
    subtask: run.subtask ?? 0,
    parallelism: run.parallelism ?? 1,
    attempt: run.attempt ?? 0,
  }).open(run.snapshot);
  const running: RunningSink = { sink, harness, operator: operator! };
  sinks.push(running);
  await running.operator.openAsync();
  return running;
}

function write(running: RunningSink, from: number, to: number): void {
  for (const n of range(from, to)) running.harness.processElement({ n }, BASE_TS + n);
}

/** The barrier of `checkpointId`: the synchronous snapshot (pre-commit), then its asynchronous part. */
async function checkpoint(running: RunningSink, checkpointId: number): Promise<OperatorSnapshot> {
  const snapshot = running.harness.snapshot(checkpointId);
  await running.operator.completeSnapshotAsync(checkpointId);
  return snapshot;
}

async function completeCheckpoint(running: RunningSink, checkpointId: number): Promise<void> {
  running.operator.notifyCheckpointComplete(checkpointId);
  await running.operator.commitsSettled();
}

async function closeSink(running: RunningSink): Promise<void> {
  running.harness.close();
  await running.operator.closeAsync();
}

/** The pending committables a snapshot carries (union state), of every checkpoint. */
function pendingCommittables(snapshot: OperatorSnapshot): unknown[] {
  const pending = (snapshot.operatorState['sink-pending-committables'] ?? []) as PendingCommit[];
  return pending.flatMap((entry) => [...entry.committables]);
}

// ---- jobs ----------------------------------------------------------------------------------------------

interface RunSettings extends Omit<ExecutionOptions, 'job'> {
  readonly parallelism?: number;
}

async function runJob(args: Omit<KafkaSinkJobArgs, 'brokers'> & { readonly brokers?: string }, settings: RunSettings = {}): Promise<JobResult> {
  const ref: JobModuleRef = { modulePath, exportName: 'job', rawArgs: { brokers: bootstrap, ...args } };
  const { parallelism = 1, ...options } = settings;
  const graph = await buildJobGraph(ref, { jobName: 'kafka-sink-test', parallelism });
  return executeJob(graph, { workers: 0, ...options, job: ref });
}

// ---- tests -----------------------------------------------------------------------------------------------

describe('kafkaSink: options', () => {
  const base = { brokers: 'localhost:9092', topic: 'orders' };

  function refusal(options: unknown): ConfigurationError {
    try {
      kafkaSink(options as KafkaSinkOptions<unknown>);
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigurationError);
      return error as ConfigurationError;
    }
    throw new Error(`kafkaSink accepted ${JSON.stringify(options)}`);
  }

  it('refuses every bad option with a ConfigurationError naming it', () => {
    expect(refusal({ ...base, topics: 'orders' }).message).toBe("kafkaSink: unknown option 'topics'");
    expect(refusal({ ...base, topic: 'no spaces' }).message).toBe("kafkaSink: option 'topic' must be a Kafka topic name (1-249 of a-z A-Z 0-9 . _ -)");
    expect(refusal({ ...base, topic: 42 }).message).toBe("kafkaSink: option 'topic' must be a topic name or a function (record) => topic name");
    expect(refusal({ ...base, brokers: 'localhost' }).message).toBe("kafkaSink: option 'brokers': 'localhost' is not host:port (e.g. 'localhost:9092')");
    expect(refusal({ ...base, brokers: ['localhost:9092', 'other:0'] }).message).toContain("option 'brokers': 'other:0' is not host:port");
    expect(refusal({ ...base, brokers: ' , ' }).message).toBe("kafkaSink: option 'brokers' must name at least one broker, e.g. 'localhost:9092'");
    expect(refusal({ ...base, deliveryGuarantee: 'exactly-once' }).message).toMatch(/^kafkaSink: exactly-once needs option 'transactionalIdPrefix': /);
    expect(refusal({ ...base, deliveryGuarantee: 'exactly-twice' }).message).toBe(
      "kafkaSink: option 'deliveryGuarantee' must be 'exactly-once' or 'at-least-once'",
    );
    expect(refusal({ ...base, transactionalIdPrefix: 'p', transactionalIdPoolSize: 1 }).message).toBe(
      "kafkaSink: option 'transactionalIdPoolSize' must be ≥ 2 (one open, one pre-committed)",
    );
    expect(refusal({ ...base, transactionalIdPrefix: 'has space' }).message).toMatch(/^kafkaSink: option 'transactionalIdPrefix' must be 1-200 of /);
    expect(refusal({ ...base, value: 'xml' }).message).toBe(
      "kafkaSink: option 'value' must be 'json', 'text', 'bytes', 'msgpack' or a function (record) => bytes | string",
    );
    expect(refusal({ ...base, partitioner: 3 }).message).toBe("kafkaSink: option 'partitioner' must be a function (record, key, partitionCount) => partition");
    expect(refusal({ ...base, transactionTimeoutMs: 0 }).message).toMatch(/^kafkaSink: option 'transactionTimeoutMs' .*must be > 0$/);
    expect(refusal(null).message).toMatch(/^kafkaSink: needs an options object/);
  });

  it('a value of the wrong type is named as such, not as missing', () => {
    // A present option must never be reported as "is required".
    for (const [name, value] of [
      ['transactionalIdPoolSize', 2.5],
      ['batchSize', '100'],
      ['clientId', 5],
    ] as const) {
      const message = refusal({ ...base, [name]: value }).message;
      expect(message).toContain(`option '${name}'`);
      expect(message, `${name}: ${JSON.stringify(value)}`).not.toContain('is required');
    }
    expect(refusal({ brokers: 'localhost:9092' }).message).toContain("option 'topic'");
  });

  it('a job checkpointing exactly-once with a sink without transactionalIdPrefix fails at start, naming both ways out', async () => {
    const topic = await createTopic(1);
    const checkpointDir = tempDir('eddy-sink-chk-');
    const log: string[] = [];
    const startedAtMs = Date.now();
    // The default restart strategy: a mistake in the job must fail it, not restart it again and again.
    await expect(
      runJob(
        { topic, count: 10, omitGuarantee: true },
        {
          checkpointing: { mode: 'exactly-once', dir: checkpointDir, intervalMs: 100 },
          log: (line) => log.push(line),
          // Bounds a job that would restart again and again (it then rejects with its last failure).
          signal: AbortSignal.timeout(10_000),
        },
      ),
    ).rejects.toThrow(/option 'transactionalIdPrefix'.*deliveryGuarantee: 'at-least-once'/);
    expect(log.filter((line) => line.startsWith('restarting job'))).toEqual([]);
    expect(Date.now() - startedAtMs).toBeLessThan(10_000);
    expect(await lastStableOffsets(topic)).toEqual([0]);

    // The same job without checkpointing needs no prefix (nothing to commit with): at-least-once.
    await runJob({ topic, count: 10, omitGuarantee: true });
    expect(await committedNumbers(topic)).toEqual(range(0, 10));
  });
});

describe('kafkaSink exactly-once: visibility follows checkpoints', () => {
  it("a checkpoint's records stay invisible to read_committed until it completes, then appear exactly once; read_uncommitted sees them at once", async () => {
    const topic = await createTopic(1);
    // A kafkajs read_committed consumer is exact here: no transaction of this test is aborted (see committedNumbers).
    const committed = await TopicObserver.start([topic], 'read_committed');
    const uncommitted = await TopicObserver.start([topic], 'read_uncommitted');
    const running = await startSink(exactlyOnce(topic, uniqueName('eddy-sink-tx')));

    write(running, 0, 10);
    await checkpoint(running, 1); // pre-committed: every send of the transaction acknowledged
    write(running, 10, 15); // the next checkpoint's transaction (sent: batches of 5)
    await waitFor(() => uncommitted.records.length >= 15, 'a read_uncommitted consumer to receive all 15 records');
    expect(ascending(uncommitted.numbers())).toEqual(range(0, 15));
    expect(uncommitted.records.every((record) => record.inTransaction)).toBe(true);
    // Both transactions open: read_committed consumers stop before offset 0.
    expect(await lastStableOffsets(topic)).toEqual([0]);
    expect(committed.records).toEqual([]);

    const completedAtMs = Date.now();
    await completeCheckpoint(running, 1);
    await waitFor(() => committed.records.length >= 10, 'a read_committed consumer to receive checkpoint 1');
    // Offsets 0-9: checkpoint 1; 10-14: checkpoint 2's open transaction, where the LSO now stops.
    expect(await lastStableOffsets(topic)).toEqual([10]);
    expect(ascending(committed.numbers())).toEqual(range(0, 10));
    expect(committed.records.every((record) => record.receivedAtMs >= completedAtMs)).toBe(true);

    await checkpoint(running, 2);
    write(running, 15, 17); // buffered, never pre-committed: closing aborts it
    await completeCheckpoint(running, 2);
    await waitFor(() => committed.records.length >= 15, 'a read_committed consumer to receive checkpoint 2');
    await closeSink(running);
    expect(ascending(await committedNumbers(topic))).toEqual(range(0, 15));
    expect(ascending(committed.numbers())).toEqual(range(0, 15));
  });

  it('a bounded job commits one transaction per checkpoint and the last with the final checkpoint: every record exactly once', async () => {
    const topic = await createTopic(2);
    const count = 600;
    await runJob(
      { topic, count, ratePerSecond: 1_000, batchSize: 20, omitGuarantee: true, transactionalIdPrefix: uniqueName('eddy-sink-tx') },
      { checkpointing: { mode: 'exactly-once', dir: tempDir('eddy-sink-chk-'), intervalMs: 100 } },
    );
    expect(ascending(await committedNumbers(topic))).toEqual(range(0, count));
    // Each committed transaction leaves one commit marker per partition it wrote to.
    const ends = await lastStableOffsets(topic);
    expect(ends.reduce((sum, end) => sum + end, 0) - count).toBeGreaterThanOrEqual(2 * 2);
  });
});

describe('kafkaSink exactly-once: transactions left open by a dead writer', () => {
  it("a SIGKILLed job's open transaction is aborted when the next writer of its subtask opens: read_committed moves past it, never seeing it", async () => {
    const topic = await createTopic(1);
    const prefix = uniqueName('eddy-sink-tx');
    const uncommitted = await TopicObserver.start([topic], 'read_uncommitted');
    // No checkpoint within the test (1 h interval): everything goes into the first transaction, never committed.
    const handle = spawnEddy([
      'run', modulePath, '--parallelism', '1', '--workers', '0', '--quiet',
      '--checkpoint-dir', tempDir('eddy-sink-chk-'), '--checkpoint-interval', '1h', '--restart-strategy', 'none',
      '--brokers', bootstrap, '--topic', topic, '--omit-guarantee', '--transactional-id-prefix', prefix,
      '--batch-size', '10', '--rate-per-second', '500',
    ]);
    const outcome = await waitUntil(handle, () => uncommitted.records.length >= 50, 'the job to write 50 records', WAIT_MS);
    expect(outcome, `the job ended early\nstderr: ${handle.stderr}`).toBe('met');
    await killGroup(handle);
    expect(uncommitted.records.every((record) => record.inTransaction)).toBe(true);
    // The dead job's transaction pins the LSO at its first record (the broker would wait 15 min to abort it).
    expect(await lastStableOffsets(topic)).toEqual([0]);

    const next = await startSink(exactlyOnce(topic, prefix));
    const deadOffset = uncommitted.lastOffset();
    await waitFor(async () => (await lastStableOffsets(topic))[0]! > deadOffset, `the LSO to move past the dead job's records (offset ${deadOffset})`);
    write(next, 1_000, 1_005);
    await checkpoint(next, 1);
    await completeCheckpoint(next, 1);
    await closeSink(next);
    expect(ascending(await committedNumbers(topic))).toEqual(range(1_000, 1_005));
  });

  it('after a rescale 2 → 1 the restored subtask commits both old subtasks’ pending transactions and aborts old subtask 1’s open one', async () => {
    const topic = await createTopic(1);
    const prefix = uniqueName('eddy-sink-tx');
    const uncommitted = await TopicObserver.start([topic], 'read_uncommitted');
    const old = [
      await startSink(exactlyOnce(topic, prefix), { subtask: 0, parallelism: 2 }),
      await startSink(exactlyOnce(topic, prefix), { subtask: 1, parallelism: 2 }),
    ] as const;
    write(old[0], 0, 10);
    write(old[1], 100, 110);
    const snapshots = [await checkpoint(old[0], 1), await checkpoint(old[1], 1)];
    write(old[0], 10, 15);
    write(old[1], 110, 115);
    await waitFor(() => uncommitted.records.length >= 30, 'every record of both old subtasks in the log');
    // Both old subtasks die before checkpoint 1's completion reaches them.
    expect(await lastStableOffsets(topic)).toEqual([0]);

    const restored = await startSink(exactlyOnce(topic, prefix), {
      subtask: 0,
      parallelism: 1,
      attempt: 1,
      snapshot: redistributeSnapshots(
        snapshots.map((snapshot, subtask) => ({ subtask, snapshot })),
        0,
        1,
        DEFAULT_MAX_PARALLELISM,
      ),
    });
    const lastOld = uncommitted.lastOffset();
    await waitFor(
      async () => (await lastStableOffsets(topic))[0]! > lastOld,
      `the LSO to move past every old record (offset ${lastOld}): old subtask 1's transaction stays open`,
    );
    expect(ascending(await committedNumbers(topic))).toEqual([...range(0, 10), ...range(100, 110)]);
    await closeSink(restored);
  });
});

describe('kafkaSink exactly-once: pending transactions of a restored checkpoint', () => {
  it('are committed at restore by identity, before the writer aborts what came after the checkpoint; committing again is harmless', async () => {
    const topic = await createTopic(1);
    const prefix = uniqueName('eddy-sink-tx');
    const uncommitted = await TopicObserver.start([topic], 'read_uncommitted');
    const first = await startSink(exactlyOnce(topic, prefix));
    write(first, 0, 10);
    const snapshot = await checkpoint(first, 1);
    write(first, 10, 15);
    await waitFor(() => uncommitted.records.length >= 15, 'all 15 records in the log');
    // The first run dies after checkpoint 1 completed, before it learned so: nothing committed.
    expect(await lastStableOffsets(topic)).toEqual([0]);
    const pending = pendingCommittables(snapshot);
    expect(pending).toEqual([
      { transactionalId: `${prefix}-0-0`, producerId: expect.any(String), epoch: expect.any(Number), startedAtMs: expect.any(Number), transactionTimeoutMs: 900_000 },
    ]);

    const second = await startSink(exactlyOnce(topic, prefix), { attempt: 1, snapshot });
    const lastFirst = uncommitted.lastOffset();
    await waitFor(async () => (await lastStableOffsets(topic))[0]! > lastFirst, 'the LSO to move past every record of the first run');
    expect(ascending(await committedNumbers(topic))).toEqual(range(0, 10));
    write(second, 20, 25);
    await checkpoint(second, 2);
    await completeCheckpoint(second, 2);
    await closeSink(second);

    // Once more from the same checkpoint (its transaction's id has been initialised again since), and
    // twice directly through a committer of a new sink: nothing changes.
    const third = await startSink(exactlyOnce(topic, prefix), { attempt: 2, snapshot });
    await closeSink(third);
    const committer = kafkaSink(exactlyOnce(topic, prefix)).createCommitter({
      subtask: 0,
      parallelism: 1,
      operatorUid: 'out',
      checkpointingMode: 'exactly-once',
      attempt: 3,
    })!;
    await committer.commit(pending);
    await committer.commit(pending);
    expect(ascending(await committedNumbers(topic))).toEqual([...range(0, 10), ...range(20, 25)]);
  });

  it('restoring a checkpoint whose transaction the dead run had already committed commits it again harmlessly', async () => {
    const topic = await createTopic(1);
    const prefix = uniqueName('eddy-sink-tx');
    const uncommitted = await TopicObserver.start([topic], 'read_uncommitted');
    const first = await startSink(exactlyOnce(topic, prefix));
    write(first, 0, 10);
    const snapshot = await checkpoint(first, 1);
    await completeCheckpoint(first, 1);
    write(first, 10, 15);
    await waitFor(() => uncommitted.records.length >= 15, 'all 15 records in the log');
    // Checkpoint 1's snapshot lists its own transaction as pending: a restore commits it once more.
    expect(pendingCommittables(snapshot)).toHaveLength(1);

    const second = await startSink(exactlyOnce(topic, prefix), { attempt: 1, snapshot });
    const lastFirst = uncommitted.lastOffset();
    await waitFor(async () => (await lastStableOffsets(topic))[0]! > lastFirst, 'the LSO to move past every record of the first run');
    await closeSink(second);
    expect(ascending(await committedNumbers(topic))).toEqual(range(0, 10));
  });

  it('restoring a checkpoint whose transaction the dead run had already committed commits nothing else, even where it reused the id', async () => {
    const topic = await createTopic(1);
    const prefix = uniqueName('eddy-sink-tx');
    const uncommitted = await TopicObserver.start([topic], 'read_uncommitted');
    // Two ids: checkpoint 1's id is free again after its commit and takes the records after barrier 2.
    const options = exactlyOnce(topic, prefix, { transactionalIdPoolSize: 2 });
    const first = await startSink(options);
    write(first, 0, 10);
    const snapshot1 = await checkpoint(first, 1);
    await completeCheckpoint(first, 1);
    write(first, 10, 15);
    await checkpoint(first, 2); // never completes
    write(first, 15, 20);
    await waitFor(() => uncommitted.records.length >= 20, 'all 20 records in the log');
    const byId = new Map(uncommitted.records.map((record) => [record.n, record.producerId]));
    expect(byId.get(15)).toBe(byId.get(0)); // the same producer (id and epoch) as checkpoint 1's transaction

    // Dead during checkpoint 2: the job restarts from checkpoint 1, the sources replay from n = 10.
    const second = await startSink(options, { attempt: 1, snapshot: snapshot1 });
    const lastFirst = uncommitted.lastOffset();
    await waitFor(async () => (await lastStableOffsets(topic))[0]! > lastFirst, 'the LSO to move past every record of the first run');
    write(second, 10, 20); // the replay
    await checkpoint(second, 2);
    await completeCheckpoint(second, 2);
    await closeSink(second);
    // Not 15-19 twice: the restore must not commit the transaction that reused checkpoint 1's id.
    expect(ascending(await committedNumbers(topic))).toEqual(range(0, 20));
  });
});

describe('kafkaSink at-least-once', () => {
  it('writes without transactions (idempotent producer), keys, headers, timestamps, a partition per record and a topic per record; the end flushes all', async () => {
    const even = await createTopic(3);
    const odd = await createTopic(3);
    const count = 60;
    // The default batch (1,000 records) is never full: only the end of the job sends them.
    await runJob({ topic: `${even},${odd}`, count, deliveryGuarantee: 'at-least-once', keysAndHeaders: true, partitioner: 'n-mod-count' });
    // Exactly `count` records in the log (no markers: no transactions).
    const ends = [...(await lastStableOffsets(even)), ...(await lastStableOffsets(odd))];
    expect(ends.reduce((sum, end) => sum + end, 0)).toBe(count);
    const observer = await TopicObserver.start([even, odd], 'read_committed');
    await waitFor(() => observer.records.length >= count, `${count} records`);
    const records = [...observer.records].sort((a, b) => a.n - b.n);
    expect(records.map((record) => record.n)).toEqual(range(0, count));
    for (const record of records) {
      expect(record).toMatchObject({
        topic: record.n % 2 === 0 ? even : odd,
        partition: record.n % 3,
        key: `k${record.n % 7}`,
        headers: { n: String(record.n), origin: 'eddy-sink-test' },
        timestampMs: BASE_TS + record.n,
        inTransaction: false,
      });
      expect(record.producerId).not.toBe('-1');
    }
  });

  it("with 'at-least-once' a job checkpointing exactly-once writes without transactions, and needs no transactionalIdPrefix", async () => {
    const topic = await createTopic(1);
    await runJob(
      { topic, count: 300, ratePerSecond: 1_000, batchSize: 20, deliveryGuarantee: 'at-least-once' },
      { checkpointing: { mode: 'exactly-once', dir: tempDir('eddy-sink-chk-'), intervalMs: 100 } },
    );
    expect(await lastStableOffsets(topic)).toEqual([300]);
    const observer = await TopicObserver.start([topic], 'read_uncommitted');
    await waitFor(() => observer.records.length >= 300, '300 records');
    expect(ascending(observer.numbers())).toEqual(range(0, 300));
    expect(observer.records.every((record) => !record.inTransaction)).toBe(true);
  });
});

describe('kafkaSink: record order', () => {
  it.each([
    { guarantee: 'at-least-once', checkpointing: false },
    { guarantee: 'exactly-once', checkpointing: true },
  ] as const)('$guarantee: one subtask’s records keep their order in a partition, with many sends in flight', async ({ guarantee, checkpointing }) => {
    const topic = await createTopic(1);
    const count = 2_000;
    await runJob(
      {
        topic,
        count,
        batchSize: 10,
        deliveryGuarantee: guarantee,
        ...(guarantee === 'exactly-once' ? { transactionalIdPrefix: uniqueName('eddy-sink-tx') } : {}),
      },
      checkpointing ? { checkpointing: { mode: 'exactly-once', dir: tempDir('eddy-sink-chk-'), intervalMs: 100 } } : {},
    );
    expect(await committedNumbers(topic)).toEqual(range(0, count));
  });
});

describe('kafkaSink: bad input at run time fails the job, saying what is wrong', () => {
  it('an unreachable broker fails within connectionTimeoutMs, naming brokers', async () => {
    const startedAtMs = Date.now();
    await expect(runJob({ brokers: '127.0.0.1:1', topic: 'anything', count: 5, connectionTimeoutMs: 2_000 })).rejects.toThrow(
      /could not reach Kafka at 127\.0\.0\.1:1 \(brokers\) within 2000 ms: .*ECONNREFUSED/,
    );
    expect(Date.now() - startedAtMs).toBeLessThan(6_000);
  });

  it('a missing topic fails, naming it — also one chosen per record', async () => {
    const missing = uniqueName('eddy-missing');
    await expect(runJob({ topic: missing, count: 5 })).rejects.toThrow(`has no topic '${missing}' (topic)`);
    const existing = await createTopic(1);
    const startedAtMs = Date.now();
    await expect(runJob({ topic: `${existing},${missing}`, count: 5 })).rejects.toThrow(missing);
    expect(Date.now() - startedAtMs).toBeLessThan(15_000);
  });

  it("value: 'bytes' with records that are not bytes fails, naming the option and the fix", async () => {
    const topic = await createTopic(1);
    await expect(runJob({ topic, count: 5, value: 'bytes' })).rejects.toThrow("value: 'bytes' needs Uint8Array/Buffer records, got object; use 'json' or 'text'");
  });

  it('a partitioner returning no partition of the topic fails, naming it and the range', async () => {
    const topic = await createTopic(3);
    await expect(runJob({ topic, count: 5, partitioner: 'out-of-range' })).rejects.toThrow(
      `option 'partitioner' returned 3 for a record of '${topic}', which has 3 partitions (0…2)`,
    );
  });
});

import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, Partitioners, logLevel, type Admin, type Consumer, type IHeaders, type Producer } from 'kafkajs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { JobModuleRef } from '../../../src/api/job.ts';
import { formatProgress } from '../../../src/cli/report.ts';
import { buildJobGraph } from '../../../src/runtime/job-loader.ts';
import { executeJob, type ExecutionOptions, type JobProgress, type JobResult } from '../../../src/runtime/local-executor.ts';
import { collectSink, type CollectSink } from '../../../connectors/collect/index.ts';
import {
  KafkaSourceReader,
  KafkaSplitEnumerator,
  bytes,
  json,
  kafkaSource,
  msgpack,
  partitionOwner,
  text,
  type KafkaPartitionSplit,
} from '../../../connectors/kafka/index.ts';
import { RecordingEnumeratorContext, RecordingOutput, pollBatches } from '../connector-test-kit.ts';
import { KafkaFetchClient } from '../../../connectors/kafka/kafka-client.ts';
import { TEST_BROKER_START_TIMEOUT_MS, useTestKafkaBroker } from '../../support/kafka-broker.ts';
import { Reading, WINDOW_MS, type KafkaJobArgs, type RecordOut, type WindowCount } from './fixtures/kafka-jobs.ts';

/**
 * The Kafka source against a real broker (the run's shared Kafka 3.9.1, test/support/kafka-broker.ts):
 * jobs built with the public API (fixtures/kafka-jobs.ts) over topics with known records, compared with
 * a reference computed from those records. Every test uses its own topics and groups.
 */

const modulePath = fileURLToPath(new URL('./fixtures/kafka-jobs.ts', import.meta.url));
const uniqueName = (what: string): string => `${what}-${randomUUID().slice(0, 8)}`;
const BASE_TS = Date.UTC(2026, 0, 1);

let bootstrap: string;
let kafka: Kafka;
let admin: Admin;
let producer: Producer;
const consumers: Consumer[] = [];
const sinks: Array<CollectSink<unknown>> = [];
const dirs: string[] = [];

beforeAll(async () => {
  bootstrap = await useTestKafkaBroker();
  kafka = new Kafka({ clientId: 'eddy-kafka-source-test', brokers: [bootstrap], logLevel: logLevel.NOTHING });
  admin = kafka.admin();
  await admin.connect();
  producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
}, TEST_BROKER_START_TIMEOUT_MS);

afterAll(async () => {
  await Promise.all(consumers.map((consumer) => consumer.disconnect()));
  await producer?.disconnect();
  await admin?.disconnect();
});

afterEach(() => {
  for (const sink of sinks.splice(0)) sink.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

async function createTopic(numPartitions: number, topic = uniqueName('eddy-source')): Promise<string> {
  expect(await admin.createTopics({ topics: [{ topic, numPartitions }], waitForLeaders: true })).toBe(true);
  return topic;
}

/** Reading i: key `k<i mod 5>`, 37 ms after reading i − 1, on partition i mod `partitions`. */
function readings(count: number, partitions: number, from = 0): Array<{ readonly partition: number; readonly reading: Reading }> {
  return Array.from({ length: count }, (_, j) => {
    const n = from + j;
    return { partition: n % partitions, reading: { key: `k${n % 5}`, ts: BASE_TS + n * 37, n } };
  });
}

/** Produces `list` in sends of `perSend` records (each send writes one record batch per partition). */
async function produceReadings(
  topic: string,
  list: ReadonlyArray<{ readonly partition: number; readonly reading: Reading }>,
  perSend = 500,
): Promise<void> {
  for (let i = 0; i < list.length; i += perSend) {
    await producer.send({
      topic,
      messages: list.slice(i, i + perSend).map(({ partition, reading }) => ({ partition, key: reading.key, value: JSON.stringify(reading) })),
    });
  }
}

/** The windows a correct run emits for `list`: per key and tumbling window, the number of readings. */
function referenceCounts(list: ReadonlyArray<{ readonly reading: Reading }>): WindowCount[] {
  const counts = new Map<string, WindowCount>();
  for (const { reading } of list) {
    const start = Math.floor(reading.ts / WINDOW_MS) * WINDOW_MS;
    const id = `${reading.key}@${start}`;
    counts.set(id, { key: reading.key, start, count: (counts.get(id)?.count ?? 0) + 1 });
  }
  return sortCounts([...counts.values()]);
}

function sortCounts(list: readonly WindowCount[]): WindowCount[] {
  return [...list].sort((a, b) => a.start - b.start || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

function newSink<T>(): { readonly sinkId: string; readonly sink: CollectSink<T> } {
  const sinkId = uniqueName('kafka-collect');
  const sink = collectSink<T>(sinkId);
  sinks.push(sink as CollectSink<unknown>);
  return { sinkId, sink };
}

interface RunSettings extends Omit<ExecutionOptions, 'job'> {
  readonly parallelism?: number;
}

async function runJob(args: Omit<KafkaJobArgs, 'brokers'> & { readonly brokers?: string }, settings: RunSettings = {}): Promise<JobResult> {
  const ref: JobModuleRef = { modulePath, exportName: 'job', rawArgs: { brokers: bootstrap, ...args } };
  const { parallelism = 1, ...options } = settings;
  const graph = await buildJobGraph(ref, { jobName: 'kafka-source-test', parallelism });
  return executeJob(graph, { workers: 0, ...options, job: ref });
}

/** Waits for a condition instead of sleeping a guessed time; fails with `what` after `timeoutMs`. */
async function waitFor(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(25);
  }
}

/** Runs an unbounded job until `isDone`, then cancels it; resolves with the job's rejection (expected: cancelled). */
async function runUntil(
  args: Omit<KafkaJobArgs, 'brokers'>,
  isDone: () => boolean,
  what: string,
  settings: RunSettings = {},
  whileRunning: () => Promise<void> = async () => {},
): Promise<void> {
  const controller = new AbortController();
  const running = runJob({ ...args, bounded: false }, { ...settings, signal: controller.signal });
  const outcome = running.then(
    () => new Error('the unbounded job finished by itself'),
    (error: unknown) => error,
  );
  try {
    await Promise.race([
      (async () => {
        await whileRunning();
        await waitFor(isDone, what);
      })(),
      outcome.then((error) => {
        throw error;
      }),
    ]);
  } finally {
    controller.abort();
  }
  expect(String(await outcome)).toContain('the job was cancelled');
}

describe('KafkaSource: bounded jobs (stoppingOffsets: latest)', () => {
  it.each([
    { parallelism: 1, workers: 0 },
    { parallelism: 2, workers: 2 },
  ])('keyed windows over 4 partitions at parallelism $parallelism ($workers workers) equal the reference', async ({ parallelism, workers }) => {
    const topic = await createTopic(4);
    const list = readings(2_000, 4);
    await produceReadings(topic, list);
    const { sinkId, sink } = newSink<WindowCount>();
    const result = await runJob({ topic, shape: 'window-count', sinkId }, { parallelism, workers });
    expect(sortCounts(sink.results())).toEqual(referenceCounts(list));
    const source = result.operators.find((operator) => operator.uid === 'kafka')!;
    expect(source.metrics.recordsOut).toBe(list.length);
  });
});

describe('KafkaSource: partitions and subtasks', () => {
  it('with more subtasks (3) than partitions (2), the idle subtask does not stall the windows', async () => {
    const topic = await createTopic(2);
    const owners = new Set([0, 1].map((partition) => partitionOwner(topic, partition, 3)));
    expect(owners.size).toBe(2);
    const list = readings(400, 2);
    await produceReadings(topic, list);
    // Unbounded: windows fire only on the watermark, the minimum over both partitions (minus the bound).
    const maxTsPerPartition = [0, 1].map((partition) => Math.max(...list.filter((entry) => entry.partition === partition).map((entry) => entry.reading.ts)));
    const watermarkMs = Math.min(...maxTsPerPartition) - 200 - 1;
    const expected = referenceCounts(list).filter((count) => count.start + WINDOW_MS - 1 <= watermarkMs);
    expect(expected.length).toBeGreaterThan(50);
    const { sinkId, sink } = newSink<WindowCount>();
    await runUntil({ topic, shape: 'window-count', sinkId }, () => sink.results().length >= expected.length, `${expected.length} windows`, {
      parallelism: 3,
    });
    expect(sortCounts(sink.results())).toEqual(expected);
  });

  it('picks up a partition added while the job runs (discovery every 500 ms), from its earliest offset', async () => {
    const topic = await createTopic(1);
    // At parallelism 2 consecutive partitions go to different subtasks: the new one to the idle subtask.
    expect(partitionOwner(topic, 1, 2)).not.toBe(partitionOwner(topic, 0, 2));
    await produceReadings(topic, readings(10, 1));
    const { sinkId, sink } = newSink<RecordOut>();
    const late = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    try {
      await runUntil(
        { topic, shape: 'records', sinkId, partitionDiscoveryIntervalMs: 500 },
        () => sink.results().length >= 20,
        '10 records of each partition',
        { parallelism: 2 },
        async () => {
          await waitFor(() => sink.results().length >= 10, 'the first partition');
          await admin.createPartitions({ topicPartitions: [{ topic, count: 2 }] });
          // A new producer: the shared one's metadata does not know partition 1 yet.
          await late.connect();
          await late.send({
            topic,
            messages: readings(10, 1, 100).map(({ reading }) => ({ partition: 1, key: reading.key, value: JSON.stringify(reading) })),
          });
        },
      );
    } finally {
      await late.disconnect();
    }
    const results = sink.results();
    expect(results.filter((record) => record.partition === 0).map((record) => record.n)).toEqual(Array.from({ length: 10 }, (_, i) => i));
    expect(results.filter((record) => record.partition === 1).map((record) => record.n)).toEqual(Array.from({ length: 10 }, (_, i) => 100 + i));
  });
});

describe('KafkaSource: topic patterns', () => {
  it('reads every topic whose whole name matches, also one created while the job runs', async () => {
    const prefix = uniqueName('eddy-pattern');
    const first = await createTopic(2, `${prefix}-a`);
    const unrelated = await createTopic(1, `${prefix}x-a`);
    await produceReadings(first, readings(6, 2));
    await produceReadings(unrelated, readings(3, 1));
    const { sinkId, sink } = newSink<RecordOut>();
    let second = '';
    await runUntil(
      { topicPattern: `${prefix}-.*`, shape: 'records', sinkId, partitionDiscoveryIntervalMs: 500 },
      () => sink.results().length >= 10,
      'the records of both matching topics',
      {},
      async () => {
        await waitFor(() => sink.results().length >= 6, 'the first topic');
        second = await createTopic(1, `${prefix}-b`);
        await produceReadings(second, readings(4, 1, 50));
      },
    );
    const byTopic = (topic: string): number[] =>
      sink
        .results()
        .filter((record) => record.topic === topic)
        .map((record) => record.n)
        .sort((a, b) => a - b);
    expect(byTopic(first)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(byTopic(second)).toEqual([50, 51, 52, 53]);
    expect(byTopic(unrelated)).toEqual([]);
  });
});

describe('KafkaSource: checkpoints and offsets', () => {
  it('restores at exactly the checkpointed offsets after a failure (exactly-once output), and commits offsets to the group', async () => {
    const topic = await createTopic(4);
    // Subtask 0 reads about 2,000 of them: once armed, about 1,200 paced records (≥ 1.2 s) for two checkpoints to complete.
    const list = readings(4_000, 4);
    await produceReadings(topic, list);
    const groupId = uniqueName('eddy-lag');
    const outputDir = tempDir('eddy-kafka-out-');
    const checkpointDir = tempDir('eddy-kafka-chk-');
    const log: string[] = [];
    await runJob(
      { topic, shape: 'window-count', outputDir, groupId, failAfter: 800, checkpointDir, maxBufferedRecords: 100, fetchMaxBytes: 8_192 },
      {
        // On worker threads: the paced function blocks its task's thread, not the checkpoint coordinator.
        parallelism: 2,
        workers: 2,
        log: (line) => log.push(line),
        checkpointing: { mode: 'exactly-once', dir: checkpointDir, intervalMs: 50, restartStrategy: { kind: 'fixed-delay', attempts: 2, delayMs: 20 } },
      },
    );
    const restarts = log.filter((line) => line.startsWith('restarting job'));
    expect(restarts, log.join('\n')).toHaveLength(1);
    expect(restarts[0]).toMatch(/^restarting job from chk-\d{6} \(attempt 2\) after: .*injected failure after \d+ records; \d+ completed checkpoints/);
    const committed = readdirSync(outputDir)
      .filter((name) => name.startsWith('part-'))
      .flatMap((name) => readFileSync(join(outputDir, name), 'utf8').split('\n').filter(Boolean))
      .map((line) => JSON.parse(line) as WindowCount);
    expect(sortCounts(committed)).toEqual(referenceCounts(list));

    // The final checkpoint's offsets (each partition's end) were committed to the group: lag 0.
    const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const ends = await admin.fetchTopicOffsets(topic);
    expect(offsets!.partitions.map(({ partition, offset }) => [partition, offset]).sort()).toEqual(
      ends.map(({ partition, high }) => [partition, high]).sort(),
    );
  });

  it('starts from a timestamp: the first record of each partition at or after it', async () => {
    const topic = await createTopic(2);
    const list = readings(40, 2);
    await producer.send({
      topic,
      messages: list.map(({ partition, reading }) => ({ partition, value: JSON.stringify(reading), timestamp: String(reading.ts) })),
    });
    const { sinkId, sink } = newSink<RecordOut>();
    await runJob({ topic, shape: 'records', sinkId, startingOffsets: { timestampMs: BASE_TS + 25 * 37 } });
    const results = [...sink.results()].sort((a, b) => a.n - b.n);
    expect(results.map((record) => record.n)).toEqual(Array.from({ length: 15 }, (_, i) => 25 + i));
    expect(results.every((record) => record.timestamp === BASE_TS + record.n * 37)).toBe(true);
  });

  it("starts from the group's committed offsets, falling back to earliest where the group has none", async () => {
    const topic = await createTopic(2);
    await produceReadings(topic, readings(20, 2));
    const groupId = uniqueName('eddy-start');
    // Committed as Eddy commits for lag monitoring: a standalone commit, no group member.
    const client = new KafkaFetchClient({
      brokers: [bootstrap],
      clientId: 'eddy-kafka-source-test',
      ssl: undefined,
      sasl: undefined,
      connectionTimeoutMs: 10_000,
      requestTimeoutMs: 30_000,
      logLevel: 'nothing',
      log: () => {},
    });
    await client.connect();
    try {
      await client.addTopics([topic]);
      await client.commitOffsets(groupId, [{ topic, partition: 0, offset: 6 }]);
    } finally {
      await client.close();
    }
    const { sinkId, sink } = newSink<RecordOut>();
    await runJob({ topic, shape: 'records', sinkId, groupId, startingOffsets: { committedOr: 'earliest' } });
    const offsetsOf = (partition: number): number[] =>
      sink
        .results()
        .filter((record) => record.partition === partition)
        .map((record) => record.offset);
    expect(offsetsOf(0)).toEqual([6, 7, 8, 9]);
    expect(offsetsOf(1)).toEqual(Array.from({ length: 10 }, (_, i) => i));
  });

  it("starts from 'latest': only records written after the job started", async () => {
    const topic = await createTopic(2);
    await produceReadings(topic, readings(20, 2));
    const { sinkId, sink } = newSink<RecordOut>();
    let next = 1_000;
    const stopProducing = new AbortController();
    const producing = (async () => {
      while (!stopProducing.signal.aborted) {
        await produceReadings(topic, readings(2, 2, next));
        next += 2;
        await sleep(100);
      }
    })();
    try {
      await runUntil({ topic, shape: 'records', sinkId, startingOffsets: 'latest' }, () => sink.results().length >= 4, 'new records');
    } finally {
      stopProducing.abort();
      await producing;
    }
    expect(sink.results().every((record) => record.n >= 1_000)).toBe(true);
  });
});

describe('KafkaSource: transactions (read_committed)', () => {
  it('skips aborted records and control records, and a bounded read ends past a trailing commit marker', async () => {
    const topic = await createTopic(1);
    const value = (n: number): string => JSON.stringify({ key: 'a', ts: BASE_TS + n, n });
    await producer.send({ topic, messages: [{ value: value(0) }] });
    const transactional = kafka.producer({ transactionalId: uniqueName('eddy-tx'), idempotent: true, maxInFlightRequests: 1 });
    await transactional.connect();
    try {
      for (const [n, outcome] of [
        [1, 'commit'],
        [2, 'abort'],
        [3, 'commit'],
      ] as const) {
        const transaction = await transactional.transaction();
        await transaction.send({ topic, messages: [{ value: value(n) }, { value: value(n + 10) }] });
        await (outcome === 'commit' ? transaction.commit() : transaction.abort());
      }
    } finally {
      await transactional.disconnect();
    }
    const { sinkId, sink } = newSink<RecordOut>();
    await runJob({ topic, shape: 'records', sinkId });
    expect(sink.results().map((record) => record.n)).toEqual([0, 1, 11, 3, 13]);
  });
});

describe('KafkaSource: poison records', () => {
  /** Offsets 0 and 4 are valid; 1 is not JSON, 2 fails the schema, 3 has no value. */
  async function poisonedTopic(): Promise<string> {
    const topic = await createTopic(1);
    await producer.send({
      topic,
      messages: [
        { value: JSON.stringify({ key: 'a', ts: BASE_TS, n: 0 }) },
        { value: 'not json', headers: { origin: 'test' } },
        { value: JSON.stringify({ key: 1, ts: BASE_TS, n: 1 }) },
        { key: 'tombstone', value: null },
        { value: JSON.stringify({ key: 'a', ts: BASE_TS + 1, n: 4 }) },
      ],
    });
    return topic;
  }

  it("'fail' fails the job, naming the record and the problem", async () => {
    const topic = await poisonedTopic();
    await expect(runJob({ topic, shape: 'records', sinkId: newSink<RecordOut>().sinkId, onPoisonRecord: 'fail' })).rejects.toThrow(
      `${topic}-0@1: json value: invalid JSON`,
    );
  });

  it("'skip' drops them, counted as skipped bad records", async () => {
    const topic = await poisonedTopic();
    const { sinkId, sink } = newSink<RecordOut>();
    const result = await runJob({ topic, shape: 'records', sinkId, onPoisonRecord: 'skip' });
    expect(sink.results().map((record) => record.n)).toEqual([0, 4]);
    expect(result.operators.find((operator) => operator.uid === 'kafka')!.metrics).toMatchObject({ recordsIn: 5, recordsOut: 2, badRecordsSkipped: 3 });
  });

  it('unset, the job policy applies (here: skip)', async () => {
    const topic = await poisonedTopic();
    const { sinkId, sink } = newSink<RecordOut>();
    const result = await runJob({ topic, shape: 'records', sinkId }, { onBadRecord: 'skip' });
    expect(sink.results().map((record) => record.n)).toEqual([0, 4]);
    expect(result.operators.find((operator) => operator.uid === 'kafka')!.metrics.badRecordsSkipped).toBe(3);
  });

  it('{ deadLetterTopic } produces them there unchanged, with the error and their origin in headers', async () => {
    const topic = await poisonedTopic();
    const deadLetterTopic = await createTopic(1);
    const { sinkId, sink } = newSink<RecordOut>();
    const result = await runJob({ topic, shape: 'records', sinkId, onPoisonRecord: { deadLetterTopic } });
    expect(sink.results().map((record) => record.n)).toEqual([0, 4]);
    expect(result.operators.find((operator) => operator.uid === 'kafka')!.metrics.badRecordsDeadLettered).toBe(3);

    const consumer = kafka.consumer({ groupId: uniqueName('eddy-dlq'), maxWaitTimeInMs: 100 });
    consumers.push(consumer);
    await consumer.connect();
    await consumer.subscribe({ topic: deadLetterTopic, fromBeginning: true });
    const letters: Array<{ key: string | null; value: string | null; headers: IHeaders }> = [];
    await consumer.run({
      eachMessage: async ({ message }) => {
        letters.push({ key: message.key?.toString() ?? null, value: message.value?.toString() ?? null, headers: message.headers ?? {} });
      },
    });
    await waitFor(() => letters.length >= 3, '3 dead letters');
    await consumer.stop();
    const header = (index: number, name: string): string | undefined => letters[index]!.headers[name]?.toString();
    expect(letters.map((letter) => letter.value)).toEqual(['not json', JSON.stringify({ key: 1, ts: BASE_TS, n: 1 }), null]);
    expect(letters[2]!.key).toBe('tombstone');
    expect(header(0, 'origin')).toBe('test');
    expect(header(0, 'eddy-error')).toMatch(/^json value: invalid JSON/);
    expect(header(1, 'eddy-error')).toMatch(/^json value: schema mismatch: field 'key'/);
    expect(header(2, 'eddy-error')).toBe('the record has no value (null: a tombstone)');
    expect([0, 1, 2].map((index) => [header(index, 'eddy-source-topic'), header(index, 'eddy-source-partition'), header(index, 'eddy-source-offset')])).toEqual([
      [topic, '0', '1'],
      [topic, '0', '2'],
      [topic, '0', '3'],
    ]);
  });
});

describe('KafkaSource: lag in the progress line', () => {
  it('reports each partition’s lag (end offset − next offset), 0 once everything was read', async () => {
    const topic = await createTopic(2);
    const list = readings(3_000, 2);
    await produceReadings(topic, list);
    const { sinkId, sink } = newSink<RecordOut>();
    const progress: JobProgress[] = [];
    const caughtUp = (report: JobProgress): boolean => {
      const lags = report.sources[0]?.splitLags ?? [];
      return lags.length === 2 && lags.every(([, lag]) => lag === 0);
    };
    await runUntil(
      { topic, shape: 'records', sinkId, maxBufferedRecords: 500 },
      () => sink.results().length === list.length && progress.some(caughtUp),
      'every record, and a progress report with lag 0',
      { onProgress: (report) => progress.push(report), progressIntervalMs: 50 },
    );
    const last = progress.find(caughtUp)!;
    expect([...last.sources[0]!.splitLags!].sort()).toEqual([
      [`${topic}-0`, 0],
      [`${topic}-1`, 0],
    ]);
    expect(formatProgress(last, 1_000)).toContain(` · lag ${topic}-0:0 ${topic}-1:0`);
  });

  it('formats many partitions as a total with the largest', () => {
    const report: JobProgress = {
      elapsedMs: 1_000,
      recordsIn: 10,
      recordsOut: 10,
      recordsInPerSecond: 10,
      watermarkMs: Number.MIN_SAFE_INTEGER,
      sources: [{ uid: 'orders', name: 'orders', recordsOut: 10, splitLags: [['o-0', 3], ['o-1', 1_200], ['o-2', 0], ['o-3', 7], ['o-4', 40]] }],
    };
    expect(formatProgress(report, 1_000)).toMatch(/ · lag 1,250 \(max o-1:1,200\)$/);
    const few: JobProgress = { ...report, sources: [{ uid: 'orders', name: 'orders', recordsOut: 10, splitLags: [['o-10', 1], ['o-2', 2_000]] }] };
    expect(formatProgress(few, 1_000)).toMatch(/ · lag o-2:2,000 o-10:1$/);
  });
});

describe('KafkaSourceReader and KafkaSplitEnumerator on their own', () => {
  const connection = () => ({
    brokers: [bootstrap],
    clientId: 'eddy-kafka-source-test',
    ssl: undefined,
    sasl: undefined,
    connectionTimeoutMs: 10_000,
    requestTimeoutMs: 30_000,
    logLevel: 'nothing' as const,
    log: () => {},
  });

  it('a reader that is not polled stops fetching at its buffer bound; polled, it emits batches of one partition, in offset order', async () => {
    const topic = await createTopic(2);
    const list = readings(4_000, 2);
    // Record batches of 25 records (about 1.4 kB): a 4 kB fetch response holds about 75 records.
    await produceReadings(topic, list, 50);
    const reader = new KafkaSourceReader({
      connection: connection(),
      value: json({ schema: Reading }),
      key: text(),
      withMetadata: false,
      groupId: undefined,
      onPoisonRecord: 'fail',
      maxBufferedRecords: 300,
      fetchLimits: { maxWaitMs: 100, maxBytes: 4_096, maxBytesPerPartition: 4_096 },
    });
    try {
      await reader.start();
      reader.addSplits([0, 1].map((partition) => ({ splitId: `${topic}-${partition}`, topic, partition, nextOffset: 0, stoppingOffset: 2_000 })));
      reader.notifyNoMoreSplits();
      await waitFor(() => reader.bufferedRecordCount >= 300, 'a full buffer');
      const full = reader.bufferedRecordCount;
      // The bound plus at most the response in flight when it was reached; then nothing more is fetched.
      expect(full).toBeLessThan(300 + 100);
      await sleep(300);
      expect(reader.bufferedRecordCount).toBe(full);
      const output = new RecordingOutput<Reading>();
      const { batches, status } = await pollBatches(reader, output);
      expect(status).toBe('end-of-input');
      expect(batches.every((batch) => batch.splitIds.length === 1 && batch.records <= 1_000)).toBe(true);
      for (const partition of [0, 1]) {
        const expected = list.filter((entry) => entry.partition === partition).map((entry) => entry.reading);
        expect(output.events.filter((event) => event.splitId === `${topic}-${partition}` && event.kind === 'record').map((event) => (event as { value: Reading }).value)).toEqual(expected);
      }
      expect(output.finished().sort()).toEqual([`${topic}-0`, `${topic}-1`]);
      expect(reader.bufferedRecordCount).toBe(0);
    } finally {
      await reader.close();
    }
  });

  it('the enumerator assigns by partitionOwner; restored, it assigns only partitions it had not (from earliest)', async () => {
    const topic = await createTopic(4);
    await produceReadings(topic, readings(40, 4));
    const settings = {
      connection: connection(),
      subscription: { kind: 'topics' as const, topics: [topic] },
      startingOffsets: 'latest' as const,
      groupId: undefined,
      isBounded: false,
      partitionDiscoveryIntervalMs: 0,
      deadLetterTopic: undefined,
    };
    const first = new RecordingEnumeratorContext<KafkaPartitionSplit>(3);
    const enumerator = new KafkaSplitEnumerator(first, settings);
    await enumerator.start();
    const checkpoint = enumerator.snapshotState();
    await enumerator.close();
    for (let partition = 0; partition < 4; partition++) {
      expect(first.splitsOf(partitionOwner(topic, partition, 3))).toContainEqual({
        splitId: `${topic}-${partition}`,
        topic,
        partition,
        nextOffset: 10,
        stoppingOffset: null,
      });
    }
    expect(first.noMoreSplits).toEqual([]);

    await admin.createPartitions({ topicPartitions: [{ topic, count: 5 }] });
    const second = new RecordingEnumeratorContext<KafkaPartitionSplit>(2);
    const restored = new KafkaSplitEnumerator(second, settings, checkpoint);
    await restored.start();
    await restored.close();
    expect([0, 1].flatMap((subtask) => second.splitsOf(subtask))).toEqual([
      { splitId: `${topic}-4`, topic, partition: 4, nextOffset: 0, stoppingOffset: null },
    ]);
    expect(second.splitsOf(partitionOwner(topic, 4, 2))).toHaveLength(1);
  });
});

describe('KafkaSource: bad settings fail fast, naming the setting', () => {
  it('an unreachable broker fails the job within the connection timeout', async () => {
    const startedAtMs = Date.now();
    await expect(
      runJob({ brokers: '127.0.0.1:1', topic: 'anything', shape: 'records', sinkId: newSink<RecordOut>().sinkId, connectionTimeoutMs: 2_000 }),
    ).rejects.toThrow(/could not reach Kafka at 127\.0\.0\.1:1 \(brokers\) within 2000 ms: .*ECONNREFUSED/);
    expect(Date.now() - startedAtMs).toBeLessThan(5_000);
  });

  it('TLS and SASL settings reach the client: against a plaintext broker they fail, naming the setting', async () => {
    const sinkId = newSink<RecordOut>().sinkId;
    await expect(runJob({ topic: 'anything', shape: 'records', sinkId, security: 'tls', connectionTimeoutMs: 2_000 })).rejects.toThrow(
      `the TLS connection to Kafka at ${bootstrap} failed (ssl): `,
    );
    await expect(runJob({ topic: 'anything', shape: 'records', sinkId, security: 'sasl-plain', connectionTimeoutMs: 2_000 })).rejects.toThrow(
      `Kafka at ${bootstrap} rejected the authentication (sasl): `,
    );
  });

  it('a missing topic fails the job, naming it', async () => {
    const topic = uniqueName('eddy-missing');
    await expect(runJob({ topic, shape: 'records', sinkId: newSink<RecordOut>().sinkId })).rejects.toThrow(
      `topic '${topic}' does not exist (topics); create it or correct the name`,
    );
  });

  it('a missing dead-letter topic fails the job, naming the setting', async () => {
    const topic = await createTopic(1);
    await expect(
      runJob({ topic, shape: 'records', sinkId: newSink<RecordOut>().sinkId, onPoisonRecord: { deadLetterTopic: 'eddy-no-such-dlq' } }),
    ).rejects.toThrow("dead-letter topic 'eddy-no-such-dlq' does not exist (onPoisonRecord.deadLetterTopic)");
  });

  it('bad options are refused when the source is built, naming the option', () => {
    const base = { brokers: 'localhost:9092', topics: 'orders', value: json() };
    expect(() => kafkaSource({ ...base, value: 'json' as never })).toThrow(
      "kafkaSource: option 'value' must be a deserializer: json({ schema }), text(), bytes() or msgpack()",
    );
    expect(() => kafkaSource({ ...base, topic: 'orders' } as never)).toThrow("kafkaSource: unknown option 'topic'");
    expect(() => kafkaSource({ ...base, brokers: 'localhost' })).toThrow("kafkaSource: option 'brokers': 'localhost' is not host:port");
    expect(() => kafkaSource({ ...base, topics: undefined })).toThrow("kafkaSource: needs 'topics' (a topic or a list) or 'topicPattern'");
    expect(() => kafkaSource({ ...base, startingOffsets: { committedOr: 'earliest' } })).toThrow("set 'groupId'");
    expect(() => kafkaSource({ ...base, startingOffsets: 'newest' as never })).toThrow(
      "kafkaSource: option 'startingOffsets' must be 'earliest', 'latest', { committedOr: 'earliest' | 'latest' } or { timestampMs: <epoch ms> }",
    );
    expect(() => kafkaSource({ ...base, onPoisonRecord: { deadLetterTopic: '' } })).toThrow("option 'onPoisonRecord' must be 'fail', 'skip' or { deadLetterTopic");
    expect(() => kafkaSource({ ...base, fetchMaxBytes: 0 })).toThrow("kafkaSource: option 'fetchMaxBytes' fetchMaxBytes must be > 0");
    expect(() => json({ schema: 42 as never })).toThrow('json({ schema }) needs a zod schema');
  });
});

describe('deserializers', () => {
  it('json checks the schema and names the field; text, bytes and msgpack decode', () => {
    const Order = json({ schema: Reading });
    expect(Order.deserialize(Buffer.from('{"key":"a","ts":1,"n":2}'))).toEqual({ key: 'a', ts: 1, n: 2 });
    expect(() => Order.deserialize(Buffer.from('{"key":"a","ts":"x","n":2}'))).toThrow(/^schema mismatch: field 'ts': /);
    expect(() => Order.deserialize(Buffer.from('{'))).toThrow(/^invalid JSON: /);
    expect(text().deserialize(Buffer.from('héllo'))).toBe('héllo');
    const source = Buffer.from([1, 2, 3]);
    const copy = bytes().deserialize(source);
    source[0] = 9;
    expect([...copy]).toEqual([1, 2, 3]);
    expect(msgpack().deserialize(Buffer.from([0x82, 0xa1, 0x61, 0x01, 0xa1, 0x62, 0xc3]))).toEqual({ a: 1, b: true });
    expect(() => msgpack({ schema: Reading }).deserialize(Buffer.from([0x01]))).toThrow(/^schema mismatch: record: /);
  });
});

describe('partitionOwner', () => {
  it('spreads a topic’s partitions round-robin over the subtasks, the same way every time', () => {
    for (const parallelism of [1, 2, 3, 5, 8]) {
      const owners = Array.from({ length: 20 }, (_, partition) => partitionOwner('orders', partition, parallelism));
      for (let partition = 1; partition < 20; partition++) expect(owners[partition]).toBe((owners[partition - 1]! + 1) % parallelism);
      const counts = Array.from({ length: parallelism }, (_, subtask) => owners.filter((owner) => owner === subtask).length);
      expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
    }
  });
});

/**
 * The Kafka benchmark of `npm run bench -- kafka [--records n] [--parallelism 1,2] [--runs n]`: Kafka ▶
 * running count per key ▶ Kafka, in records per second, beside raw kafkajs doing the same on the same
 * machine and broker (the ceiling a Node.js consume ▶ produce loop reaches).
 *
 * 1. Starts its own development broker (connectors/kafka/dev-broker) on free ports in a temp folder,
 *    creates an input topic of {@link PARTITIONS} partitions and produces `records` JSON events
 *    `{ key, ts, n }` over {@link KEYS} keys into it (not timed). The broker is stopped and its folder
 *    removed at the end, also after a failure.
 * 2. Raw kafkajs: a consumer (`eachBatch`, a group of one) reads every record, parses it, counts it
 *    per key and a producer writes one `{ key, count }` per input record (sends of
 *    {@link RECORDS_PER_SEND}, `acks: -1`, up to {@link SENDS_IN_FLIGHT} in flight) to a fresh output
 *    topic; timed until the last send is acknowledged. The transactional variant writes in kafkajs
 *    transactions of about {@link RAW_TRANSACTION_MS}, each committing the consumer's offsets with it
 *    (Kafka's consume ▶ transform ▶ produce exactly-once pattern).
 * 3. Eddy: kafka-bench-job.ts through `executeJob` at each parallelism (1: every task in this thread,
 *    2: two worker threads), exactly-once (Kafka transactions committed with checkpoints every
 *    {@link CHECKPOINT_INTERVAL_MS}) and at-least-once (idempotent producer; at-least-once
 *    checkpoints at the same interval), memory state backend; timed from `executeJob` to its end.
 *
 * Every measurement runs in a fresh child process (`run.ts --kafka-child`), so JIT and heap start
 * cold for each, and writes to its own output topic. All of it shares the machine with the broker's
 * JVM, which is part of what is measured: on a small machine, broker CPU is taken from the pipeline.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel, Partitioners, type Admin, type Consumer, type Producer } from 'kafkajs';
import { findFreePorts, KAFKA_VERSION, startDevBroker, stopDevBroker } from '../../connectors/kafka/dev-broker/index.ts';
import type { JobModuleRef } from '../../src/api/job.ts';
import type { CheckpointMetadata } from '../../src/checkpoint/checkpoint-metadata.ts';
import { buildJobGraph } from '../../src/runtime/job-loader.ts';
import { executeJob, type JobProgress } from '../../src/runtime/local-executor.ts';
import type { BenchEvent, KeyCount } from './kafka-bench-job.ts';
import { percentile } from './checkpoint-bench.ts';
import { runJsonChild } from './json-child.ts';
import { machineDescription } from './scenarios.ts';

/** Input records of a default run: about 3 minutes in all on a 2-core machine. */
export const DEFAULT_KAFKA_RECORDS = 1_000_000;
/** Input records of `--quick`. */
export const QUICK_KAFKA_RECORDS = 200_000;
const KEYS = 1_000;
const PARTITIONS = 4;
const CHECKPOINT_INTERVAL_MS = 1_000;
/** The transactional raw variant commits a transaction once it is this old (checked per fetched batch). */
const RAW_TRANSACTION_MS = 1_000;
/**
 * Records per kafkajs send, input and raw output alike. kafkajs 2.2.4 groups a send's messages by
 * partition by copying each partition's list for every message (groupMessagesPerPartition.js), so the
 * cost per record grows with the records per partition in one send: 20,000-record sends spend more
 * than a quarter of the producer's CPU there and take twice the CPU per record of 1,000-record ones.
 * Eddy's sink sends 1,000 records a time by default too (`batchSize`).
 */
const RECORDS_PER_SEND = 1_000;
/** Unacknowledged sends before the next waits, input and raw output alike. */
const SENDS_IN_FLIGHT = 16;
/** The broker's maximum heap: above the development default, so that GC on the broker is not what is measured. */
const BROKER_HEAP = '512m';
/** Event time of the first input event, ms (2026-01-01T00:00:00Z); event i is one ms later than event i−1. */
const BASE_TS = Date.UTC(2026, 0, 1);
/** Worker metrics reach the main thread this often; bounds how late the first report with records comes. */
const PROGRESS_INTERVAL_MS = 20;

const RUN_SCRIPT = fileURLToPath(new URL('./run.ts', import.meta.url));
const KAFKA_JOB = fileURLToPath(new URL('./kafka-bench-job.ts', import.meta.url));

/** What a row measures: raw kafkajs (plain or transactional) or the Eddy job with a delivery guarantee. */
export type KafkaPipeline = 'raw' | 'raw-transactional' | 'eddy-exactly-once' | 'eddy-at-least-once';

/** What the parent asks a child process to measure (passed as JSON). */
export interface KafkaChildRequest {
  readonly pipeline: KafkaPipeline;
  readonly parallelism: number;
  readonly brokers: string;
  readonly input: string;
  readonly output: string;
  readonly records: number;
}

/** What one child process measured. */
export interface KafkaMeasurement {
  readonly pipeline: KafkaPipeline;
  readonly parallelism: number;
  /** Worker threads of an Eddy run (0: every task in the child's main thread); 0 for raw kafkajs. */
  readonly workers: number;
  readonly records: number;
  /** From the start (connecting included) until every output record was acknowledged, ms. */
  readonly totalMs: number;
  readonly recordsPerSecond: number;
  /** From the first input record seen until the end, ms, and the records in that span. */
  readonly steadyMs: number;
  readonly steadyRecords: number;
  /** CPU time of the child process (all threads; the broker's JVM is not in it), ms. */
  readonly cpuMs: number;
  /** Completed checkpoints (Eddy) or committed transactions (raw transactional); 0 otherwise. */
  readonly commits: number;
  /** Eddy: each completed checkpoint's duration (trigger to the last acknowledgement), in checkpoint order, ms. */
  readonly checkpointDurationsMs: readonly number[];
}

/** Options of {@link benchKafka}. */
export interface KafkaBenchOptions {
  readonly records: number;
  readonly parallelisms: readonly number[];
  /** Best of this many runs per row. */
  readonly runs: number;
  /** Where progress lines go (standard error in run.ts). */
  readonly log: (line: string) => void;
}

// ——— the parent: broker, input, one child per measurement, the table ———

/**
 * Runs the whole Kafka benchmark (see the module comment) and returns its markdown table, with the
 * machine and the method underneath.
 */
export async function benchKafka(options: KafkaBenchOptions): Promise<string> {
  const { records, log } = options;
  const dataDir = await mkdtemp(path.join(tmpdir(), 'eddy-bench-kafka-'));
  const [port, controllerPort] = await findFreePorts(2);
  try {
    const broker = await startDevBroker({
      port: port!,
      controllerPort: controllerPort!,
      dataDir,
      heap: BROKER_HEAP,
      ownerPid: process.pid,
      onProgress: (message) => log(`  kafka: ${message}`),
    });
    log(`  kafka: broker ${KAFKA_VERSION} on ${broker.bootstrap}, data in ${dataDir}`);
    // Errors reach the caller as rejections; kafkajs's own lines would only repeat the retriable ones (coordinators loading).
    const kafka = new Kafka({ clientId: 'eddy-bench', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    try {
      const input = `bench-input-${shortId()}`;
      await createTopic(admin, input);
      const produceStartMs = performance.now();
      await produceInput(kafka, input, records);
      log(`  kafka: ${records.toLocaleString('en-US')} input records in ${Math.round(performance.now() - produceStartMs)} ms (not measured)`);
      await createCoordinatorTopics(kafka, input);
      const plan: Array<{ readonly pipeline: KafkaPipeline; readonly parallelism: number }> = [
        { pipeline: 'raw', parallelism: 1 },
        { pipeline: 'raw-transactional', parallelism: 1 },
        ...options.parallelisms.flatMap((parallelism) =>
          (['eddy-exactly-once', 'eddy-at-least-once'] as const).map((pipeline) => ({ pipeline, parallelism })),
        ),
      ];
      const rows: KafkaMeasurement[] = [];
      for (const { pipeline, parallelism } of plan) {
        let best: KafkaMeasurement | undefined;
        for (let run = 0; run < options.runs; run++) {
          const output = `bench-output-${pipeline}-p${parallelism}-${shortId()}`;
          await createTopic(admin, output);
          const m = await runKafkaChild({ pipeline, parallelism, brokers: broker.bootstrap, input, output, records });
          const written = await countOutput(admin, output);
          if (written < records) {
            throw new Error(`${pipeline} at parallelism ${parallelism}: the output topic holds ${written} records, expected at least ${records}`);
          }
          log(
            `  ${pipelineTitle(pipeline)} p=${parallelism}: ${formatRate(m.recordsPerSecond)} records/s (${m.totalMs} ms; ` +
              `${formatRate(steadyRate(m))} records/s from the first record; ${m.cpuMs} ms CPU; ${m.commits} ${commitNoun(pipeline)})`,
          );
          if (best === undefined || m.recordsPerSecond > best.recordsPerSecond) best = m;
        }
        rows.push(best!);
      }
      return formatKafkaTable(rows, options.runs);
    } finally {
      await admin.disconnect();
    }
  } finally {
    // Its data is disposable: SIGKILL after 10 s rather than hold up the end of the run.
    await stopDevBroker(dataDir, { timeoutMs: 10_000 });
    await rm(dataDir, { recursive: true, force: true });
  }
}

function shortId(): string {
  return randomUUID().slice(0, 8);
}

async function createTopic(admin: Admin, topic: string): Promise<void> {
  const created = await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true });
  if (!created) throw new Error(`topic ${topic} already exists on the benchmark's fresh broker`);
}

/**
 * Has the broker create its internal topics `__consumer_offsets` (at the first group coordinator
 * lookup) and `__transaction_state` (at the first transactional producer id) before anything is
 * timed, so that no measurement pays for that once-per-broker start-up.
 */
async function createCoordinatorTopics(kafka: Kafka, input: string): Promise<void> {
  const admin = kafka.admin();
  const producer = kafka.producer({ transactionalId: `bench-warm-up-${shortId()}`, idempotent: true, maxInFlightRequests: 1 });
  await admin.connect();
  try {
    await admin.fetchOffsets({ groupId: `bench-warm-up-${shortId()}`, topics: [input] });
    await producer.connect();
    const transaction = await producer.transaction();
    await transaction.abort();
  } finally {
    await Promise.allSettled([producer.disconnect(), admin.disconnect()]);
  }
}

/** The input: event i has key `k<i mod KEYS>` and goes to partition i mod PARTITIONS, so the partitions are even. */
async function produceInput(kafka: Kafka, topic: string, records: number): Promise<void> {
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
  await producer.connect();
  try {
    const inFlight = new Set<Promise<unknown>>();
    for (let start = 0; start < records; start += RECORDS_PER_SEND) {
      const end = Math.min(records, start + RECORDS_PER_SEND);
      const messages = [];
      for (let i = start; i < end; i++) {
        const event: BenchEvent = { key: `k${i % KEYS}`, ts: BASE_TS + i, n: i };
        messages.push({ partition: i % PARTITIONS, key: event.key, value: JSON.stringify(event) });
      }
      const send = producer.send({ topic, messages });
      inFlight.add(send);
      void send.finally(() => inFlight.delete(send)).catch(() => {});
      if (inFlight.size >= SENDS_IN_FLIGHT) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
  } finally {
    await producer.disconnect();
  }
}

/**
 * Offsets in the output topic: the sum of its partitions' latest offsets (kafkajs asks as
 * `read_committed`: for a transactional topic, the last stable offset, transaction markers included).
 * A check that the output was written, not an exact count: the children count their records exactly.
 */
async function countOutput(admin: Admin, topic: string): Promise<number> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets.reduce((sum, { offset }) => sum + Number(offset), 0);
}

/** Runs one measurement in a fresh `node --import tsx run.ts --kafka-child` process. */
function runKafkaChild(request: KafkaChildRequest): Promise<KafkaMeasurement> {
  return runJsonChild<KafkaMeasurement>(
    RUN_SCRIPT,
    ['--kafka-child', JSON.stringify(request)],
    `${request.pipeline} at parallelism ${request.parallelism}`,
  );
}

// ——— the child: one measurement ———

/** Measures `request` in this process (the `--kafka-child` entry of run.ts). */
export async function measureKafkaInChild(request: KafkaChildRequest): Promise<KafkaMeasurement> {
  switch (request.pipeline) {
    case 'raw':
    case 'raw-transactional':
      return measureRawKafkajs(request);
    case 'eddy-exactly-once':
    case 'eddy-at-least-once':
      return measureEddy(request);
    default: {
      const unknown: never = request.pipeline;
      throw new Error(`unknown pipeline ${String(unknown)}`);
    }
  }
}

/** The per-key counting both raw variants do: parse, count, one output record per input record. */
class RawCounter {
  private readonly counts = new Map<string, number>();

  toOutput(value: Buffer | null): { key: string; value: string } {
    if (value === null) throw new Error('an input record without value');
    const event = JSON.parse(value.toString('utf8')) as BenchEvent;
    const count = (this.counts.get(event.key) ?? 0) + 1;
    this.counts.set(event.key, count);
    const result: KeyCount = { key: event.key, count };
    return { key: event.key, value: JSON.stringify(result) };
  }
}

/** A promise with its resolve and reject at hand. */
function deferred(): { promise: Promise<void>; resolve: () => void; reject: (error: unknown) => void } {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * Raw kafkajs consume ▶ count ▶ produce: each fetched batch is counted and sent in sends of
 * {@link RECORDS_PER_SEND} (`acks: -1`), up to {@link SENDS_IN_FLIGHT} unacknowledged before the
 * consumer waits. Plain: no offset commits (the cheapest loop: the ceiling). Transactional: an
 * idempotent transactional producer (kafkajs then sends its requests to a broker one at a time); a
 * transaction older than {@link RAW_TRANSACTION_MS} after a batch waits for its sends, adds the
 * consumer's next offsets and commits, and the next batch opens a new one.
 */
async function measureRawKafkajs(request: KafkaChildRequest): Promise<KafkaMeasurement> {
  const isTransactional = request.pipeline === 'raw-transactional';
  const startCpu = process.cpuUsage();
  const startMs = performance.now();
  // Errors reach the measurement as rejections; kafkajs's own lines would only repeat the retriable ones.
  const kafka = new Kafka({ clientId: 'eddy-bench-raw', brokers: [request.brokers], logLevel: logLevel.NOTHING });
  const groupId = `bench-raw-${shortId()}`;
  // A short fetch wait: disconnecting waits for the fetch in flight.
  const consumer: Consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100 });
  const producer: Producer = kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false,
    ...(isTransactional ? { transactionalId: `bench-raw-${shortId()}`, idempotent: true, maxInFlightRequests: 1 } : {}),
  });
  const counter = new RawCounter();
  const done = deferred();
  let consumed = 0;
  let acknowledged = 0;
  let firstRecordAtMs: number | undefined;
  let commits = 0;
  let transaction: Awaited<ReturnType<Producer['transaction']>> | undefined;
  let transactionStartedAtMs = 0;
  let transactionRecords = 0;
  const nextOffsets = new Map<number, string>();
  const inFlight = new Set<Promise<void>>();

  const send = async (messages: ReadonlyArray<{ key: string; value: string }>): Promise<void> => {
    const sent = (transaction ?? producer).send({ topic: request.output, acks: -1, messages: [...messages] }).then(() => {
      if (isTransactional) return;
      acknowledged += messages.length;
      if (acknowledged === request.records) done.resolve();
    });
    inFlight.add(sent);
    void sent.then(
      () => inFlight.delete(sent),
      (error: unknown) => done.reject(error),
    );
    while (inFlight.size >= SENDS_IN_FLIGHT) await Promise.race(inFlight);
  };

  const commitTransaction = async (): Promise<void> => {
    const open = transaction!;
    await Promise.all(inFlight);
    await open.sendOffsets({
      consumerGroupId: groupId,
      topics: [{ topic: request.input, partitions: [...nextOffsets].map(([partition, offset]) => ({ partition, offset })) }],
    });
    await open.commit();
    transaction = undefined;
    commits++;
    acknowledged += transactionRecords;
    transactionRecords = 0;
    if (acknowledged === request.records) done.resolve();
  };

  await Promise.all([consumer.connect(), producer.connect()]);
  await consumer.subscribe({ topics: [request.input], fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      try {
        firstRecordAtMs ??= performance.now();
        consumed += batch.messages.length;
        if (consumed > request.records) throw new Error(`read ${consumed} records, more than the ${request.records} produced`);
        if (isTransactional && transaction === undefined) {
          transaction = await producer.transaction();
          transactionStartedAtMs = performance.now();
        }
        for (let start = 0; start < batch.messages.length; start += RECORDS_PER_SEND) {
          const messages = batch.messages.slice(start, start + RECORDS_PER_SEND).map((message) => counter.toOutput(message.value));
          await send(messages);
        }
        if (!isTransactional) return;
        transactionRecords += batch.messages.length;
        nextOffsets.set(batch.partition, String(Number(batch.lastOffset()) + 1));
        if (consumed === request.records || performance.now() - transactionStartedAtMs >= RAW_TRANSACTION_MS) await commitTransaction();
      } catch (error) {
        done.reject(error);
        throw error;
      }
    },
  });
  try {
    await done.promise;
  } finally {
    await Promise.allSettled([consumer.disconnect(), producer.disconnect()]);
  }
  const endMs = performance.now();
  const cpu = process.cpuUsage(startCpu);
  return {
    pipeline: request.pipeline,
    parallelism: 1,
    workers: 0,
    records: request.records,
    totalMs: Math.round(endMs - startMs),
    recordsPerSecond: (request.records * 1000) / (endMs - startMs),
    steadyMs: Math.round(endMs - (firstRecordAtMs ?? startMs)),
    steadyRecords: request.records,
    cpuMs: Math.round((cpu.user + cpu.system) / 1000),
    commits,
    checkpointDurationsMs: [],
  };
}

/** The Eddy job (kafka-bench-job.ts) once, at the request's parallelism and guarantee. */
async function measureEddy(request: KafkaChildRequest): Promise<KafkaMeasurement> {
  const isExactlyOnce = request.pipeline === 'eddy-exactly-once';
  const checkpointDir = await mkdtemp(path.join(tmpdir(), 'eddy-bench-kafka-chk-'));
  try {
    const rawArgs = {
      brokers: request.brokers,
      input: request.input,
      output: request.output,
      ...(isExactlyOnce ? { transactionalIdPrefix: `bench-eddy-${shortId()}` } : {}),
    };
    const ref: JobModuleRef = { modulePath: KAFKA_JOB, exportName: 'job', rawArgs };
    const graph = await buildJobGraph(ref, { jobName: 'kafka-bench', parallelism: request.parallelism });
    const workers = request.parallelism === 1 ? 0 : request.parallelism;
    let firstReport: { atMs: number; recordsIn: number } | undefined;
    const onProgress = (progress: JobProgress): void => {
      if (firstReport === undefined && progress.recordsIn > 0) firstReport = { atMs: performance.now(), recordsIn: progress.recordsIn };
    };
    const startCpu = process.cpuUsage();
    const startMs = performance.now();
    const result = await executeJob(graph, {
      workers,
      job: ref,
      onProgress,
      progressIntervalMs: PROGRESS_INTERVAL_MS,
      checkpointing: {
        mode: isExactlyOnce ? 'exactly-once' : 'at-least-once',
        dir: checkpointDir,
        intervalMs: CHECKPOINT_INTERVAL_MS,
        retained: 1_000_000,
        restartStrategy: { kind: 'none' },
      },
      log: (line) => process.stderr.write(`    eddy: ${line}\n`),
    });
    const endMs = performance.now();
    const cpu = process.cpuUsage(startCpu);
    const sourceOut = result.operators.filter((o) => o.kind === 'source').reduce((sum, o) => sum + o.metrics.recordsOut, 0);
    const sinkIn = result.operators.filter((o) => o.kind === 'sink').reduce((sum, o) => sum + o.metrics.recordsIn, 0);
    if (sourceOut !== request.records || sinkIn !== request.records) {
      throw new Error(`the source emitted ${sourceOut} and the sink received ${sinkIn} records, expected ${request.records} each`);
    }
    const steadyFrom = firstReport ?? { atMs: startMs, recordsIn: 0 };
    const checkpointDurationsMs = completedCheckpointDurations(checkpointDir);
    return {
      pipeline: request.pipeline,
      parallelism: request.parallelism,
      workers,
      records: request.records,
      totalMs: Math.round(endMs - startMs),
      recordsPerSecond: (request.records * 1000) / (endMs - startMs),
      steadyMs: Math.round(endMs - steadyFrom.atMs),
      steadyRecords: request.records - steadyFrom.recordsIn,
      cpuMs: Math.round((cpu.user + cpu.system) / 1000),
      commits: checkpointDurationsMs.length,
      checkpointDurationsMs,
    };
  } finally {
    await rm(checkpointDir, { recursive: true, force: true });
  }
}

/** Durations of the completed checkpoints in `dir` (every one is retained), in checkpoint order. */
function completedCheckpointDurations(dir: string): number[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => /^chk-\d+$/.test(name) && existsSync(path.join(dir, name, '_metadata')))
    .map((name) => JSON.parse(readFileSync(path.join(dir, name, '_metadata'), 'utf8')) as CheckpointMetadata)
    .sort((a, b) => a.checkpointId - b.checkpointId)
    .map((metadata) => metadata.durationMs);
}

// ——— the table ———

function steadyRate(m: KafkaMeasurement): number {
  return (m.steadyRecords * 1000) / m.steadyMs;
}

function formatRate(recordsPerSecond: number): string {
  if (recordsPerSecond >= 1_000_000) return `${(recordsPerSecond / 1_000_000).toFixed(2)} M`;
  return `${Math.round(recordsPerSecond / 1_000)} k`;
}

function pipelineTitle(pipeline: KafkaPipeline): string {
  switch (pipeline) {
    case 'raw':
      return 'raw kafkajs (the ceiling)';
    case 'raw-transactional':
      return `raw kafkajs, transactional (~${RAW_TRANSACTION_MS / 1000} s transactions)`;
    case 'eddy-exactly-once':
      return 'Eddy, exactly-once';
    case 'eddy-at-least-once':
      return 'Eddy, at-least-once';
    default: {
      const unknown: never = pipeline;
      throw new Error(`unknown pipeline ${String(unknown)}`);
    }
  }
}

function commitNoun(pipeline: KafkaPipeline): string {
  if (pipeline === 'raw') return 'commits';
  return pipeline === 'raw-transactional' ? 'transactions' : 'checkpoints';
}

function where(m: KafkaMeasurement): string {
  if (m.pipeline === 'raw' || m.pipeline === 'raw-transactional') return '1 consumer + 1 producer';
  return m.workers === 0 ? '1 (in-process)' : `${m.parallelism} (${m.workers} workers)`;
}

/** Transactions of the raw transactional run; checkpoints of an Eddy run, with their durations. */
function describeCommits(m: KafkaMeasurement): string {
  switch (m.pipeline) {
    case 'raw':
      return '–';
    case 'raw-transactional':
      return `${m.commits} transactions`;
    case 'eddy-exactly-once':
    case 'eddy-at-least-once': {
      const durations = m.checkpointDurationsMs;
      if (durations.length === 0) return '0 checkpoints';
      return `${durations.length} checkpoints (${percentile(durations, 50)} / ${Math.max(...durations)} ms)`;
    }
    default: {
      const unknown: never = m.pipeline;
      throw new Error(`unknown pipeline ${String(unknown)}`);
    }
  }
}

/** The markdown table, the machine and the method, for the README. */
export function formatKafkaTable(rows: readonly KafkaMeasurement[], runs: number): string {
  const raw = rows.find((r) => r.pipeline === 'raw');
  const rawTransactional = rows.find((r) => r.pipeline === 'raw-transactional');
  const ratio = (m: KafkaMeasurement, reference: KafkaMeasurement | undefined): string =>
    reference === undefined ? '–' : `${Math.round((m.recordsPerSecond / reference.recordsPerSecond) * 100)} %`;
  const lines = [
    '| pipeline | parallelism | records | wall time | records/s | ÷ raw kafkajs | ÷ raw transactional | records/s from the first record | node CPU µs/record | commits (checkpoint duration p50 / max) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const m of rows) {
    const isExactlyOnce = m.pipeline === 'eddy-exactly-once' || m.pipeline === 'raw-transactional';
    lines.push(
      `| ${pipelineTitle(m.pipeline)} | ${where(m)} | ${m.records.toLocaleString('en-US')} | ${(m.totalMs / 1000).toFixed(1)} s | ` +
        `${formatRate(m.recordsPerSecond)} | ${ratio(m, raw)} | ${isExactlyOnce ? ratio(m, rawTransactional) : '–'} | ` +
        `${formatRate(steadyRate(m))} | ${((m.cpuMs * 1000) / m.records).toFixed(1)} | ${describeCommits(m)} |`,
    );
  }
  const load = loadavg()[0]!.toFixed(2);
  lines.push(
    '',
    `Machine: ${machineDescription()}; 1-minute load average ${load} when the table was printed. One Kafka ${KAFKA_VERSION} ` +
      `broker (the development broker: KRaft, ${BROKER_HEAP} heap, serial GC, C1 JIT only) on the same machine, sharing its cores.`,
    '',
    `- Input: ${rows[0]?.records.toLocaleString('en-US') ?? 0} JSON events \`{key, ts, n}\` (${KEYS.toLocaleString('en-US')} keys, ~50 bytes) ` +
      `in a topic of ${PARTITIONS} partitions. Output: one \`{key, count}\` per input record, keyed by key, to a fresh topic of ` +
      `${PARTITIONS} partitions per run.`,
    '- Raw kafkajs (the ceiling): one kafkajs consumer (`eachBatch`) and one producer in one process: JSON.parse, a count per key ' +
      `in a Map, JSON.stringify, sends of ${RECORDS_PER_SEND.toLocaleString('en-US')} records (\`acks: -1\`, up to ${SENDS_IN_FLIGHT} in flight; ` +
      'kafkajs spends time quadratic in the records per partition of one send, so larger sends are slower), no offset commits. ' +
      `Transactional: the same with an idempotent transactional producer (one request in flight), and every ~${RAW_TRANSACTION_MS / 1000} s ` +
      "the consumer's offsets sent to the transaction and the transaction committed (the consume ▶ produce exactly-once pattern).",
    '- Eddy: Kafka source (bounded at the end offsets seen at start) ▶ keyBy(key) ▶ keyed process function with a value-state ' +
      'counter ▶ Kafka sink keyed by key; memory state backend; through `executeJob`. Exactly-once: Kafka transactions committed ' +
      `with exactly-once checkpoints every ${CHECKPOINT_INTERVAL_MS / 1000} s. At-least-once: idempotent producer, at-least-once ` +
      `checkpoints every ${CHECKPOINT_INTERVAL_MS / 1000} s (each waits until the records before it are acknowledged). ` +
      'Parallelism 1 runs every task in one thread; 2 runs on two worker threads.',
    '- Wall time: from the start (clients connecting, for Eddy also planning and worker start-up) until every output record is ' +
      'acknowledged (Eddy: the job has ended, final checkpoint and commit included); records/s = input records ÷ wall time. ' +
      '"From the first record" starts at the first input record seen (Eddy: the first progress report with records, every ' +
      `${PROGRESS_INTERVAL_MS} ms), so it leaves out start-up. Node CPU: user + system time of the measuring process, all threads; ` +
      "the broker's is not in it. Each measurement in a fresh process.",
    '- Commits: the raw transactional run\'s transactions; an Eddy run\'s completed checkpoints (the final one, after the end of ' +
      'the input, included) with their durations from trigger to the last acknowledgement. One checkpoint at a time: one that ' +
      'lasts longer than the interval delays the next. A checkpoint of the Kafka sink waits until the records before its barrier ' +
      'are acknowledged (at-least-once) or its transaction\'s sends are done (exactly-once).',
  );
  if (runs > 1) lines.push(`- Best of ${runs} runs.`);
  return lines.join('\n');
}

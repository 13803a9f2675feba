import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel, type Admin, type Consumer, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  devBrokerStatus,
  findFreePorts,
  isBrokerAnswering,
  startDevBroker,
  stopDevBroker,
} from '../../../connectors/kafka/dev-broker/index.ts';
import { isProcessRunning } from '../../../connectors/kafka/dev-broker/local-processes.ts';
import { TEST_BROKER_START_TIMEOUT_MS, useTestKafkaBroker } from '../../support/kafka-broker.ts';

/** A name no other test (or earlier run against the same broker) uses. */
const uniqueName = (what: string): string => `${what}-${randomUUID().slice(0, 8)}`;

/** Waits for a condition instead of sleeping a guessed time; fails with `what` after `timeoutMs`. */
async function waitFor(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

interface Received {
  readonly partition: number;
  readonly key: string;
  readonly value: string;
}

describe('the shared test broker (test/support/kafka-broker.ts)', () => {
  let kafka: Kafka;
  let admin: Admin;
  const clients: Array<Producer | Consumer> = [];

  beforeAll(async () => {
    const bootstrap = await useTestKafkaBroker();
    kafka = new Kafka({ clientId: 'eddy-dev-broker-test', brokers: [bootstrap], logLevel: logLevel.NOTHING });
    admin = kafka.admin();
    await admin.connect();
  }, TEST_BROKER_START_TIMEOUT_MS);

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.disconnect()));
    await admin?.disconnect();
  });

  async function createTopic(numPartitions: number): Promise<string> {
    const topic = uniqueName('dev-broker-test');
    expect(await admin.createTopics({ topics: [{ topic, numPartitions }], waitForLeaders: true })).toBe(true);
    return topic;
  }

  /** Consumes `topic` from the beginning until `count` records arrived; returns them. */
  async function consume(topic: string, count: number, options: { readonly isReadUncommitted?: boolean } = {}): Promise<Received[]> {
    // A short fetch wait: stop() waits for the fetch in flight, which by default blocks up to 5 s.
    const consumer = kafka.consumer({
      groupId: uniqueName('dev-broker-test'),
      readUncommitted: options.isReadUncommitted ?? false,
      maxWaitTimeInMs: 100,
    });
    clients.push(consumer);
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const received: Received[] = [];
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        received.push({ partition, key: message.key!.toString(), value: message.value!.toString() });
      },
    });
    await waitFor(() => received.length >= count, `${count} records of ${topic}`);
    await consumer.stop();
    return received;
  }

  it('creates a topic with 4 partitions and reads back, in order per partition, what was produced', async () => {
    const topic = await createTopic(4);
    const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
    expect(metadata.topics[0]!.partitions.map((p) => p.partitionId).sort()).toEqual([0, 1, 2, 3]);

    const producer = kafka.producer();
    clients.push(producer);
    await producer.connect();
    const sent: Received[] = Array.from({ length: 40 }, (_, i) => ({ partition: i % 4, key: `k${i}`, value: `v${i}` }));
    await producer.send({ topic, messages: sent.map(({ partition, key, value }) => ({ partition, key, value })) });

    const received = await consume(topic, sent.length);
    expect(received).toHaveLength(sent.length);
    for (const partition of [0, 1, 2, 3]) {
      expect(received.filter((r) => r.partition === partition)).toEqual(sent.filter((s) => s.partition === partition));
    }
  });

  it('lets a read_committed consumer see exactly the records of committed transactions', async () => {
    const topic = await createTopic(4);
    const producer = kafka.producer({ transactionalId: uniqueName('dev-broker-test'), idempotent: true, maxInFlightRequests: 1 });
    clients.push(producer);
    await producer.connect();
    // Every transaction writes to every partition, so the last committed one lies behind the aborted
    // one on each partition: seeing it means the consumer has read past the aborted records.
    const batch = (name: string): Received[] => [0, 1, 2, 3].map((partition) => ({ partition, key: `${name}-${partition}`, value: name }));
    const outcomes: ReadonlyArray<readonly [string, 'commit' | 'abort']> = [
      ['first', 'commit'],
      ['aborted', 'abort'],
      ['last', 'commit'],
    ];
    for (const [name, outcome] of outcomes) {
      const transaction = await producer.transaction();
      await transaction.send({ topic, messages: batch(name).map(({ partition, key, value }) => ({ partition, key, value })) });
      await (outcome === 'commit' ? transaction.commit() : transaction.abort());
    }

    const committed = await consume(topic, 8);
    expect(committed.map((r) => r.key).sort()).toEqual([...batch('first'), ...batch('last')].map((r) => r.key).sort());
    // The aborted records were written: a read_uncommitted consumer sees them.
    const everything = await consume(topic, 12, { isReadUncommitted: true });
    expect(everything.filter((r) => r.value === 'aborted')).toHaveLength(4);
  });
});

describe('startDevBroker / stopDevBroker', () => {
  let dataDir: string;
  let port: number;
  let controllerPort: number;

  beforeAll(async () => {
    [port, controllerPort] = (await findFreePorts(2)) as [number, number];
    dataDir = await mkdtemp(path.join(tmpdir(), 'eddy-kafka-lifecycle-'));
  });

  afterAll(async () => {
    await stopDevBroker(dataDir);
    await rm(dataDir, { recursive: true, force: true });
  });

  const options = () => ({ port, controllerPort, dataDir, ownerPid: process.pid, readyTimeoutMs: 90_000 });

  it('starts once, reuses the running broker on a second start, and stops it', async () => {
    const first = await startDevBroker(options());
    expect(first.wasRunning).toBe(false);
    expect(first.bootstrap).toBe(`127.0.0.1:${port}`);
    expect(await readFile(path.join(dataDir, 'broker.pid'), 'utf8')).toBe(`${first.pid}\n`);

    const second = await startDevBroker(options());
    expect(second.wasRunning).toBe(true);
    expect(second.pid).toBe(first.pid);
    expect(await devBrokerStatus(dataDir)).toMatchObject({ kind: 'running', isAnswering: true, state: { pid: first.pid, port } });
    await expect(startDevBroker({ ...options(), port: port + 1 })).rejects.toThrow(`already runs from ${dataDir} on ports ${port}/${controllerPort}`);

    expect(await stopDevBroker(dataDir)).toEqual({ kind: 'stopped', pid: first.pid, wasKilled: false });
    expect(await isProcessRunning(first.pid)).toBe(false);
    expect(existsSync(path.join(dataDir, 'broker.pid'))).toBe(false);
    expect(await isBrokerAnswering(first.bootstrap, 1_000)).toBe(false);
    expect(await devBrokerStatus(dataDir)).toEqual({ kind: 'not-running' });
    expect(await stopDevBroker(dataDir)).toEqual({ kind: 'not-running' });
  }, TEST_BROKER_START_TIMEOUT_MS);

  it('stops a broker whose owner process dies, even by SIGKILL (no broker outlives a killed test run)', async () => {
    const owner = spawn('sleep', ['60'], { stdio: 'ignore' });
    const broker = await startDevBroker({ ...options(), ownerPid: owner.pid! });
    expect(await isProcessRunning(broker.pid)).toBe(true);
    owner.kill('SIGKILL');
    // The watchdog looks every second, then SIGTERM: a clean shutdown takes 1-4 s.
    const deadline = Date.now() + 30_000;
    while ((await isProcessRunning(broker.pid)) && Date.now() < deadline) await sleep(100);
    expect(await isProcessRunning(broker.pid)).toBe(false);
    expect(await devBrokerStatus(dataDir)).toEqual({ kind: 'not-running' });
  }, TEST_BROKER_START_TIMEOUT_MS);

  it('never signals a process that is not the folder’s broker (a stale pid file, a reused pid)', async () => {
    const stranger = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      await writeFile(path.join(dataDir, 'broker.pid'), `${stranger.pid}\n`);
      expect(await stopDevBroker(dataDir)).toEqual({ kind: 'not-running' });
      expect(await isProcessRunning(stranger.pid!)).toBe(true);
      expect(existsSync(path.join(dataDir, 'broker.pid'))).toBe(false);
    } finally {
      stranger.kill('SIGKILL');
    }
  });

  it('fails within the bound, naming the port, when the port is taken', async () => {
    // A plain TCP server: accepts connections (the readiness probe's too), reads, never answers.
    const squatter = createServer((socket) => socket.resume());
    try {
      // Taken before the start: refused before any JVM is spawned.
      await new Promise<void>((resolve) => squatter.listen(port, '127.0.0.1', resolve));
      const startedAtMs = Date.now();
      await expect(startDevBroker(options())).rejects.toThrow(`port ${port} on 127.0.0.1 is already in use`);
      expect(Date.now() - startedAtMs).toBeLessThan(5_000);
      await new Promise((resolve) => squatter.close(resolve));

      // Taken between that check and Kafka binding it: Kafka itself fails, and the error carries its
      // cause. (The controller port: Kafka binds it first, so it fails sooner than on the client port.)
      const failure = startDevBroker({
        ...options(),
        onProgress: (message) => {
          if (message.startsWith('starting Kafka')) squatter.listen(controllerPort, '127.0.0.1');
        },
      });
      await expect(failure).rejects.toThrow(`exited with code 1 before it was ready on 127.0.0.1:${port} (controller port ${controllerPort})`);
      await expect(failure).rejects.toThrow(`Socket server failed to bind to 127.0.0.1:${controllerPort}: Address already in use`);
      expect(existsSync(path.join(dataDir, 'broker.pid'))).toBe(false);
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
  }, TEST_BROKER_START_TIMEOUT_MS);

  it('reports a broker that exits during start with the end of its log', async () => {
    // A JVM cannot run in a 1 MB heap: it exits at once, saying so in the broker's log.
    const failure = startDevBroker({ ...options(), heap: '1m' });
    await expect(failure).rejects.toThrow(`exited with code 1 before it was ready on 127.0.0.1:${port}`);
    await expect(failure).rejects.toThrow(/Last lines of .*broker\.log:\n(.|\n)*heap/);
    expect(existsSync(path.join(dataDir, 'broker.pid'))).toBe(false);
  });

  it('stops a broker that is not ready within the bound, and says so', async () => {
    const error = await startDevBroker({ ...options(), readyTimeoutMs: 1 }).then(
      () => undefined,
      (rejection: unknown) => rejection as Error,
    );
    expect(error?.message).toContain(`was not ready on 127.0.0.1:${port} (controller port ${controllerPort}) within 1 ms`);
    const pid = Number(/\(pid (\d+)\)/.exec(error!.message)?.[1]);
    expect(await isProcessRunning(pid)).toBe(false);
    expect(existsSync(path.join(dataDir, 'broker.pid'))).toBe(false);
  });
});

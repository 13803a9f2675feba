import { createRequire } from 'node:module';
import { connect as connectTcp, isIP } from 'node:net';
import { connect as connectTls, type ConnectionOptions } from 'node:tls';
import {
  Kafka,
  Partitioners,
  logLevel as KafkaJsLogLevel,
  type Admin,
  type Assigner,
  type Cluster,
  type ISocketFactory,
  type LogEntry,
  type Producer,
  type SASLOptions,
} from 'kafkajs';
import { EddyError, describeError } from '../../src/core/errors.ts';
import { decodeFetchedPartition, type FetchedPartition, type RawFetchResponse, type RecordHeaders } from './fetched-partition.ts';

/**
 * Eddy's thin interface around kafkajs: the only file of the connector that imports it. It gives the
 * enumerator an admin client (topics, partitions, offsets) and each reader a fetch client (fetch from
 * a partition leader at an offset Eddy chose, commit offsets to a group, produce dead letters).
 *
 * **Manual assignment.** kafkajs has no `assign()`: its consumer always joins a consumer group whose
 * coordinator decides the assignment. Eddy's enumerator decides it instead, so the fetch client does
 * not use kafkajs's consumer loop at all. It fetches with kafkajs's own connection-level client (the
 * `Cluster` and `Broker` objects that the consumer group is built on: metadata, leader lookup,
 * connection pooling, SASL/TLS, request timeouts, protocol version negotiation), which kafkajs hands to
 * every custom partition assigner — the public, typed hook used here to obtain it — and decodes the
 * fetched record batches itself (fetched-partition.ts: aborted transactions and control records
 * removed, as `read_committed` requires). The alternative, a consumer per reader in a private group with a custom assigner
 * that returns exactly Eddy's partitions plus `seek()`, would need a group join (and on most clusters a
 * 3 s initial rebalance delay) for every change of a reader's partitions, a stop/restart of the
 * consumer to change them, re-seeks after every internal rejoin, and group-session timeouts that a
 * backpressured reader must not trip; and it still could not commit to the job's `groupId` for lag
 * monitoring without joining that group. Fetching directly has none of this: a reader's partitions
 * change by changing what it asks for, and nothing but Eddy's checkpoint decides where it reads.
 *
 * **Transactions.** The sink's {@link KafkaProducerClient} drives kafkajs's transaction manager (its
 * `eosManager` module) and message producer directly, over one shared `Cluster` per sink subtask: the
 * public producer hides the producer id and epoch of its transaction, and a new producer instance with
 * the same transactional id aborts the transaction instead of resuming it. Knowing (transactional id,
 * producer id, epoch), Eddy commits a pre-committed transaction after a restart with one `EndTxn`
 * request to the transaction coordinator — what Flink does by reflection on the Java producer.
 * These internal modules are loaded from kafkajs 2.2.4, which package.json pins.
 *
 * Offsets are JavaScript numbers: exact up to 2^53, far beyond any real partition.
 */

/** kafkajs's log verbosity, as Eddy names it. */
export type KafkaLogLevel = 'nothing' | 'error' | 'warn' | 'info' | 'debug';

/** SASL settings exactly as kafkajs takes them (`{ mechanism: 'plain' | 'scram-sha-256' | …, … }`). */
export type KafkaSaslOptions = SASLOptions;

/** TLS settings exactly as kafkajs takes them: `true`, or Node's `tls.connect` options. */
export type KafkaSslOptions = ConnectionOptions | boolean;

/** How to reach the cluster; shared by every client of one source. */
export interface KafkaConnectionSettings {
  /** Bootstrap servers, `host:port` each. */
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly ssl: KafkaSslOptions | undefined;
  readonly sasl: KafkaSaslOptions | undefined;
  /**
   * Bound of establishing a connection: each socket connect, and the whole first connection of a
   * client including kafkajs's retries.
   */
  readonly connectionTimeoutMs: number;
  /** Bound of one request (a fetch adds its wait time). */
  readonly requestTimeoutMs: number;
  readonly logLevel: KafkaLogLevel;
  /** Where kafkajs's log entries (at `logLevel` and above) and the connector's warnings go. */
  readonly log: (line: string) => void;
}

/** One partition to fetch, from `offset` on. */
export interface PartitionFetchRequest {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
}

/** Size and wait bounds of one fetch request. */
export interface FetchLimits {
  /** How long the broker may wait for data before answering with less (or none). */
  readonly maxWaitMs: number;
  /** Bytes per response (the broker returns at least one record batch even if it is larger). */
  readonly maxBytes: number;
  readonly maxBytesPerPartition: number;
}

/** The earliest and the next offset of a partition (log start offset and, read committed, its end). */
export interface OffsetRange {
  readonly earliest: number;
  readonly latest: number;
}

/** A record to produce (dead letters): raw bytes, headers and timestamp kept. */
export interface ProducedRecord {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: RecordHeaders;
  readonly timestampMs: number;
}

/** kafkajs's `READ_COMMITTED` isolation level: records of open or aborted transactions are not returned. */
const READ_COMMITTED = 1;

/** kafkajs errors after which fresh metadata (a new leader, a reconnect) may make the request succeed. */
const STALE_METADATA_ERRORS: ReadonlySet<string> = new Set([
  'LEADER_NOT_AVAILABLE',
  'NOT_LEADER_FOR_PARTITION',
  'FENCED_LEADER_EPOCH',
  'UNKNOWN_LEADER_EPOCH',
  'UNKNOWN_TOPIC_OR_PARTITION',
  'NOT_COORDINATOR_FOR_GROUP',
  'GROUP_COORDINATOR_NOT_AVAILABLE',
  'REPLICA_NOT_AVAILABLE',
]);

/** kafkajs error names that mean "the cluster could not be reached or answered in time". */
const CONNECTION_ERRORS: ReadonlySet<string> = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSBrokerNotFound',
  'KafkaJSNumberOfRetriesExceeded',
  'KafkaJSMetadataNotLoaded',
  'KafkaJSTopicMetadataNotLoaded',
  'KafkaJSLockTimeout',
  'KafkaJSNoBrokerAvailableError',
  'KafkaJSGroupCoordinatorNotFound',
]);

/** The fields of kafkajs's errors that Eddy reads. */
interface KafkaJsErrorFields {
  readonly name?: unknown;
  readonly type?: unknown;
  readonly retriable?: unknown;
  readonly cause?: unknown;
  readonly topic?: unknown;
  readonly partition?: unknown;
  readonly host?: unknown;
  readonly port?: unknown;
}

function errorFields(error: unknown): KafkaJsErrorFields {
  return typeof error === 'object' && error !== null ? (error as KafkaJsErrorFields) : {};
}

/** The innermost cause of a (kafkajs) error chain. */
function rootCause(error: unknown): unknown {
  let current = error;
  for (let depth = 0; depth < 10; depth++) {
    const cause = errorFields(current).cause;
    if (cause === undefined || cause === null) return current;
    current = cause;
  }
  return current;
}

/** Whether retrying after a metadata refresh (and a pause) may succeed: a moved leader, a lost connection. */
export function isTransientKafkaError(error: unknown): boolean {
  for (const candidate of [error, rootCause(error)]) {
    if (candidate instanceof EddyError) return candidate.isRetriable && candidate.domain === 'external';
    const fields = errorFields(candidate);
    if (typeof fields.name === 'string' && CONNECTION_ERRORS.has(fields.name)) return true;
    if (typeof fields.type === 'string' && STALE_METADATA_ERRORS.has(fields.type)) return true;
    if (fields.retriable === true) return true;
  }
  return false;
}

/** Whether the error says a fetch offset is outside the partition's log (deleted by retention, or beyond its end). */
export function isOffsetOutOfRange(error: unknown): boolean {
  return errorFields(error).name === 'KafkaJSOffsetOutOfRange' || errorFields(error).type === 'OFFSET_OUT_OF_RANGE';
}

/** The partition named by an offset-out-of-range error. */
export function outOfRangePartition(error: unknown): { readonly topic: string; readonly partition: number } | undefined {
  const { topic, partition } = errorFields(error);
  return typeof topic === 'string' && typeof partition === 'number' ? { topic, partition } : undefined;
}

function toKafkaJsLogLevel(level: KafkaLogLevel): KafkaJsLogLevel {
  switch (level) {
    case 'nothing':
      return KafkaJsLogLevel.NOTHING;
    case 'error':
      return KafkaJsLogLevel.ERROR;
    case 'warn':
      return KafkaJsLogLevel.WARN;
    case 'info':
      return KafkaJsLogLevel.INFO;
    case 'debug':
      return KafkaJsLogLevel.DEBUG;
  }
}

/**
 * Routes kafkajs's log entries to Eddy's log lines: `kafka warn [Producer] …: <error>`. The
 * connection's per-response error lines are dropped below `debug`: every such error also reaches the
 * caller (and is retried, reported or thrown there), so at `warn` they would only repeat it.
 */
function routeKafkaJsLog(settings: KafkaConnectionSettings): (entry: LogEntry) => void {
  const isDebug = settings.logLevel === 'debug';
  return (entry) => {
    const message = entry.log.message;
    if (!isDebug && entry.namespace === 'Connection' && message.startsWith('Response ')) return;
    const error: unknown = entry.log.error;
    const detail = error instanceof Error ? `: ${error.message}` : typeof error === 'string' ? `: ${error}` : '';
    settings.log(`kafka ${entry.label.toLowerCase()} [${entry.namespace}] ${message}${detail}`);
  };
}

/** The last socket error of a client's connections: what a connection that timed out tells the user. */
class SocketErrors {
  last: Error | undefined = undefined;
}

/** TCP keep-alive of every connection, as kafkajs's own socket factory sets it. */
const KEEP_ALIVE_DELAY_MS = 60_000;

/**
 * kafkajs's default socket factory (TCP, or TLS with SNI for host names), plus a listener that keeps
 * the last socket error: kafkajs retries a refused connection silently until its budget is spent, and
 * a connection that times out meanwhile should still say why (`connect ECONNREFUSED 127.0.0.1:1`).
 */
function recordingSocketFactory(errors: SocketErrors): ISocketFactory {
  return ({ host, port, ssl, onConnect }) => {
    const socket = ssl
      ? connectTls({ host, port, ...(isIP(host) === 0 ? { servername: host } : {}), ...ssl }, onConnect)
      : connectTcp({ host, port }, onConnect);
    socket.setKeepAlive(true, KEEP_ALIVE_DELAY_MS);
    socket.on('error', (error: Error) => {
      errors.last = error;
    });
    return socket;
  };
}

function createKafka(settings: KafkaConnectionSettings, clientId: string, errors: SocketErrors): Kafka {
  return new Kafka({
    socketFactory: recordingSocketFactory(errors),
    brokers: [...settings.brokers],
    clientId,
    ...(settings.ssl === undefined ? {} : { ssl: settings.ssl }),
    ...(settings.sasl === undefined ? {} : { sasl: settings.sasl }),
    connectionTimeout: settings.connectionTimeoutMs,
    requestTimeout: settings.requestTimeoutMs,
    logLevel: toKafkaJsLogLevel(settings.logLevel),
    logCreator: () => routeKafkaJsLog(settings),
  });
}

/**
 * The error for a failed first connection, naming the setting to fix: `brokers` (unreachable),
 * `sasl` (credentials rejected) or `ssl` (TLS handshake failed). External and retriable: the cluster
 * may come back, and the job's restart strategy decides whether to try again.
 */
export function describeConnectionFailure(settings: KafkaConnectionSettings, cause: unknown): EddyError {
  const brokers = settings.brokers.join(',');
  const root = rootCause(cause);
  const name = String(errorFields(root).name ?? errorFields(cause).name ?? '');
  const type = String(errorFields(root).type ?? '');
  const detail = describeError(root);
  let message: string;
  if (name.includes('SASL') || type.includes('SASL') || /SASL|authenticat/i.test(detail)) {
    message = `Kafka at ${brokers} rejected the authentication (sasl): ${detail}`;
  } else if (/SSL|TLS|certificate|EPROTO/i.test(detail) || /SSL|TLS/.test(name)) {
    message = `the TLS connection to Kafka at ${brokers} failed (ssl): ${detail}`;
  } else {
    message = `could not reach Kafka at ${brokers} (brokers) within ${settings.connectionTimeoutMs} ms: ${detail}`;
  }
  return new EddyError(message, { domain: 'external', isRetriable: true, cause });
}

/**
 * Runs a client's first connection within `connectionTimeoutMs`. On timeout the client is
 * disconnected, and disconnected again once kafkajs's own retries give up, so that no late connection
 * outlives it; that clean-up is the only work left running.
 */
async function connectWithin(
  settings: KafkaConnectionSettings,
  errors: SocketErrors,
  connect: () => Promise<void>,
  disconnect: () => Promise<void>,
): Promise<void> {
  const connecting = connect();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), settings.connectionTimeoutMs);
  });
  try {
    const outcome = await Promise.race([connecting.then(() => 'connected' as const), timeout]);
    if (outcome === 'timeout') {
      connecting.then(disconnect, () => undefined).catch(() => undefined);
      await disconnect().catch(() => undefined);
      throw describeConnectionFailure(settings, errors.last ?? new Error('no answer'));
    }
  } catch (error) {
    if (error instanceof EddyError) throw error;
    await disconnect().catch(() => undefined);
    throw describeConnectionFailure(settings, error);
  } finally {
    clearTimeout(timer);
  }
}

function toOffset(value: string | number, what: string): number {
  const offset = typeof value === 'number' ? value : Number(value);
  if (!Number.isSafeInteger(offset)) throw new EddyError(`Kafka returned ${what} ${String(value)}, not a safe integer`);
  return offset;
}

/**
 * The enumerator's client: kafkajs's admin API. Every method may reject with kafkajs's errors; the
 * enumerator words them.
 */
export class KafkaAdminClient {
  private constructor(private readonly admin: Admin) {}

  /** Connects within `connectionTimeoutMs`, or rejects with {@link describeConnectionFailure}. */
  static async connect(settings: KafkaConnectionSettings): Promise<KafkaAdminClient> {
    const errors = new SocketErrors();
    const admin = createKafka(settings, settings.clientId, errors).admin();
    await connectWithin(settings, errors, () => admin.connect(), () => admin.disconnect());
    return new KafkaAdminClient(admin);
  }

  /** Every topic of the cluster. */
  async listTopics(): Promise<string[]> {
    return this.admin.listTopics();
  }

  /** The partition ids of each topic, sorted. */
  async partitionsOf(topics: readonly string[]): Promise<Map<string, number[]>> {
    const result = new Map<string, number[]>();
    if (topics.length === 0) return result;
    const metadata = await this.admin.fetchTopicMetadata({ topics: [...topics] });
    for (const topic of metadata.topics) {
      result.set(
        topic.name,
        topic.partitions.map((partition) => partition.partitionId).sort((a, b) => a - b),
      );
    }
    return result;
  }

  /** Each partition's earliest offset and (read committed) end offset. */
  async offsetRanges(topic: string): Promise<Map<number, OffsetRange>> {
    const result = new Map<number, OffsetRange>();
    for (const entry of await this.admin.fetchTopicOffsets(topic)) {
      result.set(entry.partition, { earliest: toOffset(entry.low, 'an earliest offset'), latest: toOffset(entry.high, 'an end offset') });
    }
    return result;
  }

  /** Each partition's offset of the first record with timestamp ≥ `timestampMs` (the end offset if none). */
  async offsetsForTimestamp(topic: string, timestampMs: number): Promise<Map<number, number>> {
    const result = new Map<number, number>();
    for (const entry of await this.admin.fetchTopicOffsetsByTimestamp(topic, timestampMs)) {
      result.set(entry.partition, toOffset(entry.offset, 'an offset for a timestamp'));
    }
    return result;
  }

  /** The group's committed offset per partition of `topic`; partitions without one are absent. */
  async committedOffsets(groupId: string, topic: string): Promise<Map<number, number>> {
    const result = new Map<number, number>();
    for (const topicOffsets of await this.admin.fetchOffsets({ groupId, topics: [topic] })) {
      for (const entry of topicOffsets.partitions) {
        const offset = toOffset(entry.offset, 'a committed offset');
        if (offset >= 0) result.set(entry.partition, offset);
      }
    }
    return result;
  }

  async close(): Promise<void> {
    await this.admin.disconnect();
  }
}

/** The name of the assigner that only hands out kafkajs's cluster; it never joins a group. */
const CLUSTER_CAPTURE = 'eddy-cluster-capture';

/**
 * kafkajs's connection-level `Cluster` of a client (metadata, leaders, connection pool, SASL/TLS):
 * kafkajs passes every partition assigner its consumer's Cluster, and this consumer is never run (no
 * group is joined). Metadata requests never create topics.
 */
function captureCluster(kafka: Kafka): { readonly cluster: Cluster; readonly disconnect: () => Promise<void> } {
  let captured: Cluster | undefined;
  const unusedAssigner: Assigner = {
    name: CLUSTER_CAPTURE,
    version: 0,
    assign: async () => [],
    protocol: () => ({ name: CLUSTER_CAPTURE, metadata: Buffer.alloc(0) }),
  };
  const consumer = kafka.consumer({
    groupId: CLUSTER_CAPTURE,
    allowAutoTopicCreation: false,
    partitionAssigners: [
      ({ cluster }) => {
        captured = cluster;
        return unusedAssigner;
      },
    ],
  });
  if (captured === undefined) throw new EddyError('kafkajs did not hand its cluster to the partition assigner');
  return { cluster: captured, disconnect: () => consumer.disconnect() };
}

/**
 * A reader's client: fetches partitions from their leaders at offsets the reader chose, commits
 * offsets to a group for lag monitoring, and produces dead letters. No consumer group is joined.
 * Not connected until {@link connect}.
 */
export class KafkaFetchClient {
  private readonly kafka: Kafka;
  private readonly socketErrors = new SocketErrors();
  private readonly cluster: Cluster;
  private readonly disconnectCluster: () => Promise<void>;
  private producer: Producer | undefined = undefined;
  private producerConnecting: Promise<Producer> | undefined = undefined;

  constructor(private readonly settings: KafkaConnectionSettings) {
    this.kafka = createKafka(settings, settings.clientId, this.socketErrors);
    ({ cluster: this.cluster, disconnect: this.disconnectCluster } = captureCluster(this.kafka));
  }

  /** Connects within `connectionTimeoutMs`, or rejects with {@link describeConnectionFailure}. */
  async connect(): Promise<void> {
    await connectWithin(this.settings, this.socketErrors, () => this.cluster.connect(), () => this.cluster.disconnect());
  }

  /** Makes the topics' metadata (partition leaders) known; refreshes it when a topic is new. */
  async addTopics(topics: readonly string[]): Promise<void> {
    await this.cluster.addMultipleTargetTopics([...topics]);
  }

  async refreshMetadata(): Promise<void> {
    await this.cluster.refreshMetadata();
  }

  /** The node leading the partition, per the metadata at hand; undefined while unknown or during an election. */
  leaderOf(topic: string, partition: number): number | undefined {
    let partitions;
    try {
      partitions = this.cluster.findTopicPartitionMetadata(topic);
    } catch {
      return undefined;
    }
    for (const metadata of partitions) {
      if (metadata.partitionId === partition) return metadata.leader >= 0 ? metadata.leader : undefined;
    }
    return undefined;
  }

  /** Forgets a broker whose connection broke, so the next lookup reconnects. */
  forgetBrokerOf(error: unknown): void {
    const { host, port } = errorFields(error);
    if (typeof host === 'string' && typeof port === 'number') this.cluster.removeBroker({ host, port });
  }

  /**
   * One fetch request to node `nodeId` for partitions it leads. Rejects with kafkajs's error for the
   * first failed partition (see {@link isTransientKafkaError}, {@link isOffsetOutOfRange}).
   */
  async fetch(nodeId: number, requests: readonly PartitionFetchRequest[], limits: FetchLimits): Promise<FetchedPartition[]> {
    const byTopic = new Map<string, Array<{ partition: number; fetchOffset: string; maxBytes: number }>>();
    const requestedOffsets = new Map<string, number>();
    for (const request of requests) {
      let partitions = byTopic.get(request.topic);
      if (partitions === undefined) byTopic.set(request.topic, (partitions = []));
      partitions.push({ partition: request.partition, fetchOffset: String(request.offset), maxBytes: limits.maxBytesPerPartition });
      requestedOffsets.set(`${request.partition}:${request.topic}`, request.offset);
    }
    const broker = await this.cluster.findBroker({ nodeId: String(nodeId) });
    const response = (await broker.fetch({
      isolationLevel: READ_COMMITTED,
      maxWaitTime: limits.maxWaitMs,
      minBytes: 1,
      maxBytes: limits.maxBytes,
      topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })),
    })) as RawFetchResponse;
    const result: FetchedPartition[] = [];
    for (const topicResponse of response.responses) {
      for (const data of topicResponse.partitions) {
        const fetchOffset = requestedOffsets.get(`${data.partition}:${topicResponse.topicName}`);
        if (fetchOffset === undefined) continue;
        result.push(decodeFetchedPartition(topicResponse.topicName, fetchOffset, data));
      }
    }
    return result;
  }

  /** The partition's earliest and end offset (read committed). */
  async offsetRange(topic: string, partition: number): Promise<OffsetRange> {
    const [earliest, latest] = await Promise.all(
      [true, false].map(async (fromBeginning) => {
        const offsets = await this.cluster.fetchTopicsOffset([{ topic, partitions: [{ partition }], fromBeginning }]);
        const entry = offsets[0]?.partitions.find((candidate) => candidate.partition === partition);
        if (entry === undefined) throw new EddyError(`Kafka returned no offset for partition ${partition} of '${topic}'`);
        return toOffset(entry.offset, 'an offset');
      }),
    );
    return { earliest: earliest!, latest: latest! };
  }

  /**
   * Commits offsets (the next offset to read, per partition) to `groupId` as a standalone consumer
   * would (no member, generation −1): the group's lag then shows in Kafka's tooling. Rejects if the
   * group has active members of its own.
   */
  async commitOffsets(groupId: string, offsets: readonly PartitionFetchRequest[]): Promise<void> {
    if (offsets.length === 0) return;
    const byTopic = new Map<string, Array<{ partition: number; offset: string }>>();
    for (const { topic, partition, offset } of offsets) {
      let partitions = byTopic.get(topic);
      if (partitions === undefined) byTopic.set(topic, (partitions = []));
      partitions.push({ partition, offset: String(offset) });
    }
    const coordinator = await this.cluster.findGroupCoordinator({ groupId });
    await coordinator.offsetCommit({
      groupId,
      groupGenerationId: -1,
      memberId: '',
      retentionTime: -1,
      topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })),
    });
  }

  /** Produces one record to `topic` (acks from all in-sync replicas); connects a producer on first use. */
  async produce(topic: string, record: ProducedRecord): Promise<void> {
    const producer = await this.connectedProducer();
    await producer.send({
      topic,
      messages: [{ key: record.key, value: record.value, headers: record.headers, timestamp: String(record.timestampMs) }],
    });
  }

  /** Disconnects the producer and every connection. Safe to call more than once. */
  async close(): Promise<void> {
    const producing = this.producerConnecting;
    this.producerConnecting = undefined;
    this.producer = undefined;
    if (producing !== undefined) await producing.then((producer) => producer.disconnect(), () => undefined);
    await this.disconnectCluster();
  }

  private async connectedProducer(): Promise<Producer> {
    if (this.producer !== undefined) return this.producer;
    if (this.producerConnecting === undefined) {
      const producer = this.kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
      this.producerConnecting = connectWithin(this.settings, this.socketErrors, () => producer.connect(), () => producer.disconnect()).then(() => {
        this.producer = producer;
        return producer;
      });
      this.producerConnecting.catch(() => {
        this.producerConnecting = undefined;
      });
    }
    return this.producerConnecting;
  }
}

// ---- producing (the sink) --------------------------------------------------------------------------

/** A record as the sink hands it to Kafka. `partition` unset: Kafka's default partitioner decides. */
export interface OutgoingRecord {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: Readonly<Record<string, Buffer>> | undefined;
  readonly timestampMs: number;
  readonly partition: number | undefined;
}

/** Records of one send, per topic. */
export type OutgoingBatch = ReadonlyMap<string, readonly OutgoingRecord[]>;

/** The producer id and epoch of a transactional id, as the transaction coordinator handed them out. */
export interface ProducerIdentity {
  readonly transactionalId: string;
  /** A 64-bit id, as a decimal string (as kafkajs keeps it). */
  readonly producerId: string;
  readonly epoch: number;
}

/** One transactional id's transactions, driven by kafkajs's transaction manager. */
export interface TransactionalProducer {
  readonly transactionalId: string;
  /**
   * `InitProducerId`: gets this id's producer id and a new epoch, which fences every earlier producer of
   * the id and aborts the transaction it left open (if any).
   */
  init(): Promise<void>;
  /** Starts a transaction (locally: Kafka learns of it with its first record). */
  begin(): void;
  /** Whether the current transaction has sent records (it then holds partitions open on the broker). */
  hasRecords(): boolean;
  send(batch: OutgoingBatch): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
  identity(): ProducerIdentity;
}

/** How an `EndTxn` for a transaction of an earlier run ended. */
export type EndTransactionOutcome = 'done' | 'fenced';

/** kafkajs's internal modules the producer client drives (see the file's comment). */
interface KafkaJsInternals {
  readonly createEosManager: (options: {
    logger: unknown;
    cluster: Cluster;
    transactionTimeout: number;
    transactional: boolean;
    transactionalId?: string;
  }) => KafkaJsEosManager;
  readonly createMessageProducer: (options: {
    logger: unknown;
    cluster: Cluster;
    partitioner: unknown;
    eosManager: KafkaJsEosManager;
    idempotent: boolean;
    retrier: unknown;
    getConnectionStatus: () => string;
  }) => { sendBatch: (request: { acks: number; timeout: number; compression: number; topicMessages: unknown[] }) => Promise<unknown> };
  readonly createRetry: (options: unknown) => unknown;
  readonly connected: string;
  readonly transactionCoordinator: number;
}

/** The part of kafkajs's eosManager Eddy uses. */
interface KafkaJsEosManager {
  initProducerId(): Promise<void>;
  beginTransaction(): void;
  commit(): Promise<void>;
  abort(): Promise<void>;
  isInTransaction(): boolean;
  getProducerId(): number | string;
  getProducerEpoch(): number;
}

let internals: KafkaJsInternals | undefined;

function kafkaJsInternals(): KafkaJsInternals {
  if (internals !== undefined) return internals;
  const require = createRequire(import.meta.url);
  const load = (module: string): unknown => {
    try {
      return require(`kafkajs/src/${module}`);
    } catch (error) {
      throw new EddyError(`kafkaSink needs kafkajs 2.2.4's internal module '${module}', which did not load (${describeError(error)}); reinstall with npm ci`, {
        domain: 'internal',
        cause: error,
      });
    }
  };
  internals = {
    createEosManager: load('producer/eosManager') as KafkaJsInternals['createEosManager'],
    createMessageProducer: load('producer/messageProducer') as KafkaJsInternals['createMessageProducer'],
    createRetry: load('retry') as KafkaJsInternals['createRetry'],
    connected: (load('network/connectionStatus') as { CONNECTION_STATUS: { CONNECTED: string } }).CONNECTION_STATUS.CONNECTED,
    transactionCoordinator: (load('protocol/coordinatorTypes') as { TRANSACTION: number }).TRANSACTION,
  };
  return internals;
}

/** The request of a kafkajs Broker that ends a transaction (untyped in kafkajs's typings). */
interface TransactionCoordinator {
  endTxn(request: { transactionalId: string; producerId: string; producerEpoch: number; transactionResult: boolean }): Promise<unknown>;
}

/** kafkajs's codes for `compression`. */
const COMPRESSION_CODES = { none: 0, gzip: 1 } as const;

/** `EndTxn` errors after which a new coordinator lookup (and a pause) may succeed. */
const COORDINATOR_RETRY_ERRORS: ReadonlySet<string> = new Set([
  'COORDINATOR_NOT_AVAILABLE',
  'NOT_COORDINATOR',
  'COORDINATOR_LOAD_IN_PROGRESS',
  'CONCURRENT_TRANSACTIONS',
  'GROUP_COORDINATOR_NOT_AVAILABLE',
  'NOT_COORDINATOR_FOR_GROUP',
  'GROUP_LOAD_IN_PROGRESS',
]);

/** `EndTxn` errors meaning the epoch is no longer the id's current one: someone called InitProducerId since. */
const FENCED_ERRORS: ReadonlySet<string> = new Set(['INVALID_PRODUCER_EPOCH', 'PRODUCER_FENCED']);

/**
 * A sink subtask's client: one kafkajs `Cluster` (connections, metadata) shared by its transactional
 * producers (one per transactional id of its pool) or its idempotent producer (at-least-once).
 */
export class KafkaProducerClient {
  private readonly socketErrors = new SocketErrors();
  private readonly cluster: Cluster;
  private readonly logger: unknown;
  private readonly disconnectCluster: () => Promise<void>;
  private readonly partitioner: unknown;

  constructor(
    private readonly settings: KafkaConnectionSettings,
    private readonly compression: 'none' | 'gzip',
  ) {
    const kafka = createKafka(settings, settings.clientId, this.socketErrors);
    ({ cluster: this.cluster, disconnect: this.disconnectCluster } = captureCluster(kafka));
    this.logger = kafka.logger();
    this.partitioner = Partitioners.DefaultPartitioner();
  }

  /** Connects within `connectionTimeoutMs`, or rejects with {@link describeConnectionFailure}. */
  async connect(): Promise<void> {
    await connectWithin(this.settings, this.socketErrors, () => this.cluster.connect(), () => this.cluster.disconnect());
  }

  /**
   * The number of partitions of each topic; rejects with an EddyError naming a topic that does not
   * exist (`topic`).
   */
  async partitionCounts(topics: readonly string[]): Promise<Map<string, number>> {
    try {
      await this.cluster.addMultipleTargetTopics([...topics]);
    } catch (error) {
      const type = String(errorFields(rootCause(error)).type ?? errorFields(error).type ?? '');
      if (type === 'UNKNOWN_TOPIC_OR_PARTITION' || /does not host this topic-partition|UNKNOWN_TOPIC/.test(describeError(error))) {
        throw new EddyError(
          `Kafka at ${this.settings.brokers.join(',')} has no topic ${topics.map((topic) => `'${topic}'`).join(' or ')} (topic): ` +
            'create it first (kafka-topics.sh --create --topic <name> --partitions <n>) or fix the name',
          { domain: 'user', cause: error },
        );
      }
      throw error;
    }
    const counts = new Map<string, number>();
    for (const topic of topics) counts.set(topic, this.cluster.findTopicPartitionMetadata(topic).length);
    return counts;
  }

  /** A producer for transactional id `transactionalId` (not initialised: call `init`). */
  transactional(transactionalId: string, transactionTimeoutMs: number): TransactionalProducer {
    const k = kafkaJsInternals();
    const eosManager = k.createEosManager({
      logger: this.logger,
      cluster: this.cluster,
      transactionTimeout: transactionTimeoutMs,
      transactional: true,
      transactionalId,
    });
    const producer = this.messageProducer(eosManager);
    let hasRecords = false;
    return {
      transactionalId,
      init: async () => {
        try {
          await eosManager.initProducerId();
        } catch (error) {
          throw describeTransactionFailure(this.settings, `initialising transactional id '${transactionalId}'`, error, transactionTimeoutMs);
        }
      },
      begin: () => {
        eosManager.beginTransaction();
        hasRecords = false;
      },
      hasRecords: () => hasRecords,
      send: async (batch) => {
        hasRecords = true;
        await this.send(producer, batch);
      },
      commit: async () => {
        await eosManager.commit();
        hasRecords = false;
      },
      abort: async () => {
        await eosManager.abort();
        hasRecords = false;
      },
      identity: () => ({ transactionalId, producerId: String(eosManager.getProducerId()), epoch: eosManager.getProducerEpoch() }),
    };
  }

  /** An idempotent (non-transactional) producer: retries never duplicate a record. */
  async idempotent(): Promise<(batch: OutgoingBatch) => Promise<void>> {
    const eosManager = kafkaJsInternals().createEosManager({
      logger: this.logger,
      cluster: this.cluster,
      transactionTimeout: 60_000,
      transactional: false,
    });
    await eosManager.initProducerId();
    const producer = this.messageProducer(eosManager);
    return (batch) => this.send(producer, batch);
  }

  /**
   * Ends a transaction of an earlier run by its identity (`EndTxn` to its coordinator, retried while
   * the coordinator moves or loads). `'fenced'`: the epoch is no longer current — the id was
   * initialised again since, which also ended this transaction (committed earlier, or aborted).
   */
  async endTransaction(identity: ProducerIdentity, commit: boolean): Promise<EndTransactionOutcome> {
    const { transactionCoordinator } = kafkaJsInternals();
    const deadline = Date.now() + this.settings.requestTimeoutMs;
    for (let attempt = 0; ; attempt++) {
      try {
        // kafkajs's typings omit the coordinator type and EndTxn, which its Cluster and Broker have.
        const findCoordinator = this.cluster.findGroupCoordinator as unknown as (request: { groupId: string; coordinatorType: number }) => Promise<TransactionCoordinator>;
        const coordinator = await findCoordinator.call(this.cluster, { groupId: identity.transactionalId, coordinatorType: transactionCoordinator });
        await coordinator.endTxn({
          transactionalId: identity.transactionalId,
          producerId: identity.producerId,
          producerEpoch: identity.epoch,
          transactionResult: commit,
        });
        return 'done';
      } catch (error) {
        const type = String(errorFields(error).type ?? '');
        if (FENCED_ERRORS.has(type)) return 'fenced';
        const retriable = COORDINATOR_RETRY_ERRORS.has(type) || isTransientKafkaError(error);
        if (!retriable || Date.now() >= deadline) {
          throw describeTransactionFailure(this.settings, `${commit ? 'committing' : 'aborting'} transaction of '${identity.transactionalId}'`, error, undefined);
        }
        await new Promise((resolve) => setTimeout(resolve, Math.min(100 * 2 ** attempt, 1_000)));
      }
    }
  }

  /** Disconnects every connection. Safe to call more than once. */
  async close(): Promise<void> {
    await this.disconnectCluster();
  }

  private messageProducer(eosManager: KafkaJsEosManager): ReturnType<KafkaJsInternals['createMessageProducer']> {
    const k = kafkaJsInternals();
    return k.createMessageProducer({
      logger: this.logger,
      cluster: this.cluster,
      partitioner: this.partitioner,
      eosManager,
      idempotent: true,
      retrier: k.createRetry({ ...(this.cluster as unknown as { retry?: object }).retry }),
      getConnectionStatus: () => k.connected,
    });
  }

  private async send(producer: ReturnType<KafkaJsInternals['createMessageProducer']>, batch: OutgoingBatch): Promise<void> {
    const topicMessages = [...batch].map(([topic, records]) => ({
      topic,
      messages: records.map((record) => ({
        key: record.key,
        value: record.value,
        ...(record.headers === undefined ? {} : { headers: record.headers }),
        timestamp: String(record.timestampMs),
        ...(record.partition === undefined ? {} : { partition: record.partition }),
      })),
    }));
    await producer.sendBatch({ acks: -1, timeout: this.settings.requestTimeoutMs, compression: COMPRESSION_CODES[this.compression], topicMessages });
  }
}

/** The EddyError for a failed transactional request, naming the setting to fix where there is one. */
function describeTransactionFailure(settings: KafkaConnectionSettings, what: string, error: unknown, transactionTimeoutMs: number | undefined): EddyError {
  const type = String(errorFields(error).type ?? errorFields(rootCause(error)).type ?? '');
  if (type === 'INVALID_TRANSACTION_TIMEOUT') {
    return new EddyError(
      `${what}: Kafka refused the transaction timeout of ${transactionTimeoutMs ?? '?'} ms (transactionTimeoutMs): ` +
        "it must not exceed the broker's transaction.max.timeout.ms (default 15 min)",
      { domain: 'user', cause: error },
    );
  }
  if (type === 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED' || type === 'CLUSTER_AUTHORIZATION_FAILED') {
    return new EddyError(`${what}: Kafka denied the transactional id (${type}); grant this principal WRITE on it (transactionalIdPrefix)`, {
      domain: 'user',
      cause: error,
    });
  }
  if (type === 'COORDINATOR_NOT_AVAILABLE' && /transaction/i.test(describeError(error))) {
    return new EddyError(
      `${what}: Kafka at ${settings.brokers.join(',')} has no transaction coordinator; on a single broker set ` +
        'transaction.state.log.replication.factor=1 and transaction.state.log.min.isr=1',
      { domain: 'external', isRetriable: true, cause: error },
    );
  }
  return new EddyError(`${what} failed: ${describeError(error)}`, { domain: 'external', isRetriable: true, cause: error });
}

import { pack } from 'msgpackr';
import type { Committer, Sink, SinkWriter, SinkWriterContext } from '../../src/connector/sink.ts';
import { ConfigurationError, EddyError, describeError } from '../../src/core/errors.ts';
import {
  KafkaProducerClient,
  type KafkaConnectionSettings,
  type OutgoingRecord,
  type ProducerIdentity,
  type TransactionalProducer,
} from './kafka-client.ts';
import { TOPIC_NAME } from './kafka-connection-options.ts';
import { resolveKafkaSinkOptions, type KafkaDeliveryGuarantee, type KafkaSinkOptions, type ResolvedKafkaSinkOptions } from './kafka-sink-options.ts';

/**
 * Apache Kafka as a sink: `kafkaSink({ brokers, topic, transactionalIdPrefix, … })`.
 *
 * **Exactly-once** (two-phase commit over Kafka transactions). Each subtask owns a pool of
 * transactional ids `<prefix>-<subtask>-<n>` (n < `transactionalIdPoolSize`), each with its own
 * producer id and epoch, over one connection pool. Records of one checkpoint interval go into one
 * transaction. At the barrier of checkpoint c the open transaction is sealed (its sends finish before
 * the subtask acknowledges c) and recorded in c as pending, with its (transactional id, producer id,
 * epoch); a transaction of another id of the pool takes the next records, since the sealed one stays
 * open until c completes. When c completes, the transaction is committed (`EndTxn`) and its id goes
 * back to the pool. On restore, the sink operator first commits every transaction recorded as pending
 * in the restored checkpoint — by identity, with one `EndTxn` to the coordinator, as no live producer
 * holds it any more — and only then does the writer initialise its ids (`InitProducerId`), which
 * aborts whatever transactions a failed attempt left open: records after the checkpoint, which the
 * sources replay. After a change of parallelism, a subtask also initialises (so aborts) the ids of the
 * old subtasks that no longer exist, as recorded in the writer's state.
 *
 * An id is initialised again (new epoch) after each commit before it goes back to the pool, so an
 * identity recorded in a checkpoint names one transaction only: committing it again — a restore
 * from an older checkpoint — is refused as "fenced" by the coordinator and can never commit a later
 * transaction of the same id. A commit that meets "fenced" therefore counts as done: the id was
 * initialised again only after that transaction was committed, or by a subtask that had itself
 * committed every pending transaction of the restored checkpoint — unless the broker aborted it
 * because it outlived `transactionTimeoutMs`, which Kafka does not tell apart; Eddy warns then, and
 * warns while a transaction gets near the timeout.
 *
 * **At-least-once**: an idempotent producer (retries never duplicate); each checkpoint waits until
 * every record before its barrier is acknowledged by all in-sync replicas; a restart may repeat
 * records after the last checkpoint.
 */
export class KafkaSink<T> implements Sink<T> {
  readonly options: ResolvedKafkaSinkOptions<T>;
  /** Writers of this process by `<subtask>/<attempt>`: the committer commits their live transactions. */
  private readonly liveWriters = new Map<string, KafkaSinkWriter<T>>();

  constructor(options: KafkaSinkOptions<T>) {
    this.options = resolveKafkaSinkOptions<T>(options);
  }

  createWriter(context: SinkWriterContext): SinkWriter<T> {
    const writer = new KafkaSinkWriter(this.options, context, this.guaranteeFor(context), this.describe());
    const key = writerKey(context);
    this.liveWriters.set(key, writer);
    writer.onClose(() => {
      if (this.liveWriters.get(key) === writer) this.liveWriters.delete(key);
    });
    return writer;
  }

  createCommitter(context: SinkWriterContext): Committer | undefined {
    if (this.guaranteeFor(context) !== 'exactly-once') return undefined;
    return new KafkaTransactionCommitter(this.options.connection, () => this.liveWriters.get(writerKey(context)));
  }

  describe(): string {
    return `kafka(${typeof this.options.topic === 'string' ? this.options.topic : '<topic per record>'})`;
  }

  /** The guarantee of a run: transactions need checkpoints (and a prefix, checked when resolving). */
  private guaranteeFor(context: SinkWriterContext): KafkaDeliveryGuarantee {
    const configured = this.options.deliveryGuarantee ?? (context.checkpointingMode === 'exactly-once' ? 'exactly-once' : 'at-least-once');
    if (configured === 'exactly-once' && context.checkpointingMode === 'off') return 'at-least-once';
    if (configured === 'exactly-once' && this.options.transactionalIdPrefix === undefined) {
      throw new ConfigurationError(
        `${this.describe()}: the job checkpoints exactly-once, so the sink writes in Kafka transactions and needs ` +
          "option 'transactionalIdPrefix' (stable across restarts, unique per job); or set deliveryGuarantee: 'at-least-once'",
        { operatorUid: context.operatorUid },
      );
    }
    return configured;
  }
}

/** A Kafka sink (exactly-once with checkpointing and `transactionalIdPrefix`, else at-least-once). */
export function kafkaSink<T>(options: KafkaSinkOptions<T>): KafkaSink<T> {
  return new KafkaSink(options);
}

function writerKey(context: SinkWriterContext): string {
  return `${context.subtask}/${context.attempt}`;
}

/** What a checkpoint records of a pre-committed transaction (plain data). */
interface TransactionCommittable extends ProducerIdentity {
  /** Wall-clock time of the transaction's first record: the broker's timeout counts from about then. */
  readonly startedAtMs: number;
  readonly transactionTimeoutMs: number;
}

/** The writer's operator state: which ids a subtask of which run used (plain data). */
interface WriterState {
  readonly prefix: string;
  readonly subtask: number;
  readonly parallelism: number;
  readonly poolSize: number;
}

/** A transaction of the pool: its producer and the sends of its current transaction. */
interface PoolTransaction {
  readonly producer: TransactionalProducer;
  sends: Array<Promise<void>>;
  startedAtMs: number | undefined;
  hasWarned: boolean;
}

/** How often open and pre-committed transactions are checked against the transaction timeout. */
const TIMEOUT_CHECK_INTERVAL_MS = 5_000;
/** Share of the transaction timeout after which a warning is logged. */
const TIMEOUT_WARNING_SHARE = 0.5;
/** How long closing a failed writer tries to abort its open transaction. */
const ABORT_ON_CLOSE_TIMEOUT_MS = 5_000;

/** One buffered record: the value is kept for a custom partitioner, applied at send time. */
interface Pending<T> {
  readonly topic: string;
  readonly value: T;
  readonly record: OutgoingRecord;
  readonly bytes: number;
}

/** One sink subtask's writer. */
export class KafkaSinkWriter<T> implements SinkWriter<T> {
  private readonly client: KafkaProducerClient;
  private readonly isTransactional: boolean;
  private buffer: Array<Pending<T>> = [];
  private bufferedBytes = 0;
  private inFlightBytes = 0;
  private readonly inFlight = new Set<Promise<void>>();
  /** Sends run one after another, in write order (kafkajs does not keep concurrent sends in order). */
  private lastSend: Promise<void> = Promise.resolve();
  private failure: EddyError | undefined = undefined;
  /** Exactly-once: the transaction taking records, the sealed ones by checkpoint, the free ones. */
  private current: PoolTransaction | undefined = undefined;
  private readonly prepared = new Map<number, PoolTransaction>();
  private readonly free: PoolTransaction[] = [];
  /** At-least-once: the idempotent producer. */
  private sendIdempotent: ((batch: Map<string, OutgoingRecord[]>) => Promise<void>) | undefined = undefined;
  private partitionCounts = new Map<string, number>();
  private readonly checkedTopics = new Set<string>();
  private timeoutTimer: NodeJS.Timeout | undefined = undefined;
  private readonly closeListeners: Array<() => void> = [];
  private isClosed = false;

  constructor(
    private readonly options: ResolvedKafkaSinkOptions<T>,
    private readonly context: SinkWriterContext,
    guarantee: KafkaDeliveryGuarantee,
    private readonly description: string,
  ) {
    this.isTransactional = guarantee === 'exactly-once';
    this.client = new KafkaProducerClient(
      { ...options.connection, clientId: `${options.connection.clientId}-${context.operatorUid}-${context.subtask}` },
      options.compression,
    );
  }

  async open(restoredState: readonly unknown[]): Promise<void> {
    await this.client.connect();
    if (typeof this.options.topic === 'string') {
      this.partitionCounts = await this.client.partitionCounts([this.options.topic]);
      this.checkedTopics.add(this.options.topic);
    }
    if (!this.isTransactional) {
      this.sendIdempotent = await this.client.idempotent();
      return;
    }
    const prefix = this.options.transactionalIdPrefix!;
    const timeoutMs = this.options.transactionTimeoutMs;
    // Ids nobody owns now — of old subtasks that no longer exist, or of an earlier prefix: initialising
    // them aborts what they left open.
    const orphans: string[] = [];
    for (const entry of restoredState) {
      const state = toWriterState(entry);
      if (state === undefined || (state.subtask < this.context.parallelism && state.prefix === prefix)) continue;
      for (let n = 0; n < state.poolSize; n++) orphans.push(transactionalId(state.prefix, state.subtask, n));
    }
    for (const id of orphans) await this.client.transactional(id, timeoutMs).init();
    const pool = Array.from({ length: this.options.transactionalIdPoolSize }, (_, n) =>
      this.client.transactional(transactionalId(prefix, this.context.subtask, n), timeoutMs),
    );
    // Fences this subtask's earlier producers and aborts their open transactions.
    await Promise.all(pool.map((producer) => producer.init()));
    for (const producer of pool) this.free.push({ producer, sends: [], startedAtMs: undefined, hasWarned: false });
    this.current = this.takeFree();
    this.timeoutTimer = setInterval(() => this.checkTransactionAges(), TIMEOUT_CHECK_INTERVAL_MS);
    this.timeoutTimer.unref();
  }

  write(value: T, timestampMs: number): void {
    if (this.failure !== undefined) throw this.failure;
    const topic = typeof this.options.topic === 'string' ? this.options.topic : this.topicOf(value);
    const key = this.options.key === undefined ? null : toBuffer(this.options.key(value), 'key');
    const record: OutgoingRecord = {
      key,
      value: this.serialize(value),
      headers: this.options.headers === undefined ? undefined : toHeaders(this.options.headers(value)),
      timestampMs: Number.isFinite(timestampMs) && timestampMs >= 0 ? Math.floor(timestampMs) : Date.now(),
      partition: undefined,
    };
    const bytes = (record.key?.length ?? 0) + (record.value?.length ?? 0) + 64;
    this.buffer.push({ topic, value, record, bytes });
    this.bufferedBytes += bytes;
    if (this.buffer.length >= this.options.batchSize) this.sendBuffered();
  }

  waitUntilWritable(): Promise<void> | undefined {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.inFlightBytes + this.bufferedBytes <= this.options.maxBufferedBytes) return undefined;
    if (this.buffer.length > 0) this.sendBuffered();
    const oldest = this.inFlight.values().next().value;
    if (oldest === undefined) return undefined;
    return oldest.then(() => this.throwIfFailed());
  }

  async flush(_isEndOfInput: boolean): Promise<void> {
    this.sendBuffered();
    await Promise.all([...this.inFlight]);
    this.throwIfFailed();
  }

  snapshotState(_checkpointId: number): unknown[] {
    if (!this.isTransactional) return [];
    const state: WriterState = {
      prefix: this.options.transactionalIdPrefix!,
      subtask: this.context.subtask,
      parallelism: this.context.parallelism,
      poolSize: this.options.transactionalIdPoolSize,
    };
    return [state];
  }

  prepareCommit(checkpointId: number): readonly unknown[] {
    if (!this.isTransactional) return [];
    this.throwIfFailed();
    this.sendBuffered();
    const sealed = this.current!;
    if (sealed.sends.length === 0) return [];
    const committable: TransactionCommittable = {
      ...sealed.producer.identity(),
      startedAtMs: sealed.startedAtMs ?? Date.now(),
      transactionTimeoutMs: this.options.transactionTimeoutMs,
    };
    this.prepared.set(checkpointId, sealed);
    this.current = this.takeFree();
    return [committable];
  }

  async awaitPrepared(checkpointId: number): Promise<void> {
    const sealed = this.prepared.get(checkpointId);
    if (sealed !== undefined) await Promise.all(sealed.sends);
    this.throwIfFailed();
  }

  /** Commits a transaction this writer sealed, if it holds it; false when it does not (another run's). */
  async commitLive(identity: ProducerIdentity): Promise<boolean> {
    for (const [checkpointId, sealed] of this.prepared) {
      const own = sealed.producer.identity();
      if (own.transactionalId !== identity.transactionalId || own.producerId !== identity.producerId || own.epoch !== identity.epoch) continue;
      await Promise.all(sealed.sends);
      this.throwIfFailed();
      try {
        await sealed.producer.commit();
        this.prepared.delete(checkpointId);
        // A new epoch before the id is used again: the identity in checkpoints now names only the
        // committed transaction (see the class comment).
        await sealed.producer.init();
      } catch (error) {
        throw this.fail(`committing the transaction of '${identity.transactionalId}' (checkpoint ${checkpointId})`, error);
      }
      this.release(sealed);
      return true;
    }
    return false;
  }

  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    clearInterval(this.timeoutTimer);
    try {
      await Promise.allSettled([...this.inFlight]);
      // A transaction still open holds records after the last checkpoint: abort it (a restart's
      // initialisation would anyway). Pre-committed ones stay: a checkpoint may commit them.
      const open = this.current;
      if (open !== undefined && open.producer.hasRecords()) {
        await withTimeout(open.producer.abort(), ABORT_ON_CLOSE_TIMEOUT_MS).catch(() => undefined);
      }
    } finally {
      await this.client.close().catch(() => undefined);
      for (const listener of this.closeListeners) listener();
    }
  }

  /** Called once the writer closed. */
  onClose(listener: () => void): void {
    this.closeListeners.push(listener);
  }

  private takeFree(): PoolTransaction {
    const next = this.free.shift();
    if (next === undefined) {
      throw new EddyError(
        `${this.description} subtask ${this.context.subtask}: all ${this.options.transactionalIdPoolSize} transactional ids are in use ` +
          `(${this.prepared.size} transactions wait for their checkpoints to complete): checkpoints are declined or commits fail ` +
          "repeatedly — see the errors before this one — or raise option 'transactionalIdPoolSize'",
        { domain: 'user', operatorUid: this.context.operatorUid, subtask: this.context.subtask },
      );
    }
    next.producer.begin();
    next.sends = [];
    next.startedAtMs = undefined;
    next.hasWarned = false;
    return next;
  }

  private release(transaction: PoolTransaction): void {
    transaction.sends = [];
    transaction.startedAtMs = undefined;
    this.free.push(transaction);
  }

  /** Starts sending the buffered records (in the open transaction when exactly-once). */
  private sendBuffered(): void {
    if (this.buffer.length === 0) return;
    const records = this.buffer;
    const bytes = this.bufferedBytes;
    this.buffer = [];
    this.bufferedBytes = 0;
    const transaction = this.current;
    if (transaction !== undefined && transaction.startedAtMs === undefined) transaction.startedAtMs = Date.now();
    const sending = this.lastSend.then(() => (this.failure === undefined ? this.sendRecords(records, transaction) : undefined)).then(
      () => undefined,
      (error: unknown) => {
        this.fail(`writing to ${this.description}`, error);
      },
    );
    this.inFlightBytes += bytes;
    const tracked = sending.finally(() => {
      this.inFlightBytes -= bytes;
      this.inFlight.delete(tracked);
    });
    this.inFlight.add(tracked);
    this.lastSend = tracked;
    transaction?.sends.push(tracked);
  }

  private async sendRecords(records: ReadonlyArray<Pending<T>>, transaction: PoolTransaction | undefined): Promise<void> {
    const batch = new Map<string, OutgoingRecord[]>();
    const partitioner = this.options.partitioner;
    // Topics seen for the first time must exist (and their partition counts are needed by a partitioner).
    const unknown = [...new Set(records.map((pending) => pending.topic))].filter((topic) => !this.partitionCounts.has(topic));
    if (unknown.length > 0) for (const [topic, count] of await this.client.partitionCounts(unknown)) this.partitionCounts.set(topic, count);
    for (const pending of records) {
      let record = pending.record;
      if (partitioner !== undefined) {
        const count = this.partitionCounts.get(pending.topic)!;
        const partition = partitioner(pending.value, record.key, count);
        if (!Number.isInteger(partition) || partition < 0 || partition >= count) {
          throw new EddyError(
            `${this.description}: option 'partitioner' returned ${String(partition)} for a record of '${pending.topic}', which has ${count} partitions (0…${count - 1})`,
            { domain: 'user' },
          );
        }
        record = { ...record, partition };
      }
      let list = batch.get(pending.topic);
      if (list === undefined) batch.set(pending.topic, (list = []));
      list.push(record);
    }
    if (transaction !== undefined) await transaction.producer.send(batch);
    else await this.sendIdempotent!(batch);
  }

  private serialize(value: T): Buffer | null {
    const serializer = this.options.value;
    switch (serializer) {
      case 'json': {
        const text = JSON.stringify(value);
        if (text === undefined) throw new EddyError(`${this.description}: value ${String(value)} has no JSON form (value: 'json')`, { domain: 'user' });
        return Buffer.from(text, 'utf8');
      }
      case 'text':
        return Buffer.from(String(value), 'utf8');
      case 'bytes':
        if (!(value instanceof Uint8Array)) {
          throw new EddyError(`${this.description}: value: 'bytes' needs Uint8Array/Buffer records, got ${typeof value}; use 'json' or 'text'`, { domain: 'user' });
        }
        return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
      case 'msgpack':
        return pack(value);
      default:
        return toBuffer(serializer(value), 'value');
    }
  }

  private topicOf(value: T): string {
    const topic = (this.options.topic as (value: T) => string)(value);
    if (!this.checkedTopics.has(topic)) {
      if (typeof topic !== 'string' || !TOPIC_NAME.test(topic)) {
        throw new EddyError(`${this.description}: option 'topic' returned ${JSON.stringify(topic)}, not a Kafka topic name`, { domain: 'user' });
      }
      this.checkedTopics.add(topic);
    }
    return topic;
  }

  private checkTransactionAges(): void {
    const now = Date.now();
    const limit = this.options.transactionTimeoutMs;
    const transactions: Array<[string, PoolTransaction]> = [];
    if (this.current !== undefined) transactions.push(['open', this.current]);
    for (const [checkpointId, sealed] of this.prepared) transactions.push([`pre-committed at checkpoint ${checkpointId}`, sealed]);
    for (const [what, transaction] of transactions) {
      if (transaction.startedAtMs === undefined || transaction.hasWarned) continue;
      const ageMs = now - transaction.startedAtMs;
      if (ageMs < limit * TIMEOUT_WARNING_SHARE) continue;
      transaction.hasWarned = true;
      this.options.connection.log(
        `warning: ${this.description} subtask ${this.context.subtask}: the ${what} transaction of '${transaction.producer.transactionalId}' ` +
          `is ${Math.round(ageMs / 1000)} s old; Kafka aborts it at ${Math.round(limit / 1000)} s (transactionTimeoutMs), losing its records — ` +
          'check that checkpoints complete, or raise transactionTimeoutMs (and the broker’s transaction.max.timeout.ms)',
      );
    }
  }

  private fail(what: string, error: unknown): EddyError {
    const wrapped =
      error instanceof EddyError ? error : new EddyError(`${what} failed: ${describeError(error)}`, { domain: 'external', isRetriable: true, cause: error });
    this.failure ??= wrapped;
    return wrapped;
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }
}

/** Commits pre-committed transactions: the live writer's own, or by identity (earlier runs). */
class KafkaTransactionCommitter implements Committer {
  constructor(
    private readonly connection: KafkaConnectionSettings,
    private readonly liveWriter: () => { commitLive(identity: ProducerIdentity): Promise<boolean> } | undefined,
  ) {}

  async commit(committables: readonly unknown[]): Promise<void> {
    let client: KafkaProducerClient | undefined;
    try {
      for (const entry of committables) {
        const committable = toCommittable(entry);
        if (await this.liveWriter()?.commitLive(committable)) continue;
        if (client === undefined) {
          client = new KafkaProducerClient({ ...this.connection, clientId: `${this.connection.clientId}-committer` }, 'none');
          await client.connect();
        }
        const outcome = await client.endTransaction(committable, true);
        const ageMs = Date.now() - committable.startedAtMs;
        if (outcome === 'fenced' && ageMs >= committable.transactionTimeoutMs) {
          // Committed earlier (the usual case: a restore from an older checkpoint), or aborted by Kafka
          // for its age, which Kafka does not tell apart.
          this.connection.log(
            `warning: the pre-committed transaction of '${committable.transactionalId}' (started ${Math.round(ageMs / 1000)} s ago) ` +
              `was already ended; it was committed earlier unless Kafka aborted it for exceeding transactionTimeoutMs ` +
              `(${committable.transactionTimeoutMs} ms) — the broker's log says which`,
          );
        }
      }
    } finally {
      await client?.close().catch(() => undefined);
    }
  }
}

function transactionalId(prefix: string, subtask: number, n: number): string {
  return `${prefix}-${subtask}-${n}`;
}

function toWriterState(entry: unknown): WriterState | undefined {
  if (typeof entry !== 'object' || entry === null) return undefined;
  const { prefix, subtask, parallelism, poolSize } = entry as Partial<Record<keyof WriterState, unknown>>;
  if (typeof prefix !== 'string' || typeof subtask !== 'number' || typeof parallelism !== 'number' || typeof poolSize !== 'number') return undefined;
  return { prefix, subtask, parallelism, poolSize };
}

function toCommittable(entry: unknown): TransactionCommittable {
  if (typeof entry === 'object' && entry !== null) {
    const c = entry as Partial<Record<keyof TransactionCommittable, unknown>>;
    if (
      typeof c.transactionalId === 'string' &&
      (typeof c.producerId === 'string' || typeof c.producerId === 'number') &&
      typeof c.epoch === 'number' &&
      typeof c.startedAtMs === 'number' &&
      typeof c.transactionTimeoutMs === 'number'
    ) {
      return {
        transactionalId: c.transactionalId,
        producerId: String(c.producerId),
        epoch: c.epoch,
        startedAtMs: c.startedAtMs,
        transactionTimeoutMs: c.transactionTimeoutMs,
      };
    }
  }
  throw new EddyError(`kafkaSink: malformed pending transaction in checkpoint state: ${JSON.stringify(entry)}`, { domain: 'internal' });
}

function toBuffer(value: Uint8Array | string | null, what: 'key' | 'value' | 'headers'): Buffer | null {
  if (value === null) return null;
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  throw new EddyError(`kafkaSink: option '${what}' returned ${typeof value}; it must return a string, a Uint8Array/Buffer or null`, { domain: 'user' });
}

function toHeaders(headers: Readonly<Record<string, Uint8Array | string>>): Record<string, Buffer> {
  const result: Record<string, Buffer> = {};
  for (const [name, value] of Object.entries(headers)) {
    const bytes = toBuffer(value, 'headers');
    if (bytes === null) continue;
    result[name] = bytes;
  }
  return result;
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

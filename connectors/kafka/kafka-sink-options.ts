import { z } from 'zod';
import { ConfigurationError } from '../../src/core/errors.ts';
import type { KafkaConnectionSettings, KafkaLogLevel, KafkaSaslOptions, KafkaSslOptions } from './kafka-client.ts';
import { connectionOptionFields, connectionSettings, parseOptions, TOPIC_NAME } from './kafka-connection-options.ts';

/**
 * How a record's value becomes bytes: `'json'` (JSON.stringify, UTF-8), `'text'` (String(value),
 * UTF-8), `'bytes'` (a Buffer/Uint8Array as is), `'msgpack'`, or a function returning bytes or a string.
 */
export type KafkaValueSerializer<T> = 'json' | 'text' | 'bytes' | 'msgpack' | ((value: T) => Uint8Array | string | null);

/**
 * Delivery guarantee of a {@link kafkaSink}:
 * - `'exactly-once'`: each subtask writes in Kafka transactions, one per checkpoint, committed when
 *   the checkpoint completes; `read_committed` consumers see every record exactly once, after a
 *   checkpoint (output latency = checkpoint interval). Needs checkpointing and `transactionalIdPrefix`.
 * - `'at-least-once'`: records are written as they come; each checkpoint waits until every record
 *   written before its barrier is acknowledged by all in-sync replicas. A restart may write some again.
 */
export type KafkaDeliveryGuarantee = 'exactly-once' | 'at-least-once';

/** Options of {@link kafkaSink}. `T`: the records the sink receives. */
export interface KafkaSinkOptions<T> {
  /** Bootstrap servers: `['host:9092', …]` or `'host1:9092,host2:9092'`. */
  readonly brokers: string | readonly string[];
  /** The topic every record goes to, or a function choosing it per record. */
  readonly topic: string | ((value: T) => string);
  /** How values become bytes; default `'json'`. */
  readonly value?: KafkaValueSerializer<T>;
  /** The record's key (UTF-8 when a string); none (`null`) by default. */
  readonly key?: (value: T) => Uint8Array | string | null;
  /** Record headers (UTF-8 when strings); none by default. */
  readonly headers?: (value: T) => Readonly<Record<string, Uint8Array | string>>;
  /**
   * The partition of each record: default Kafka's own (murmur2 of the key, as the Java client; records
   * without key spread round-robin), or a function of the record, its key bytes and the topic's
   * partition count returning 0…count−1.
   */
  readonly partitioner?: (value: T, key: Uint8Array | null, partitionCount: number) => number;
  /** Default: `'exactly-once'` when the job checkpoints exactly-once, otherwise `'at-least-once'`. */
  readonly deliveryGuarantee?: KafkaDeliveryGuarantee;
  /**
   * Exactly-once: the prefix of the sink's transactional ids (`<prefix>-<subtask>-<n>`). It must stay
   * the same across restarts and upgrades of the job, and no other job (or sink) writing to the same
   * cluster may use it: a producer with the same transactional id fences the other.
   */
  readonly transactionalIdPrefix?: string;
  /**
   * Exactly-once: transactional ids per subtask — the open transaction plus those pre-committed and
   * waiting for their checkpoint to complete; default 5. A subtask that needs more (checkpoints
   * declined or commits failing repeatedly) fails with an error naming this option.
   */
  readonly transactionalIdPoolSize?: number;
  /**
   * Exactly-once: the broker aborts a transaction not committed within this time — output lost. It
   * must exceed the longest checkpoint interval plus recovery time; the broker caps it with
   * `transaction.max.timeout.ms` (default 15 min). Default 15 min. Eddy warns when a transaction gets
   * close to it.
   */
  readonly transactionTimeoutMs?: number;
  /** Records buffered per subtask before a send starts; default 1,000. */
  readonly batchSize?: number;
  /**
   * Bytes in flight per subtask before the sink stops taking records (backpressure); default 2 MiB.
   * A checkpoint waits for all of them to be acknowledged: more buffers longer checkpoints.
   */
  readonly maxBufferedBytes?: number;
  /** Compression of record batches; default none. */
  readonly compression?: 'none' | 'gzip';
  /** kafkajs client id; default `eddy`. Each subtask appends `-<sink uid>-<subtask>`. */
  readonly clientId?: string;
  /** TLS, as kafkajs takes it: `true` or `tls.connect` options (ca, cert, key, …). */
  readonly ssl?: KafkaSslOptions;
  /** SASL, as kafkajs takes it: `{ mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512' | 'aws' | 'oauthbearer', … }`. */
  readonly sasl?: KafkaSaslOptions;
  /** Bound of connecting (each socket, and a client's whole first connection); default 10 s. */
  readonly connectionTimeoutMs?: number;
  /** Bound of one request; default 30 s. */
  readonly requestTimeoutMs?: number;
  /** kafkajs's own log level; default `'warn'`. */
  readonly logLevel?: KafkaLogLevel;
  /** Where log lines go; default standard error, prefixed `eddy: `. */
  readonly log?: (line: string) => void;
}

/** {@link KafkaSinkOptions} checked, with every default filled in (the guarantee is decided per run). */
export interface ResolvedKafkaSinkOptions<T> {
  readonly connection: KafkaConnectionSettings;
  readonly topic: string | ((value: T) => string);
  readonly value: KafkaValueSerializer<T>;
  readonly key: ((value: T) => Uint8Array | string | null) | undefined;
  readonly headers: ((value: T) => Readonly<Record<string, Uint8Array | string>>) | undefined;
  readonly partitioner: ((value: T, key: Uint8Array | null, partitionCount: number) => number) | undefined;
  readonly deliveryGuarantee: KafkaDeliveryGuarantee | undefined;
  readonly transactionalIdPrefix: string | undefined;
  readonly transactionalIdPoolSize: number;
  readonly transactionTimeoutMs: number;
  readonly batchSize: number;
  readonly maxBufferedBytes: number;
  readonly compression: 'none' | 'gzip';
}

/** Default of {@link KafkaSinkOptions.transactionalIdPoolSize} (Flink's producer pool size). */
export const DEFAULT_TRANSACTIONAL_ID_POOL_SIZE = 5;
/** Default of {@link KafkaSinkOptions.transactionTimeoutMs}: the broker's default `transaction.max.timeout.ms`. */
export const DEFAULT_TRANSACTION_TIMEOUT_MS = 15 * 60_000;
/** Default of {@link KafkaSinkOptions.batchSize}. */
export const DEFAULT_SINK_BATCH_SIZE = 1_000;
/** Default of {@link KafkaSinkOptions.maxBufferedBytes}. */
export const DEFAULT_SINK_MAX_BUFFERED_BYTES = 2 * 1024 * 1024;

const isFunction = (value: unknown): boolean => typeof value === 'function';
const positiveInt = (what: string) => z.number().int(`${what} must be a whole number`).positive(`${what} must be > 0`);

const optionsSchema = z.strictObject({
  ...connectionOptionFields,
  topic: z.union(
    [z.string().regex(TOPIC_NAME, 'must be a Kafka topic name (1-249 of a-z A-Z 0-9 . _ -)'), z.custom<(value: unknown) => string>(isFunction)],
    'must be a topic name or a function (record) => topic name',
  ),
  value: z
    .union(
      [z.enum(['json', 'text', 'bytes', 'msgpack']), z.custom<(value: unknown) => Uint8Array | string | null>(isFunction)],
      "must be 'json', 'text', 'bytes', 'msgpack' or a function (record) => bytes | string",
    )
    .optional(),
  key: z.custom<(value: unknown) => Uint8Array | string | null>(isFunction, 'must be a function (record) => key bytes | string | null').optional(),
  headers: z.custom<(value: unknown) => Record<string, Uint8Array | string>>(isFunction, 'must be a function (record) => { name: value }').optional(),
  partitioner: z
    .custom<(value: unknown, key: Uint8Array | null, partitionCount: number) => number>(
      isFunction,
      'must be a function (record, key, partitionCount) => partition',
    )
    .optional(),
  deliveryGuarantee: z.enum(['exactly-once', 'at-least-once'], "must be 'exactly-once' or 'at-least-once'").optional(),
  transactionalIdPrefix: z
    .string()
    .regex(/^[a-zA-Z0-9._-]{1,200}$/, 'must be 1-200 of a-z A-Z 0-9 . _ - (stable across restarts, unique per job)')
    .optional(),
  transactionalIdPoolSize: z.number().int('must be a whole number').min(2, 'must be ≥ 2 (one open, one pre-committed)').optional(),
  transactionTimeoutMs: positiveInt('transactionTimeoutMs').optional(),
  batchSize: positiveInt('batchSize').optional(),
  maxBufferedBytes: positiveInt('maxBufferedBytes').optional(),
  compression: z.enum(['none', 'gzip'], "must be 'none' or 'gzip'").optional(),
});

function fail(message: string): never {
  throw new ConfigurationError(`kafkaSink: ${message}`);
}

/**
 * Checks `options` (zod, plus the rules between options) and fills in every default. Throws a
 * ConfigurationError naming the option, e.g. `kafkaSink: option 'topic' must be a topic name …`.
 */
export function resolveKafkaSinkOptions<T>(options: unknown): ResolvedKafkaSinkOptions<T> {
  if (typeof options !== 'object' || options === null) fail(`needs an options object ({ brokers, topic, … }), got ${String(options)}`);
  const o = parseOptions(optionsSchema, options, fail);
  if (o.deliveryGuarantee === 'exactly-once' && o.transactionalIdPrefix === undefined) {
    fail(
      "exactly-once needs option 'transactionalIdPrefix': a name for this sink's transactions that stays the same " +
        "across restarts and that no other job uses (e.g. 'orders-enricher-out')",
    );
  }
  return {
    connection: connectionSettings(o, fail),
    topic: o.topic as string | ((value: T) => string),
    value: (o.value ?? 'json') as KafkaValueSerializer<T>,
    key: o.key as ((value: T) => Uint8Array | string | null) | undefined,
    headers: o.headers as ((value: T) => Readonly<Record<string, Uint8Array | string>>) | undefined,
    partitioner: o.partitioner as ((value: T, key: Uint8Array | null, partitionCount: number) => number) | undefined,
    deliveryGuarantee: o.deliveryGuarantee,
    transactionalIdPrefix: o.transactionalIdPrefix,
    transactionalIdPoolSize: o.transactionalIdPoolSize ?? DEFAULT_TRANSACTIONAL_ID_POOL_SIZE,
    transactionTimeoutMs: o.transactionTimeoutMs ?? DEFAULT_TRANSACTION_TIMEOUT_MS,
    batchSize: o.batchSize ?? DEFAULT_SINK_BATCH_SIZE,
    maxBufferedBytes: o.maxBufferedBytes ?? DEFAULT_SINK_MAX_BUFFERED_BYTES,
    compression: o.compression ?? 'none',
  };
}

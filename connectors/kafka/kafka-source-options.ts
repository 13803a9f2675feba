import { z } from 'zod';
import { ConfigurationError } from '../../src/core/errors.ts';
import { isKafkaDeserializer, text, type KafkaDeserializer } from './deserializers.ts';
import type { FetchLimits, KafkaConnectionSettings, KafkaLogLevel, KafkaSaslOptions, KafkaSslOptions } from './kafka-client.ts';
import { connectionOptionFields, connectionSettings, parseOptions, TOPIC_NAME } from './kafka-connection-options.ts';

/**
 * Where each partition starts when the job starts without a checkpoint (a restored job resumes at
 * its checkpointed offsets; partitions discovered later start from the earliest offset):
 * - `'earliest'`: the partition's first retained record;
 * - `'latest'`: the end of the partition (only records written after the start);
 * - `{ committedOr: 'earliest' | 'latest' }`: the offsets committed to `groupId`; partitions the group
 *   has no offset for start from the fallback;
 * - `{ timestampMs }`: the first record with a timestamp ≥ timestampMs (the end if there is none).
 */
export type StartingOffsets =
  | 'earliest'
  | 'latest'
  | { readonly committedOr: 'earliest' | 'latest' }
  | { readonly timestampMs: number };

/**
 * What to do with a record the deserializer rejects (or without a value):
 * - `'fail'`: fail the job, naming `topic-partition@offset`;
 * - `'skip'`: drop it, counted in the summary's "bad skipped";
 * - `{ deadLetterTopic }`: produce it unchanged (key, value, headers, timestamp) to that topic with
 *   headers `eddy-error`, `eddy-source-topic`, `eddy-source-partition`, `eddy-source-offset`, counted in
 *   "bad dead-lettered". The write is acknowledged before the source moves past the record.
 * Unset, the job's `--on-bad-record` policy applies (default: fail).
 */
export type PoisonRecordPolicy = 'fail' | 'skip' | { readonly deadLetterTopic: string };

/** Options of {@link kafkaSource}. `V`: what the value deserializer returns; `K`: the key's (with `withMetadata`). */
export interface KafkaSourceOptions<V, K = string> {
  /** Bootstrap servers: `['host:9092', …]` or `'host1:9092,host2:9092'`. */
  readonly brokers: string | readonly string[];
  /** The topics to read (every partition of each); or use `topicPattern`. */
  readonly topics?: string | readonly string[];
  /** Reads every topic whose whole name matches (new matching topics are discovered while running). */
  readonly topicPattern?: RegExp;
  /** Turns each record's value bytes into what the job sees: `json({ schema })`, `text()`, `bytes()`, `msgpack()`. */
  readonly value: KafkaDeserializer<V>;
  /** With `withMetadata`: how keys are read; default `text()`. A record without key has `key: null`. */
  readonly key?: KafkaDeserializer<K>;
  /**
   * Emit `{ key, value, headers, topic, partition, offset, timestamp }` rather than the value alone;
   * header values are UTF-8 strings (arrays when a header repeats).
   */
  readonly withMetadata?: boolean;
  /**
   * Consumer group that offsets are committed to after each completed checkpoint, for lag monitoring
   * only (Eddy restores from its checkpoints, never from these); also the group of
   * `startingOffsets: { committedOr }`. No group is joined: use a group id no running consumer uses.
   */
  readonly groupId?: string;
  /** kafkajs client id; default `eddy`. Each reader appends `-<source uid>-<subtask>`. */
  readonly clientId?: string;
  /** Default `'earliest'`. */
  readonly startingOffsets?: StartingOffsets;
  /**
   * `'latest'` makes the source bounded: it reads each partition up to its end offset at the job's
   * start, then finishes (end of input: every window fires). Partitions are not discovered later.
   */
  readonly stoppingOffsets?: 'latest';
  /** How often new partitions (and, with `topicPattern`, new topics) are looked for; default 30 s, 0 = never. */
  readonly partitionDiscoveryIntervalMs?: number;
  /** Default: the job's `--on-bad-record` policy. */
  readonly onPoisonRecord?: PoisonRecordPolicy;
  /** Records a reader holds fetched but not yet emitted before it stops fetching; default 10,000. */
  readonly maxBufferedRecords?: number;
  /** How long the broker may hold a fetch when there is no new data; default 500 ms. */
  readonly fetchMaxWaitMs?: number;
  /** Bytes per fetch response; default 4 MiB (at most 1 MiB of it per partition). */
  readonly fetchMaxBytes?: number;
  /** TLS, as kafkajs takes it: `true` or `tls.connect` options (ca, cert, key, …). */
  readonly ssl?: KafkaSslOptions;
  /** SASL, as kafkajs takes it: `{ mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512' | 'aws' | 'oauthbearer', … }`. */
  readonly sasl?: KafkaSaslOptions;
  /** Bound of connecting (each socket, and a client's whole first connection); default 10 s. */
  readonly connectionTimeoutMs?: number;
  /** Bound of one request; default 30 s. Fetching also gives up after failing for this long. */
  readonly requestTimeoutMs?: number;
  /** kafkajs's own log level; default `'warn'` (its warnings and errors become Eddy log lines). */
  readonly logLevel?: KafkaLogLevel;
  /** Where log lines go; default standard error, prefixed `eddy: `. */
  readonly log?: (line: string) => void;
}

/** What the topics of a source are. */
export type TopicSubscription =
  | { readonly kind: 'topics'; readonly topics: readonly string[] }
  | { readonly kind: 'pattern'; readonly pattern: RegExp };

/** {@link KafkaSourceOptions} checked, with every default filled in. */
export interface ResolvedKafkaSourceOptions {
  readonly connection: KafkaConnectionSettings;
  readonly subscription: TopicSubscription;
  readonly value: KafkaDeserializer<unknown>;
  readonly key: KafkaDeserializer<unknown>;
  readonly withMetadata: boolean;
  readonly groupId: string | undefined;
  readonly startingOffsets: StartingOffsets;
  readonly isBounded: boolean;
  readonly partitionDiscoveryIntervalMs: number;
  readonly onPoisonRecord: PoisonRecordPolicy | undefined;
  readonly maxBufferedRecords: number;
  readonly fetchLimits: FetchLimits;
}

/** Default of {@link KafkaSourceOptions.partitionDiscoveryIntervalMs}, as Flink's. */
export const DEFAULT_PARTITION_DISCOVERY_INTERVAL_MS = 30_000;
/** Default of {@link KafkaSourceOptions.maxBufferedRecords}: ten batches. */
export const DEFAULT_MAX_BUFFERED_RECORDS = 10_000;
/** Default of {@link KafkaSourceOptions.fetchMaxWaitMs}, as the Java consumer's `fetch.max.wait.ms`. */
export const DEFAULT_FETCH_MAX_WAIT_MS = 500;
/** Default of {@link KafkaSourceOptions.fetchMaxBytes}. */
export const DEFAULT_FETCH_MAX_BYTES = 4 * 1024 * 1024;
/** Bytes of one partition per fetch response, as the Java consumer's `max.partition.fetch.bytes`. */
const MAX_FETCH_BYTES_PER_PARTITION = 1024 * 1024;

const topicName = z.string().regex(TOPIC_NAME, 'must be a Kafka topic name (1-249 of a-z A-Z 0-9 . _ -)');

const positiveInt = (what: string) => z.number().int(`${what} must be a whole number`).positive(`${what} must be > 0`);

/** Shapes zod cannot say well get a predicate and one sentence each. */
const optionsSchema = z.strictObject({
  ...connectionOptionFields,
  topics: z.union([topicName, z.array(topicName).min(1, 'must name at least one topic')]).optional(),
  topicPattern: z.instanceof(RegExp, { error: 'must be a RegExp, e.g. /^orders-.*/' }).optional(),
  value: z.custom<KafkaDeserializer<unknown>>(
    isKafkaDeserializer,
    "must be a deserializer: json({ schema }), text(), bytes() or msgpack() from 'eddy/connectors/kafka'",
  ),
  key: z
    .custom<KafkaDeserializer<unknown>>(isKafkaDeserializer, "must be a deserializer: text(), bytes(), json() or msgpack() from 'eddy/connectors/kafka'")
    .optional(),
  withMetadata: z.boolean('must be true or false').optional(),
  groupId: z.string().min(1, 'must not be empty').optional(),
  startingOffsets: z
    .custom<StartingOffsets>(
      isStartingOffsets,
      "must be 'earliest', 'latest', { committedOr: 'earliest' | 'latest' } or { timestampMs: <epoch ms> }",
    )
    .optional(),
  stoppingOffsets: z.literal('latest', "must be 'latest' (bounded: read up to the end offsets at start), or left out").optional(),
  partitionDiscoveryIntervalMs: z.number().int('must be a whole number of ms').nonnegative('must be ≥ 0 (0: never)').optional(),
  onPoisonRecord: z
    .custom<PoisonRecordPolicy>(isPoisonRecordPolicy, "must be 'fail', 'skip' or { deadLetterTopic: '<topic>' }")
    .optional(),
  maxBufferedRecords: positiveInt('maxBufferedRecords').optional(),
  fetchMaxWaitMs: z.number().int('must be a whole number of ms').nonnegative('must be ≥ 0').optional(),
  fetchMaxBytes: positiveInt('fetchMaxBytes').optional(),
});

function isStartingOffsets(value: unknown): value is StartingOffsets {
  if (value === 'earliest' || value === 'latest') return true;
  if (typeof value !== 'object' || value === null) return false;
  const keys = Object.keys(value);
  if (keys.length !== 1) return false;
  const entry = value as { committedOr?: unknown; timestampMs?: unknown };
  if (keys[0] === 'committedOr') return entry.committedOr === 'earliest' || entry.committedOr === 'latest';
  if (keys[0] === 'timestampMs') return typeof entry.timestampMs === 'number' && Number.isSafeInteger(entry.timestampMs) && entry.timestampMs >= 0;
  return false;
}

function isPoisonRecordPolicy(value: unknown): value is PoisonRecordPolicy {
  if (value === 'fail' || value === 'skip') return true;
  if (typeof value !== 'object' || value === null || Object.keys(value).length !== 1) return false;
  const topic = (value as { deadLetterTopic?: unknown }).deadLetterTopic;
  return typeof topic === 'string' && TOPIC_NAME.test(topic);
}

function fail(message: string): never {
  throw new ConfigurationError(`kafkaSource: ${message}`);
}

/** A pattern that must match a whole topic name, without the stateful g/y flags. */
function wholeNamePattern(pattern: RegExp): RegExp {
  return new RegExp(`^(?:${pattern.source})$`, pattern.flags.replace(/[gy]/g, ''));
}

/**
 * Checks `options` (zod, plus the rules between options) and fills in every default. Throws a
 * ConfigurationError naming the option: `kafkaSource option 'brokers': '127.0.0.1' is not host:port`.
 */
export function resolveKafkaSourceOptions(options: unknown): ResolvedKafkaSourceOptions {
  if (typeof options !== 'object' || options === null) fail(`needs an options object ({ brokers, topics, value, … }), got ${String(options)}`);
  const o = parseOptions(optionsSchema, options, fail);
  const connection = connectionSettings(o, fail);
  let subscription: TopicSubscription;
  if (o.topics !== undefined && o.topicPattern !== undefined) fail("set either 'topics' or 'topicPattern', not both");
  if (o.topics !== undefined) {
    subscription = { kind: 'topics', topics: [...new Set(typeof o.topics === 'string' ? [o.topics] : o.topics)] };
  } else if (o.topicPattern !== undefined) {
    subscription = { kind: 'pattern', pattern: wholeNamePattern(o.topicPattern) };
  } else {
    fail("needs 'topics' (a topic or a list) or 'topicPattern' (a RegExp)");
  }
  const startingOffsets = o.startingOffsets ?? 'earliest';
  if (typeof startingOffsets === 'object' && 'committedOr' in startingOffsets && o.groupId === undefined) {
    fail("option 'startingOffsets' { committedOr } reads the offsets of a consumer group: set 'groupId'");
  }
  if (o.key !== undefined && o.withMetadata !== true) fail("option 'key' is used only with withMetadata: true (values alone carry no key)");
  const fetchMaxBytes = o.fetchMaxBytes ?? DEFAULT_FETCH_MAX_BYTES;
  return {
    connection,
    subscription,
    value: o.value,
    key: o.key ?? text(),
    withMetadata: o.withMetadata ?? false,
    groupId: o.groupId,
    startingOffsets,
    isBounded: o.stoppingOffsets === 'latest',
    partitionDiscoveryIntervalMs: o.partitionDiscoveryIntervalMs ?? DEFAULT_PARTITION_DISCOVERY_INTERVAL_MS,
    onPoisonRecord: o.onPoisonRecord,
    maxBufferedRecords: o.maxBufferedRecords ?? DEFAULT_MAX_BUFFERED_RECORDS,
    fetchLimits: {
      maxWaitMs: o.fetchMaxWaitMs ?? DEFAULT_FETCH_MAX_WAIT_MS,
      maxBytes: fetchMaxBytes,
      maxBytesPerPartition: Math.min(fetchMaxBytes, MAX_FETCH_BYTES_PER_PARTITION),
    },
  };
}

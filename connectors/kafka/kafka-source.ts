import type {
  EnumeratorCheckpoint,
  Source,
  SourceReader,
  SourceReaderContext,
  SplitEnumerator,
  SplitEnumeratorContext,
} from '../../src/connector/source.ts';
import { KafkaSplitEnumerator } from './kafka-split-enumerator.ts';
import { resolveKafkaSourceOptions, type KafkaSourceOptions, type ResolvedKafkaSourceOptions } from './kafka-source-options.ts';
import { KafkaSourceReader, type KafkaRecord } from './kafka-source-reader.ts';
import type { KafkaPartitionSplit } from './kafka-split.ts';

/**
 * A source over Kafka topics. Each partition is a split: the enumerator on the job manager discovers
 * the partitions and assigns them over the source's subtasks (see {@link KafkaSplitEnumerator}); each
 * subtask's reader fetches its partitions directly from their leaders (see {@link KafkaSourceReader}).
 * Offsets live in Eddy's checkpoints; committing them to `groupId` is a courtesy for lag monitoring.
 *
 * Unbounded by default; `stoppingOffsets: 'latest'` makes it bounded. Watermarks are per partition
 * (the runtime tracks one per split and forwards the minimum over active ones) and are emitted
 * periodically as well as after every batch; a subtask without partitions is idle and never holds
 * the watermark back. A partition that stays quiet holds it back unless the watermark strategy has
 * `withIdleness(…)`, as in Flink.
 */
export class KafkaSource<T> implements Source<T, KafkaPartitionSplit> {
  readonly boundedness: 'bounded' | 'unbounded';
  readonly watermarkEmission = 'periodic';
  readonly options: ResolvedKafkaSourceOptions;

  constructor(options: ResolvedKafkaSourceOptions) {
    this.options = options;
    this.boundedness = options.isBounded ? 'bounded' : 'unbounded';
  }

  createEnumerator(
    context: SplitEnumeratorContext<KafkaPartitionSplit>,
    restored?: EnumeratorCheckpoint<KafkaPartitionSplit>,
  ): SplitEnumerator<KafkaPartitionSplit> {
    const options = this.options;
    const poison = options.onPoisonRecord;
    return new KafkaSplitEnumerator(
      context,
      {
        connection: { ...options.connection, clientId: `${options.connection.clientId}-enumerator` },
        subscription: options.subscription,
        startingOffsets: options.startingOffsets,
        groupId: options.groupId,
        isBounded: options.isBounded,
        partitionDiscoveryIntervalMs: options.partitionDiscoveryIntervalMs,
        deadLetterTopic: typeof poison === 'object' ? poison.deadLetterTopic : undefined,
      },
      restored,
    );
  }

  createReader(context: SourceReaderContext): SourceReader<T, KafkaPartitionSplit> {
    const options = this.options;
    const reader = new KafkaSourceReader({
      connection: { ...options.connection, clientId: `${options.connection.clientId}-${context.operatorUid}-${context.subtask}` },
      value: options.value,
      key: options.key,
      withMetadata: options.withMetadata,
      groupId: options.groupId,
      onPoisonRecord: options.onPoisonRecord,
      maxBufferedRecords: options.maxBufferedRecords,
      fetchLimits: options.fetchLimits,
    });
    // The reader emits what the deserializers return (or KafkaRecord<K, V>): `T` by construction.
    return reader as SourceReader<unknown, KafkaPartitionSplit> as SourceReader<T, KafkaPartitionSplit>;
  }

  describe(): string {
    const subscription = this.options.subscription;
    const topics = subscription.kind === 'topics' ? subscription.topics.join(', ') : String(subscription.pattern);
    return `kafka(${topics}${this.options.isBounded ? ', bounded' : ''})`;
  }
}

/**
 * A Kafka source; see {@link KafkaSource} and {@link KafkaSourceOptions}. Checks the options when
 * called (a ConfigurationError names the option); the cluster is first contacted when the job starts.
 *
 * ```ts
 * env.fromSource(
 *   kafkaSource({ brokers: 'localhost:9092', topics: 'orders', groupId: 'order-stats', value: json({ schema: Order }) }),
 *   WatermarkStrategy.forBoundedOutOfOrderness<Order>(5_000).withTimestampAssigner((order) => order.ts),
 *   { uid: 'orders' },
 * );
 * ```
 */
export function kafkaSource<V, K = string>(
  options: KafkaSourceOptions<V, K> & { readonly withMetadata: true },
): KafkaSource<KafkaRecord<K, V>>;
export function kafkaSource<V>(options: KafkaSourceOptions<V> & { readonly withMetadata?: false }): KafkaSource<V>;
export function kafkaSource<V, K>(options: KafkaSourceOptions<V, K>): KafkaSource<V> | KafkaSource<KafkaRecord<K, V>> {
  return new KafkaSource(resolveKafkaSourceOptions(options));
}

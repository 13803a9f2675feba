/**
 * Apache Kafka as a source: `kafkaSource({ brokers, topics | topicPattern, value, … })`.
 *
 * - Every partition is a split `{ topic, partition, nextOffset, stoppingOffset }`. The enumerator on
 *   the job manager discovers partitions (at start, then every `partitionDiscoveryIntervalMs`,
 *   including new topics matching `topicPattern`) and assigns each to one subtask — Eddy's
 *   assignment; no consumer group is joined. Readers fetch from the partition leaders directly
 *   (kafkajs's connection layer; see kafka-client.ts for why not its consumer) with `read_committed`
 *   isolation.
 * - Invariants: a reader's snapshot records, per partition, the offset after the last record it
 *   emitted; a restored job resumes exactly there, whatever the consumer group says. Offsets are
 *   committed to `groupId` after each completed checkpoint for lag monitoring only. A record is
 *   emitted, dead-lettered, skipped (counted) or fails the job — never dropped silently.
 * - Watermarks are per partition; a subtask without partitions is idle. The record's Kafka timestamp
 *   is the source timestamp (the default timestamp assigner uses it).
 * - `stoppingOffsets: 'latest'` makes the source bounded: each partition is read up to its end offset
 *   at the job's start; then the job ends like a file job.
 * - Memory is bounded: each reader holds at most `maxBufferedRecords` fetched records (plus one fetch
 *   response per broker).
 * - Per-partition lag (end of the committed input − next offset) shows in the progress line.
 *
 * Value formats: {@link json} (optional zod schema), {@link text}, {@link bytes}, {@link msgpack}, or
 * any {@link KafkaDeserializer}; `withMetadata: true` emits {@link KafkaRecord}s.
 */
export { kafkaSource, KafkaSource } from './kafka-source.ts';
export type {
  KafkaSourceOptions,
  StartingOffsets,
  PoisonRecordPolicy,
  ResolvedKafkaSourceOptions,
  TopicSubscription,
} from './kafka-source-options.ts';
export { resolveKafkaSourceOptions } from './kafka-source-options.ts';
export { json, text, bytes, msgpack, isKafkaDeserializer } from './deserializers.ts';
export type { KafkaDeserializer, SchemaOptions } from './deserializers.ts';
export type { KafkaPartitionSplit } from './kafka-split.ts';
export { partitionSplitId } from './kafka-split.ts';
export { KafkaSplitEnumerator, partitionOwner } from './kafka-split-enumerator.ts';
export type { KafkaEnumeratorSettings } from './kafka-split-enumerator.ts';
export { KafkaSourceReader, MAX_RECORDS_PER_BATCH } from './kafka-source-reader.ts';
export type { KafkaRecord, KafkaReaderSettings } from './kafka-source-reader.ts';
export type { KafkaLogLevel, KafkaSaslOptions, KafkaSslOptions, KafkaConnectionSettings } from './kafka-client.ts';
export { kafkaSink, KafkaSink } from './kafka-sink.ts';
export type { KafkaSinkOptions, KafkaValueSerializer, KafkaDeliveryGuarantee, ResolvedKafkaSinkOptions } from './kafka-sink-options.ts';
export { resolveKafkaSinkOptions } from './kafka-sink-options.ts';

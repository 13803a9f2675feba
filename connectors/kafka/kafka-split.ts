import type { SourceSplit } from '../../src/connector/source.ts';

/**
 * One Kafka partition, with the position to resume from. Plain msgpack-safe data: a reader's snapshot
 * is its splits with `nextOffset` just after the last record it emitted, so a restored reader resumes
 * exactly there — the offsets Eddy checkpoints are the only ones recovery uses.
 */
export interface KafkaPartitionSplit extends SourceSplit {
  /** `<topic>-<partition>`, Kafka's own way of naming a partition. */
  readonly splitId: string;
  readonly topic: string;
  readonly partition: number;
  /** The offset of the next record to emit (the enumerator resolves the starting position to it). */
  readonly nextOffset: number;
  /**
   * Bounded sources: the offset at which the split is finished (exclusive), the partition's end
   * offset when the job started; null for unbounded sources.
   */
  readonly stoppingOffset: number | null;
}

/** The split id of a partition: `orders-3`. */
export function partitionSplitId(topic: string, partition: number): string {
  return `${topic}-${partition}`;
}

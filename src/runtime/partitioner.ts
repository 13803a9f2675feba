import { ConfigurationError } from '../core/errors.ts';
import { assignToKeyGroup, computeOperatorIndexForKeyGroup } from '../core/key-group.ts';
import { assertNever } from '../core/errors.ts';
import type { Partitioning } from '../graph/stream-graph.ts';

/**
 * Chooses the channel (target subtask) of each record of a network edge. `selectChannel` runs once per
 * record: no allocation. Broadcast edges are handled by the record writer (every channel), so their
 * partitioner is never asked.
 */
export interface Partitioner {
  /** True when every record goes to every channel. */
  readonly isBroadcast: boolean;
  selectChannel(value: unknown): number;
}

/** What a partitioner needs to know about its edge. */
export interface PartitionerOptions {
  /** Number of channels = the target's parallelism (1 for forward edges: the same-index subtask). */
  readonly numChannels: number;
  /** The target's maxParallelism (number of key groups). */
  readonly maxParallelism: number;
  /** The producing subtask; rebalance starts at a different channel per producer. */
  readonly subtask: number;
  /** `'a' ▶ 'b'`, for errors. */
  readonly edgeDescription: string;
}

/**
 * The partitioner of one producer subtask for one edge. Per record: `hash` costs a key-group computation, the
 * others O(1).
 */
export function createPartitioner(partitioning: Partitioning, options: PartitionerOptions): Partitioner {
  switch (partitioning.kind) {
    case 'forward':
      return new FixedChannelPartitioner(0, false);
    case 'global':
      return new FixedChannelPartitioner(0, false);
    case 'broadcast':
      return new FixedChannelPartitioner(0, true);
    case 'rebalance':
      return new RebalancePartitioner(options.numChannels, options.subtask);
    case 'hash':
      return new KeyGroupPartitioner(partitioning.keySelector, options.numChannels, options.maxParallelism);
    case 'custom':
      return new CustomPartitioner(partitioning.keySelector, partitioning.partitioner, options);
    default:
      return assertNever(partitioning, 'partitioning');
  }
}

class FixedChannelPartitioner implements Partitioner {
  constructor(
    private readonly channel: number,
    readonly isBroadcast: boolean,
  ) {}

  selectChannel(): number {
    return this.channel;
  }
}

/** Round robin, starting at the producer's own index so that producers don't all hit channel 0 first. */
export class RebalancePartitioner implements Partitioner {
  readonly isBroadcast = false;
  private next: number;

  constructor(
    private readonly numChannels: number,
    subtask: number,
  ) {
    this.next = subtask % numChannels;
  }

  selectChannel(): number {
    const channel = this.next;
    this.next = channel + 1 === this.numChannels ? 0 : channel + 1;
    return channel;
  }
}

/** keyBy: the owner of the record's key group (Flink's KeyGroupStreamPartitioner). */
export class KeyGroupPartitioner implements Partitioner {
  readonly isBroadcast = false;

  constructor(
    private readonly keySelector: (value: unknown) => unknown,
    private readonly numChannels: number,
    private readonly maxParallelism: number,
  ) {}

  selectChannel(value: unknown): number {
    const keyGroup = assignToKeyGroup(this.keySelector(value), this.maxParallelism);
    return computeOperatorIndexForKeyGroup(this.maxParallelism, this.numChannels, keyGroup);
  }
}

/** partitionCustom: the user's function picks the channel; an out-of-range answer is a clear error. */
export class CustomPartitioner implements Partitioner {
  readonly isBroadcast = false;
  private readonly numChannels: number;

  constructor(
    private readonly keySelector: (value: unknown) => unknown,
    private readonly partitioner: (key: unknown, numPartitions: number) => number,
    private readonly options: PartitionerOptions,
  ) {
    this.numChannels = options.numChannels;
  }

  selectChannel(value: unknown): number {
    const channel = this.partitioner(this.keySelector(value), this.numChannels);
    if (!Number.isInteger(channel) || channel < 0 || channel >= this.numChannels) {
      throw new ConfigurationError(
        `custom partitioner of edge ${this.options.edgeDescription} must return a whole number in ` +
          `[0, ${this.numChannels}) (the number of partitions), got ${String(channel)}`,
      );
    }
    return channel;
  }
}

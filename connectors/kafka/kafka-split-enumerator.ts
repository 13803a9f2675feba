import type { EnumeratorCheckpoint, SplitEnumerator, SplitEnumeratorContext } from '../../src/connector/source.ts';
import { ConfigurationError, EddyError, describeError } from '../../src/core/errors.ts';
import { KafkaAdminClient, type KafkaConnectionSettings, type OffsetRange } from './kafka-client.ts';
import type { StartingOffsets, TopicSubscription } from './kafka-source-options.ts';
import { partitionSplitId, type KafkaPartitionSplit } from './kafka-split.ts';

/** What the enumerator is created with, from the resolved source options. */
export interface KafkaEnumeratorSettings {
  readonly connection: KafkaConnectionSettings;
  readonly subscription: TopicSubscription;
  readonly startingOffsets: StartingOffsets;
  readonly groupId: string | undefined;
  readonly isBounded: boolean;
  /** 0: discover once, at start. Ignored when bounded. */
  readonly partitionDiscoveryIntervalMs: number;
  /** Must exist when the job starts. */
  readonly deadLetterTopic: string | undefined;
}

/** The enumerator's own checkpoint state: every partition ever assigned (`[topic, partition]`). */
interface KafkaEnumeratorState {
  readonly assignedPartitions: ReadonlyArray<readonly [topic: string, partition: number]>;
  /**
   * Whether the first assignment had happened when the checkpoint was taken. A checkpoint of a job
   * that had not yet assigned anything (taken while the enumerator was still starting) restores as a
   * first start. Absent in older checkpoints: then "some partition was assigned" stands in for it.
   */
  readonly hasStarted?: boolean;
}

function isKafkaEnumeratorState(value: unknown): value is KafkaEnumeratorState {
  return typeof value === 'object' && value !== null && Array.isArray((value as { assignedPartitions?: unknown }).assignedPartitions);
}

/** Kafka's internal topics: never read through a pattern. */
const INTERNAL_TOPICS: ReadonlySet<string> = new Set(['__consumer_offsets', '__transaction_state', '__cluster_metadata']);

/** Java's `String.hashCode` (UTF-16 code units, 32-bit wrap-around), as Flink's Kafka enumerator uses it. */
function javaStringHash(value: string): number {
  let hash = 0;
  for (let i = 0; i < value.length; i++) hash = (Math.imul(hash, 31) + value.charCodeAt(i)) | 0;
  return hash;
}

/**
 * The subtask that reads a partition (Flink's `KafkaSourceEnumerator.getSplitOwner`): a topic's
 * partitions go round-robin over the subtasks, starting at a subtask derived from the topic's name,
 * so several topics do not all start at subtask 0. A pure function of (topic, partition,
 * parallelism): the same partition always goes to the same subtask, whenever it is discovered.
 */
export function partitionOwner(topic: string, partition: number, parallelism: number): number {
  const startIndex = (Math.imul(javaStringHash(topic), 31) & 0x7fffffff) % parallelism;
  return (startIndex + partition) % parallelism;
}

/**
 * Discovers the partitions of the subscribed topics and assigns each, as a split at a concrete
 * offset, to the subtask {@link partitionOwner} names — Eddy's assignment, not a group
 * coordinator's.
 *
 * At start it connects (bounded by `connectionTimeoutMs`), checks that every listed topic (and the
 * dead-letter topic) exists, resolves each partition's starting offset (and, bounded, its end offset)
 * and assigns. Unbounded, it then looks for new partitions and, with a pattern, new topics every
 * `partitionDiscoveryIntervalMs`; they start from their earliest offset. A discovery that fails is
 * logged and tried again at the next interval (readers, not the enumerator, fail the job when the
 * cluster is gone). Bounded, every subtask is told after the first assignment that no more splits
 * will come.
 *
 * The checkpoint holds the set of assigned partitions: restored, the enumerator assigns only
 * partitions that are not in it (the readers' state holds the others, at their offsets). A checkpoint
 * taken before the first assignment (the first checkpoint can come while the enumerator still
 * connects) restores as a first start: from `startingOffsets`, and bounded, to the end offsets then.
 */
export class KafkaSplitEnumerator implements SplitEnumerator<KafkaPartitionSplit> {
  private admin: KafkaAdminClient | undefined = undefined;
  /** Split ids of every partition assigned so far (also those a reader finished). */
  private readonly assigned = new Map<string, readonly [topic: string, partition: number]>();
  /** Splits handed back by failed readers, by subtask, until that subtask's reader registers again. */
  private readonly returnedSplits = new Map<number, KafkaPartitionSplit[]>();
  /** Restored from a checkpoint taken after the first assignment: resume, don't start over. */
  private readonly isRestored: boolean;
  private isStarted = false;
  private isClosed = false;
  private discoveryTimer: ReturnType<typeof setTimeout> | undefined = undefined;
  private discovery: Promise<void> | undefined = undefined;

  constructor(
    private readonly context: SplitEnumeratorContext<KafkaPartitionSplit>,
    private readonly settings: KafkaEnumeratorSettings,
    restored?: EnumeratorCheckpoint<KafkaPartitionSplit>,
  ) {
    this.isRestored =
      restored !== undefined &&
      isKafkaEnumeratorState(restored.state) &&
      (restored.state.hasStarted ?? restored.state.assignedPartitions.length > 0);
    if (restored !== undefined && isKafkaEnumeratorState(restored.state)) {
      for (const [topic, partition] of restored.state.assignedPartitions) this.assigned.set(partitionSplitId(topic, partition), [topic, partition]);
      for (const split of restored.unassigned) this.returnSplit(split, partitionOwner(split.topic, split.partition, context.parallelism));
    }
  }

  async start(): Promise<void> {
    this.admin = await KafkaAdminClient.connect(this.settings.connection);
    await this.checkTopicsExist();
    // A restored bounded source reads only what it had at its first start: its readers' state.
    if (!(this.isRestored && this.settings.isBounded)) await this.discoverAndAssign(this.isRestored ? 'earliest' : this.settings.startingOffsets);
    this.isStarted = true;
    for (const [subtask, splits] of this.returnedSplits) {
      this.returnedSplits.delete(subtask);
      this.context.assignSplits(subtask, splits);
    }
    if (this.settings.isBounded) {
      for (let subtask = 0; subtask < this.context.parallelism; subtask++) this.context.signalNoMoreSplits(subtask);
    } else {
      this.scheduleDiscovery();
    }
  }

  addReader(subtask: number): void {
    if (!this.isStarted) return;
    const returned = this.returnedSplits.get(subtask);
    if (returned !== undefined) {
      this.returnedSplits.delete(subtask);
      this.context.assignSplits(subtask, returned);
    }
    if (this.settings.isBounded) this.context.signalNoMoreSplits(subtask);
  }

  addSplitsBack(splits: readonly KafkaPartitionSplit[], subtask: number): void {
    for (const split of splits) this.returnSplit(split, subtask);
  }

  handleSplitRequest(): void {
    // Push-based: partitions are assigned when discovered.
  }

  snapshotState(): EnumeratorCheckpoint<KafkaPartitionSplit> {
    const unassigned: KafkaPartitionSplit[] = [];
    for (const subtask of [...this.returnedSplits.keys()].sort((a, b) => a - b)) unassigned.push(...this.returnedSplits.get(subtask)!);
    const state: KafkaEnumeratorState = { assignedPartitions: [...this.assigned.values()], hasStarted: this.isStarted };
    return { unassigned, state };
  }

  async close(): Promise<void> {
    this.isClosed = true;
    if (this.discoveryTimer !== undefined) clearTimeout(this.discoveryTimer);
    this.discoveryTimer = undefined;
    await this.discovery;
    const admin = this.admin;
    this.admin = undefined;
    await admin?.close();
  }

  private returnSplit(split: KafkaPartitionSplit, subtask: number): void {
    const returned = this.returnedSplits.get(subtask);
    if (returned === undefined) this.returnedSplits.set(subtask, [split]);
    else returned.push(split);
  }

  private scheduleDiscovery(): void {
    const intervalMs = this.settings.partitionDiscoveryIntervalMs;
    if (intervalMs === 0 || this.isClosed) return;
    this.discoveryTimer = setTimeout(() => {
      this.discoveryTimer = undefined;
      // Failures are logged, never thrown: the promise settles before close() returns.
      this.discovery = this.discoverAndAssign('earliest')
        .catch((error: unknown) => {
          if (!this.isClosed) this.settings.connection.log(`kafka source: partition discovery failed, trying again in ${intervalMs} ms: ${describeError(error)}`);
        })
        .finally(() => {
          this.discovery = undefined;
          this.scheduleDiscovery();
        });
    }, intervalMs);
  }

  /** Listed topics must exist (a typo must not silently read nothing), and so must the dead-letter topic. */
  private async checkTopicsExist(): Promise<void> {
    const existing = new Set(await this.adminOrThrow().listTopics());
    const subscription = this.settings.subscription;
    if (subscription.kind === 'topics') {
      for (const topic of subscription.topics) {
        if (!existing.has(topic)) {
          throw new ConfigurationError(`topic '${topic}' does not exist (topics); create it or correct the name`);
        }
      }
    }
    const deadLetterTopic = this.settings.deadLetterTopic;
    if (deadLetterTopic !== undefined && !existing.has(deadLetterTopic)) {
      throw new ConfigurationError(
        `dead-letter topic '${deadLetterTopic}' does not exist (onPoisonRecord.deadLetterTopic); create it or correct the name`,
      );
    }
  }

  /** The subscribed topics that exist now. */
  private async subscribedTopics(): Promise<string[]> {
    const subscription = this.settings.subscription;
    const existing = await this.adminOrThrow().listTopics();
    if (subscription.kind === 'topics') {
      const names = new Set(existing);
      return subscription.topics.filter((topic) => names.has(topic));
    }
    return existing.filter((topic) => !INTERNAL_TOPICS.has(topic) && subscription.pattern.test(topic)).sort();
  }

  /** Finds partitions not assigned yet, resolves where each starts (and ends), and assigns them. */
  private async discoverAndAssign(startingOffsets: StartingOffsets): Promise<void> {
    const admin = this.adminOrThrow();
    const partitionsByTopic = await admin.partitionsOf(await this.subscribedTopics());
    const splits: KafkaPartitionSplit[] = [];
    for (const [topic, partitions] of [...partitionsByTopic].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const fresh = partitions.filter((partition) => !this.assigned.has(partitionSplitId(topic, partition)));
      if (fresh.length === 0) continue;
      splits.push(...(await this.resolveSplits(admin, topic, fresh, startingOffsets)));
    }
    if (this.isClosed || splits.length === 0) return;
    const parallelism = this.context.parallelism;
    const bySubtask = new Map<number, KafkaPartitionSplit[]>();
    for (const split of splits) {
      this.assigned.set(split.splitId, [split.topic, split.partition]);
      const owner = partitionOwner(split.topic, split.partition, parallelism);
      const owned = bySubtask.get(owner);
      if (owned === undefined) bySubtask.set(owner, [split]);
      else owned.push(split);
    }
    for (const subtask of [...bySubtask.keys()].sort((a, b) => a - b)) this.context.assignSplits(subtask, bySubtask.get(subtask)!);
  }

  /** One split per partition of `topic`, at its starting offset (and, bounded, its end offset). */
  private async resolveSplits(
    admin: KafkaAdminClient,
    topic: string,
    partitions: readonly number[],
    startingOffsets: StartingOffsets,
  ): Promise<KafkaPartitionSplit[]> {
    const ranges = await admin.offsetRanges(topic);
    let startAt: (partition: number, range: OffsetRange) => number;
    if (startingOffsets === 'earliest') {
      startAt = (_partition, range) => range.earliest;
    } else if (startingOffsets === 'latest') {
      startAt = (_partition, range) => range.latest;
    } else if ('committedOr' in startingOffsets) {
      const committed = await admin.committedOffsets(this.settings.groupId!, topic);
      const fallback = startingOffsets.committedOr;
      startAt = (partition, range) => committed.get(partition) ?? range[fallback];
    } else {
      const byTimestamp = await admin.offsetsForTimestamp(topic, startingOffsets.timestampMs);
      startAt = (partition, range) => byTimestamp.get(partition) ?? range.latest;
    }
    const splits: KafkaPartitionSplit[] = [];
    for (const partition of partitions) {
      const range = ranges.get(partition);
      if (range === undefined) throw new EddyError(`Kafka returned no offsets for partition ${partition} of topic '${topic}'`, { domain: 'external', isRetriable: true });
      // A committed offset may lie outside what the partition still holds: clamp it into the log.
      const nextOffset = Math.min(Math.max(startAt(partition, range), range.earliest), range.latest);
      splits.push({
        splitId: partitionSplitId(topic, partition),
        topic,
        partition,
        nextOffset,
        stoppingOffset: this.settings.isBounded ? range.latest : null,
      });
    }
    return splits;
  }

  private adminOrThrow(): KafkaAdminClient {
    if (this.admin === undefined) throw new EddyError('the Kafka split enumerator is not started');
    return this.admin;
  }
}

import { EddyError, describeError } from '../../src/core/errors.ts';
import { AvailabilitySignal } from '../base/availability-signal.ts';
import type { FetchedPartition } from './fetched-partition.ts';
import {
  isOffsetOutOfRange,
  isTransientKafkaError,
  outOfRangePartition,
  type FetchLimits,
  type KafkaFetchClient,
  type OffsetRange,
} from './kafka-client.ts';

/** A partition as the fetcher sees it; the reader's cursor is one. */
export interface FetchTarget {
  readonly topic: string;
  readonly partition: number;
  /** Where the next fetch starts. */
  readonly fetchOffset: number;
  /** Set by the fetcher while a fetch for it is in flight. */
  isFetching: boolean;
}

/** What the fetcher asks of its reader. Called on the reader's thread, between its own calls. */
export interface FetchPlanner {
  /** Whether the reader has any partition (the fetcher connects only once it has). */
  hasPartitions(): boolean;
  /** Topics of the reader's partitions. */
  topics(): readonly string[];
  /** Partitions to fetch now: not in flight, not at their stopping offset, with room in the reader's buffer. */
  fetchTargets(): readonly FetchTarget[];
  /** What a fetch for `target` (started at `fetched.fetchOffset`) brought. */
  accept(target: FetchTarget, fetched: FetchedPartition): void;
  /** `target`'s fetch offset is outside its log (`range`): continue at `offset`. */
  skipTo(target: FetchTarget, offset: number, range: OffsetRange): void;
}

/** The longest pause between attempts after errors; pauses double from 100 ms, with ±20 % jitter. */
const MAX_BACKOFF_MS = 5_000;
const MIN_BACKOFF_MS = 100;

/**
 * Fetches a reader's partitions in the background: one fetch in flight per leader node (so a quiet
 * node's long-poll never delays a busy one), each asking for the partitions that node leads at the
 * offsets the reader wants. It connects when the reader gets its first partition, and fetches only
 * while the reader has room (the reader's `fetchTargets` is empty when its buffer is full), so memory
 * stays bounded by the buffer plus one response per node.
 *
 * Errors: a moved leader, a lost connection or a timeout refreshes the metadata and tries again after
 * a pause (capped exponential backoff with jitter); an offset outside the log continues at the
 * earliest offset (if it was below) or the end (if above), which the reader logs; anything else, or
 * transient errors without a single successful fetch for `giveUpAfterMs`, stops the fetcher: {@link run}
 * rejects, and the reader fails the job with it (whose restart strategy decides what comes next).
 */
export class PartitionFetcher {
  private readonly wakeUp = new AvailabilitySignal();
  private readonly busyNodes = new Set<number>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly knownTopics = new Set<string>();
  private failure: unknown = undefined;
  private isClosed = false;
  private isRefreshing = false;
  private retryAtMs = 0;
  private backoffMs = 0;
  /** Start of the current run of failures; undefined after a success. */
  private failingSinceMs: number | undefined = undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined = undefined;

  constructor(
    private readonly client: KafkaFetchClient,
    private readonly planner: FetchPlanner,
    private readonly limits: FetchLimits,
    private readonly giveUpAfterMs: number,
  ) {}

  /** Wakes the loop: the reader added partitions or drained its buffer. Cheap; call freely. */
  wake(): void {
    this.wakeUp.notify();
  }

  /** Runs until {@link close}; rejects with the error that stopped fetching. */
  async run(): Promise<void> {
    while (!this.isClosed && !this.planner.hasPartitions()) await this.wakeUp.wait();
    if (this.isClosed) return;
    await this.client.connect();
    while (!this.isClosed) {
      if (this.failure !== undefined) throw this.failure;
      if (!this.isRefreshing && Date.now() >= this.retryAtMs) {
        const newTopics = this.planner.topics().filter((topic) => !this.knownTopics.has(topic));
        if (newTopics.length > 0) this.track(this.addTopics(newTopics));
        else this.startFetches();
      }
      await this.wakeUp.wait();
    }
  }

  /** Stops starting fetches; {@link settled} then waits for those in flight. */
  close(): void {
    this.isClosed = true;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.wakeUp.notify();
  }

  /** Resolves once no fetch or refresh is in flight (after {@link close}: none will start). */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private track(work: Promise<void>): void {
    this.inFlight.add(work);
    // `work` never rejects: every fetch and refresh handles its own errors.
    void work.finally(() => {
      this.inFlight.delete(work);
      this.wakeUp.notify();
    });
  }

  private async addTopics(topics: readonly string[]): Promise<void> {
    this.isRefreshing = true;
    try {
      await this.client.addTopics(topics);
      for (const topic of topics) this.knownTopics.add(topic);
    } catch (error) {
      if (!this.isClosed) await this.recover(error);
    } finally {
      this.isRefreshing = false;
    }
  }

  /** One fetch per idle leader node, for the partitions it leads; a missing leader refreshes metadata. */
  private startFetches(): void {
    const byNode = new Map<number, FetchTarget[]>();
    let isLeaderMissing = false;
    for (const target of this.planner.fetchTargets()) {
      const leader = this.client.leaderOf(target.topic, target.partition);
      if (leader === undefined) {
        isLeaderMissing = true;
        continue;
      }
      if (this.busyNodes.has(leader)) continue;
      const targets = byNode.get(leader);
      if (targets === undefined) byNode.set(leader, [target]);
      else targets.push(target);
    }
    for (const [nodeId, targets] of byNode) this.track(this.fetchFrom(nodeId, targets));
    // During a leader election: refresh the metadata, and pause new fetches (recover sets retryAtMs).
    if (isLeaderMissing) this.track(this.recover(new EddyError('no leader known for a partition', { domain: 'external', isRetriable: true })));
  }

  private async fetchFrom(nodeId: number, targets: readonly FetchTarget[]): Promise<void> {
    this.busyNodes.add(nodeId);
    for (const target of targets) target.isFetching = true;
    try {
      const requests = targets.map((target) => ({ topic: target.topic, partition: target.partition, offset: target.fetchOffset }));
      const fetched = await this.client.fetch(nodeId, requests, this.limits);
      if (this.isClosed) return;
      this.failingSinceMs = undefined;
      this.backoffMs = 0;
      for (const result of fetched) {
        const target = targets.find((candidate) => candidate.partition === result.partition && candidate.topic === result.topic);
        // A fetch for an offset the reader has since moved away from is stale.
        if (target !== undefined && target.fetchOffset === result.fetchOffset) this.planner.accept(target, result);
      }
    } catch (error) {
      if (!this.isClosed) await this.recover(error, targets);
    } finally {
      for (const target of targets) target.isFetching = false;
      this.busyNodes.delete(nodeId);
    }
  }

  /** Decides what an error means: skip to the log's bounds, retry after a pause, or stop. */
  private async recover(error: unknown, targets: readonly FetchTarget[] = []): Promise<void> {
    if (isOffsetOutOfRange(error)) {
      const where = outOfRangePartition(error);
      const target = targets.find((candidate) => candidate.topic === where?.topic && candidate.partition === where?.partition);
      if (target !== undefined) {
        try {
          const range = await this.client.offsetRange(target.topic, target.partition);
          if (!this.isClosed) this.planner.skipTo(target, target.fetchOffset < range.earliest ? range.earliest : range.latest, range);
          return;
        } catch (rangeError) {
          error = rangeError;
        }
      }
    }
    if (!isTransientKafkaError(error)) {
      this.failure = new EddyError(`fetching from Kafka failed: ${describeError(error)}`, { domain: 'external', isRetriable: true, cause: error });
      return;
    }
    const nowMs = Date.now();
    this.failingSinceMs ??= nowMs;
    if (nowMs - this.failingSinceMs >= this.giveUpAfterMs) {
      this.failure = new EddyError(
        `fetching from Kafka failed for ${Math.round((nowMs - this.failingSinceMs) / 1000)} s (requestTimeoutMs): ${describeError(error)}`,
        { domain: 'external', isRetriable: true, cause: error },
      );
      return;
    }
    this.client.forgetBrokerOf(error);
    this.backoffMs = Math.min(MAX_BACKOFF_MS, Math.max(MIN_BACKOFF_MS, this.backoffMs * 2));
    const delayMs = Math.round(this.backoffMs * (0.8 + Math.random() * 0.4));
    this.retryAtMs = nowMs + delayMs;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.wakeUp.notify();
    }, delayMs);
    try {
      await this.client.refreshMetadata();
    } catch {
      // The next attempt, after the pause, fails again or finds the cluster back.
    }
  }
}

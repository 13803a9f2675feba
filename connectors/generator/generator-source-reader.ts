import type { InputStatus, ReaderOutput, SourceReader } from '../../src/connector/source.ts';
import type { Clock } from '../../src/core/time.ts';
import { AvailabilitySignal } from '../base/availability-signal.ts';
import type { GeneratorSplit } from './generator-split.ts';
import { SeededRandom } from './seeded-random.ts';
import { TokenBucket } from './token-bucket.ts';

/** Records per batch without rate limit. */
export const MAX_RECORDS_PER_BATCH = 1000;

/**
 * What each generator reader is created with, resolved from {@link GeneratorSourceOptions} for one subtask.
 */
export interface GeneratorReaderOptions<T> {
  /** Number of records, or undefined for an unbounded stream. */
  readonly count: number | undefined;
  /** With a record's index, determines the `random` it is generated with. */
  readonly seed: number;
  /**
   * Builds record `index`; must be a pure function of its arguments so that a restore replays the same
   * records.
   */
  readonly generate: (index: number, random: SeededRandom) => T;
  /** Records per second for each split, or undefined for no limit. */
  readonly ratePerSplitPerSecond: number | undefined;
  readonly clock: Clock;
}

/**
 * Records per batch: 1000 without rate limit; with one, about 100 ms worth of a split's rate (at least
 * 1), so rate-limited output arrives in small steps. Depends on the configuration only.
 */
export function batchSizeFor(ratePerSplitPerSecond: number | undefined): number {
  if (ratePerSplitPerSecond === undefined) return MAX_RECORDS_PER_BATCH;
  return Math.max(1, Math.min(MAX_RECORDS_PER_BATCH, Math.floor(ratePerSplitPerSecond / 10)));
}

class GeneratorSplitCursor {
  readonly splitId: string;
  readonly splitIndex: number;
  readonly splitCount: number;
  nextIndex: number;
  /** Index of the last emitted record of this split, or -1. */
  lastIndex = -1;
  readonly bucket: TokenBucket | undefined;

  constructor(split: GeneratorSplit, bucket: TokenBucket | undefined) {
    this.splitId = split.splitId;
    this.splitIndex = split.splitIndex;
    this.splitCount = split.splitCount;
    this.nextIndex = split.nextIndex;
    this.bucket = bucket;
  }
}

/**
 * Generates its splits' records, one batch per poll, taking its splits in turn. A batch of split k of n
 * is the next records up to an ordinal (position within the split, (index − k) / n) that is a multiple of
 * the batch size, so batch boundaries depend on configuration and index alone — also after a restore at
 * any point. With a rate limit, each split has a token bucket on the (injectable) clock holding
 * at most one second of its rate; a batch is emitted only when the bucket holds the whole batch, and
 * `isAvailable` resolves when the first bucket will.
 */
export class GeneratorSourceReader<T> implements SourceReader<T, GeneratorSplit> {
  private readonly count: number | undefined;
  private readonly seed: number;
  private readonly generate: (index: number, random: SeededRandom) => T;
  private readonly ratePerSplitPerSecond: number | undefined;
  private readonly clock: Clock;
  private readonly batchSize: number;
  private readonly random = new SeededRandom(0);
  private readonly splits: GeneratorSplitCursor[] = [];
  private readonly cursorsById = new Map<string, GeneratorSplitCursor>();
  /** Position in `splits` of the split whose turn it is. */
  private turn = 0;
  private hasNoMoreSplits = false;
  private readonly availability = new AvailabilitySignal();
  private availabilityTimer: ReturnType<typeof setTimeout> | undefined = undefined;

  constructor(options: GeneratorReaderOptions<T>) {
    this.count = options.count;
    this.seed = options.seed;
    this.generate = options.generate;
    this.ratePerSplitPerSecond = options.ratePerSplitPerSecond;
    this.clock = options.clock;
    this.batchSize = batchSizeFor(options.ratePerSplitPerSecond);
  }

  async start(): Promise<void> {
    // Nothing to open.
  }

  addSplits(splits: readonly GeneratorSplit[]): void {
    const rate = this.ratePerSplitPerSecond;
    for (const split of splits) {
      const bucket =
        rate === undefined
          ? undefined
          : new TokenBucket(rate, Math.max(this.batchSize, rate), this.clock, this.batchSize);
      const cursor = new GeneratorSplitCursor(split, bucket);
      this.splits.push(cursor);
      this.cursorsById.set(split.splitId, cursor);
    }
    this.notifyAvailable();
  }

  notifyNoMoreSplits(): void {
    this.hasNoMoreSplits = true;
    this.notifyAvailable();
  }

  pollNext(output: ReaderOutput<T>): InputStatus {
    this.finishExhaustedSplits(output);
    const splitCount = this.splits.length;
    if (splitCount === 0) return this.hasNoMoreSplits ? 'end-of-input' : 'nothing-available';
    for (let attempt = 0; attempt < splitCount; attempt++) {
      const position = (this.turn + attempt) % splitCount;
      const cursor = this.splits[position]!;
      const size = this.nextBatchSize(cursor);
      if (cursor.bucket !== undefined && !cursor.bucket.tryAcquire(size)) continue;
      this.turn = position + 1;
      this.emitBatch(cursor, size, output);
      this.finishExhaustedSplits(output);
      return this.status();
    }
    return 'nothing-available';
  }

  isAvailable(): Promise<void> {
    if (this.status() !== 'nothing-available') return Promise.resolve();
    const waiting = this.availability.wait();
    if (this.splits.length > 0 && this.availabilityTimer === undefined) {
      let waitMs = Number.POSITIVE_INFINITY;
      for (const cursor of this.splits) {
        if (cursor.bucket !== undefined) waitMs = Math.min(waitMs, cursor.bucket.msUntilAvailable(this.nextBatchSize(cursor)));
      }
      if (Number.isFinite(waitMs)) {
        this.availabilityTimer = setTimeout(() => {
          this.availabilityTimer = undefined;
          this.availability.notify();
        }, Math.max(1, waitMs));
      }
    }
    return waiting;
  }

  describeLastRecord(splitId: string): string {
    const cursor = this.cursorsById.get(splitId);
    if (cursor === undefined || cursor.lastIndex < 0) return `generator split ${splitId}`;
    return `generator split ${splitId}, record ${cursor.lastIndex}`;
  }

  snapshotState(): GeneratorSplit[] {
    const state: GeneratorSplit[] = [];
    for (const cursor of this.splits) {
      state.push({
        splitId: cursor.splitId,
        splitIndex: cursor.splitIndex,
        splitCount: cursor.splitCount,
        nextIndex: cursor.nextIndex,
      });
    }
    return state;
  }

  async close(): Promise<void> {
    if (this.availabilityTimer !== undefined) clearTimeout(this.availabilityTimer);
    this.availabilityTimer = undefined;
    this.availability.notify();
  }

  /** What the next `pollNext` will do without waiting. */
  private status(): InputStatus {
    if (this.splits.length === 0) return this.hasNoMoreSplits ? 'end-of-input' : 'nothing-available';
    for (const cursor of this.splits) {
      if (this.isExhausted(cursor)) return 'more-available';
      if (cursor.bucket === undefined || cursor.bucket.msUntilAvailable(this.nextBatchSize(cursor)) === 0) {
        return 'more-available';
      }
    }
    return 'nothing-available';
  }

  private notifyAvailable(): void {
    if (this.availabilityTimer !== undefined) clearTimeout(this.availabilityTimer);
    this.availabilityTimer = undefined;
    this.availability.notify();
  }

  private isExhausted(cursor: GeneratorSplitCursor): boolean {
    return this.count !== undefined && cursor.nextIndex >= this.count;
  }

  /** Records from `nextIndex` to the next ordinal that is a multiple of the batch size (or the end). */
  private nextBatchSize(cursor: GeneratorSplitCursor): number {
    const ordinal = (cursor.nextIndex - cursor.splitIndex) / cursor.splitCount;
    let size = this.batchSize - (ordinal % this.batchSize);
    if (this.count !== undefined) {
      const remaining = Math.ceil((this.count - cursor.nextIndex) / cursor.splitCount);
      if (remaining < size) size = remaining;
    }
    return size;
  }

  /** The hot path: `size` records, the position advancing before each emit. */
  private emitBatch(cursor: GeneratorSplitCursor, size: number, output: ReaderOutput<T>): void {
    const random = this.random;
    const seed = this.seed;
    const generate = this.generate;
    const step = cursor.splitCount;
    const splitId = cursor.splitId;
    for (let i = 0; i < size; i++) {
      const index = cursor.nextIndex;
      cursor.nextIndex = index + step;
      cursor.lastIndex = index;
      random.reset(seed, index);
      output.collect(splitId, generate(index, random), Number.NaN);
    }
  }

  private finishExhaustedSplits(output: ReaderOutput<T>): void {
    if (this.count === undefined) return;
    for (let position = 0; position < this.splits.length; ) {
      const cursor = this.splits[position]!;
      if (!this.isExhausted(cursor)) {
        position++;
        continue;
      }
      this.splits.splice(position, 1);
      if (this.turn > position) this.turn--;
      output.finishSplit(cursor.splitId);
    }
  }
}


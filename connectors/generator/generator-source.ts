import type {
  EnumeratorCheckpoint,
  Source,
  SourceReader,
  SourceReaderContext,
  SplitEnumerator,
  SplitEnumeratorContext,
} from '../../src/connector/source.ts';
import { ConfigurationError } from '../../src/core/errors.ts';
import { systemClock } from '../../src/core/time.ts';
import type { Clock } from '../../src/core/time.ts';
import { StaticSplitEnumerator } from '../base/static-split-enumerator.ts';
import { GeneratorSourceReader } from './generator-source-reader.ts';
import type { GeneratorSplit } from './generator-split.ts';
import type { SeededRandom } from './seeded-random.ts';

/**
 * Options of the generator source: a deterministic sequence of records, built from their index, split over
 * `splits` splits. The same options always produce the same records, also after a restore.
 */
export interface GeneratorSourceOptions<T> {
  /** Number of records (indices 0 … count−1); undefined for an unbounded stream. */
  readonly count?: number;
  /** Number of splits, default 4. Split k generates the indices i ≡ k (mod splits). */
  readonly splits?: number;
  /** Total records per second over all splits (each split gets an equal share); default: no limit. */
  readonly ratePerSecond?: number;
  /** Default 0. With the index, determines the `random` each record is generated with. */
  readonly seed?: number;
  /**
   * Builds record `index`. Must depend only on `index` and `random` (valid only during the call; it is
   * reused for the next record), so that output is the same at any parallelism and after any restore.
   */
  readonly generate: (index: number, random: SeededRandom) => T;
  /** Processing-time clock for the rate limit; default the system clock. For tests. */
  readonly clock?: Clock;
}

/**
 * Generates records `generate(0)`, `generate(1)`, … split over `splits` splits, dealt out statically
 * like files. Record `index`'s content depends only on (seed, index), and batch boundaries only on the
 * configuration and the index, so output — and watermarks — are identical whatever the parallelism and
 * wherever the job was restored. With `ratePerSecond`, output is paced by a token bucket per split on
 * processing time; pacing changes when records appear, never what they are.
 */
export class GeneratorSource<T> implements Source<T, GeneratorSplit> {
  readonly boundedness: 'bounded' | 'unbounded';
  readonly watermarkEmission = 'per-batch';
  readonly count: number | undefined;
  readonly splitCount: number;
  readonly ratePerSecond: number | undefined;
  readonly seed: number;
  private readonly generate: (index: number, random: SeededRandom) => T;
  private readonly clock: Clock;

  constructor(options: GeneratorSourceOptions<T>) {
    const { count, ratePerSecond } = options;
    const splitCount = options.splits ?? 4;
    const seed = options.seed ?? 0;
    if (count !== undefined && (!Number.isSafeInteger(count) || count < 0)) {
      throw new ConfigurationError(`generatorSource count must be a non-negative integer (or omitted for unbounded), got ${count}`);
    }
    if (!Number.isSafeInteger(splitCount) || splitCount < 1 || splitCount > 1_000_000) {
      throw new ConfigurationError(`generatorSource splits must be an integer from 1 to 1000000, got ${splitCount}`);
    }
    if (ratePerSecond !== undefined && !(Number.isFinite(ratePerSecond) && ratePerSecond > 0)) {
      throw new ConfigurationError(`generatorSource ratePerSecond must be > 0 (or omitted for no limit), got ${ratePerSecond}`);
    }
    if (!Number.isSafeInteger(seed)) throw new ConfigurationError(`generatorSource seed must be a safe integer, got ${seed}`);
    if (typeof options.generate !== 'function') {
      throw new ConfigurationError('generatorSource needs generate: (index, random) => record');
    }
    this.boundedness = count === undefined ? 'unbounded' : 'bounded';
    this.count = count;
    this.splitCount = splitCount;
    this.ratePerSecond = ratePerSecond;
    this.seed = seed;
    this.generate = options.generate;
    this.clock = options.clock ?? systemClock;
  }

  createEnumerator(
    context: SplitEnumeratorContext<GeneratorSplit>,
    restored?: EnumeratorCheckpoint<GeneratorSplit>,
  ): SplitEnumerator<GeneratorSplit> {
    return new StaticSplitEnumerator(context, async () => this.initialSplits(), restored);
  }

  createReader(_context: SourceReaderContext): SourceReader<T, GeneratorSplit> {
    return new GeneratorSourceReader<T>({
      count: this.count,
      seed: this.seed,
      generate: this.generate,
      ratePerSplitPerSecond: this.ratePerSecond === undefined ? undefined : this.ratePerSecond / this.splitCount,
      clock: this.clock,
    });
  }

  describe(): string {
    const count = this.count === undefined ? 'unbounded' : `count=${this.count}`;
    const rate = this.ratePerSecond === undefined ? '' : `, ${this.ratePerSecond}/s`;
    return `generator(${count}, splits=${this.splitCount}${rate})`;
  }

  /** Split k of n, positioned at its first index k. */
  initialSplits(): GeneratorSplit[] {
    const splits: GeneratorSplit[] = [];
    for (let k = 0; k < this.splitCount; k++) {
      splits.push({ splitId: `generator-${k}-of-${this.splitCount}`, splitIndex: k, splitCount: this.splitCount, nextIndex: k });
    }
    return splits;
  }
}

/** A generator source; see {@link GeneratorSource}. */
export function generatorSource<T>(options: GeneratorSourceOptions<T>): GeneratorSource<T> {
  return new GeneratorSource<T>(options);
}

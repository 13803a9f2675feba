import { ConfigurationError } from '../core/errors.ts';
import { formatDuration } from '../core/duration.ts';
import { MIN_WATERMARK, type Clock } from '../core/time.ts';

/**
 * How a source derives event time and watermarks: a timestamp assigner (record ▶ epoch ms) and a
 * watermark generator, created once per split. Flink's semantics:
 * - bounded out-of-orderness d: watermark = max timestamp seen − d − 1 (a record with timestamp
 *   ≤ watermark is late);
 * - monotonous timestamps: d = 0;
 * - `withIdleness(t)`: a split with no record for t of processing time is idle and does not hold the
 *   watermark back, until it receives a record again.
 * Generators emit on `onEvent` (punctuated) or `onPeriodicEmit`; the source operator calls
 * `onPeriodicEmit` after every batch (deterministic sources) or on a tick (unbounded sources).
 */
export interface WatermarkOutput {
  emitWatermark(watermarkMs: number): void;
  markIdle(): void;
  markActive(): void;
}

/**
 * Derives watermarks from the records of one split. One instance per split; called only from the source's
 * task.
 */
export interface WatermarkGenerator<T> {
  onEvent(event: T, timestampMs: number, output: WatermarkOutput): void;
  onPeriodicEmit(output: WatermarkOutput): void;
}

/** Extracts a record's event time. `sourceTimestampMs` is what the source carries (Kafka), or NaN. */
export type TimestampAssigner<T> = (event: T, sourceTimestampMs: number) => number;

/** What a watermark generator is created with. */
export interface WatermarkGeneratorContext {
  readonly clock: Clock;
}

type GeneratorFactory<T> = (context: WatermarkGeneratorContext) => WatermarkGenerator<T>;

const useSourceTimestamp: TimestampAssigner<unknown> = (_event, sourceTimestampMs) => sourceTimestampMs;

/**
 * Immutable: every `with…` method returns a new strategy. Build one with the static factories; see the
 * overview above.
 */
export class WatermarkStrategy<T> {
  private constructor(
    private readonly generatorFactory: GeneratorFactory<T>,
    readonly timestampAssigner: TimestampAssigner<T>,
    /** Idle timeout in ms, or undefined for never idle. */
    readonly idleTimeoutMs: number | undefined,
    /** Short description for plans and errors. */
    readonly description: string,
    /** False for {@link noWatermarks}: records may carry no event time (NaN). */
    readonly hasEventTime: boolean = true,
  ) {}

  /** Watermark = max timestamp seen − `maxOutOfOrdernessMs` − 1. */
  static forBoundedOutOfOrderness<T>(maxOutOfOrdernessMs: number): WatermarkStrategy<T> {
    if (!Number.isInteger(maxOutOfOrdernessMs) || maxOutOfOrdernessMs < 0) {
      throw new ConfigurationError(
        `out-of-orderness must be a whole number of milliseconds ≥ 0, got ${maxOutOfOrdernessMs}`,
      );
    }
    return new WatermarkStrategy<T>(
      () => new BoundedOutOfOrdernessGenerator<T>(maxOutOfOrdernessMs),
      useSourceTimestamp as TimestampAssigner<T>,
      undefined,
      `bounded out-of-orderness ${formatDuration(maxOutOfOrdernessMs)}`,
    );
  }

  /** Timestamps never decrease: watermark = max timestamp seen − 1. */
  static forMonotonousTimestamps<T>(): WatermarkStrategy<T> {
    const strategy = WatermarkStrategy.forBoundedOutOfOrderness<T>(0);
    return new WatermarkStrategy<T>(strategy.generatorFactory, strategy.timestampAssigner, undefined, 'monotonous');
  }

  /** No event time: records carry NaN unless an assigner is set; only end of input emits the max watermark. */
  static noWatermarks<T>(): WatermarkStrategy<T> {
    return new WatermarkStrategy<T>(
      () => ({ onEvent: () => {}, onPeriodicEmit: () => {} }),
      () => Number.NaN,
      undefined,
      'no watermarks',
      false,
    );
  }

  /** A custom generator (punctuated or periodic), created once per split. */
  static forGenerator<T>(factory: (context: WatermarkGeneratorContext) => WatermarkGenerator<T>): WatermarkStrategy<T> {
    if (typeof factory !== 'function') {
      throw new ConfigurationError('WatermarkStrategy.forGenerator needs a function that creates a WatermarkGenerator');
    }
    return new WatermarkStrategy<T>(factory, useSourceTimestamp as TimestampAssigner<T>, undefined, 'custom generator');
  }

  withTimestampAssigner(assigner: TimestampAssigner<T>): WatermarkStrategy<T> {
    if (typeof assigner !== 'function') {
      throw new ConfigurationError('withTimestampAssigner needs a function (event, sourceTimestampMs) => epoch ms');
    }
    return new WatermarkStrategy<T>(this.generatorFactory, assigner, this.idleTimeoutMs, this.description, true);
  }

  /** A split with no record for `idleTimeoutMs` of processing time stops holding the watermark back. */
  withIdleness(idleTimeoutMs: number): WatermarkStrategy<T> {
    if (!Number.isInteger(idleTimeoutMs) || idleTimeoutMs <= 0) {
      throw new ConfigurationError(`idle timeout must be a whole number of milliseconds > 0, got ${idleTimeoutMs}`);
    }
    return new WatermarkStrategy<T>(
      this.generatorFactory,
      this.timestampAssigner,
      idleTimeoutMs,
      `${this.description}, idle after ${formatDuration(idleTimeoutMs)}`,
      this.hasEventTime,
    );
  }

  createWatermarkGenerator(context: WatermarkGeneratorContext): WatermarkGenerator<T> {
    const generator = this.generatorFactory(context);
    if (this.idleTimeoutMs === undefined) return generator;
    return new IdlenessDetectingGenerator<T>(generator, context.clock, this.idleTimeoutMs);
  }
}

/** Flink's BoundedOutOfOrdernessWatermarks: periodic emission of max timestamp − d − 1. */
export class BoundedOutOfOrdernessGenerator<T> implements WatermarkGenerator<T> {
  private maxTimestampMs: number;

  constructor(private readonly maxOutOfOrdernessMs: number) {
    // Start so that the first emitted watermark is MIN_WATERMARK, without underflow.
    this.maxTimestampMs = MIN_WATERMARK + maxOutOfOrdernessMs + 1;
  }

  onEvent(_event: T, timestampMs: number): void {
    if (timestampMs > this.maxTimestampMs) this.maxTimestampMs = timestampMs;
  }

  onPeriodicEmit(output: WatermarkOutput): void {
    output.emitWatermark(this.maxTimestampMs - this.maxOutOfOrdernessMs - 1);
  }
}

/** Flink's WatermarksWithIdleness: idle after a processing-time span with no event; active on the next one. */
export class IdlenessDetectingGenerator<T> implements WatermarkGenerator<T> {
  private lastEventAtMs: number;
  private isIdle = false;

  constructor(
    private readonly inner: WatermarkGenerator<T>,
    private readonly clock: Clock,
    private readonly idleTimeoutMs: number,
  ) {
    this.lastEventAtMs = clock.now();
  }

  onEvent(event: T, timestampMs: number, output: WatermarkOutput): void {
    this.lastEventAtMs = this.clock.now();
    if (this.isIdle) {
      this.isIdle = false;
      output.markActive();
    }
    this.inner.onEvent(event, timestampMs, output);
  }

  onPeriodicEmit(output: WatermarkOutput): void {
    if (this.isIdle) return;
    if (this.clock.now() - this.lastEventAtMs >= this.idleTimeoutMs) {
      this.isIdle = true;
      output.markIdle();
      return;
    }
    this.inner.onPeriodicEmit(output);
  }
}

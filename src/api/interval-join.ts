import { ConfigurationError } from '../core/errors.ts';
import type { OutputTag } from '../core/output-tag.ts';
import { IntervalJoinOperator, type IntervalJoinOptions } from '../operators/interval-join-operator.ts';
import { checkObject, SingleOutputStream, type KeyedStream } from './data-stream.ts';
import type { ProcessJoinFunction } from './functions.ts';

/**
 * `left.intervalJoin(right).between(lowerMs, upperMs).process(fn)`: pairs each left record with the
 * right records of the same key whose timestamp lies in `[left.ts + lowerMs, left.ts + upperMs]`
 * (bounds inclusive unless made exclusive). Event time only. Late records (timestamp ≤ the
 * operator's watermark) go to the late side outputs if set, else are counted as dropped; records
 * that never joined can be sent to the unmatched side outputs.
 */
export class IntervalJoin<K, L, R> {
  constructor(
    private readonly left: KeyedStream<K, L>,
    private readonly right: KeyedStream<K, R>,
  ) {}

  /**
   * Sets the interval, in ms relative to the left record's timestamp (bounds may be negative). Throws
   * ConfigurationError unless both are whole numbers and lower ≤ upper.
   */
  between(lowerBoundMs: number, upperBoundMs: number): IntervalJoined<K, L, R> {
    if (!Number.isSafeInteger(lowerBoundMs) || !Number.isSafeInteger(upperBoundMs)) {
      throw new ConfigurationError(
        `interval join bounds must be whole milliseconds, got [${lowerBoundMs}, ${upperBoundMs}]`,
      );
    }
    if (lowerBoundMs > upperBoundMs) {
      throw new ConfigurationError(
        `interval join lower bound must be ≤ upper bound, got [${lowerBoundMs}, ${upperBoundMs}]`,
      );
    }
    return new IntervalJoined<K, L, R>(this.left, this.right, lowerBoundMs, upperBoundMs);
  }
}

/**
 * An interval join with its bounds set (from {@link IntervalJoin.between}): optionally make bounds exclusive,
 * set lateness and side outputs, then call `process`. Build-time only: every setter returns `this`.
 */
export class IntervalJoined<K, L, R> {
  private isLowerBoundInclusive = true;
  private isUpperBoundInclusive = true;
  private allowedLatenessMs = 0;
  private leftLateTag: OutputTag<L> | undefined;
  private rightLateTag: OutputTag<R> | undefined;
  private leftUnmatchedTag: OutputTag<L> | undefined;
  private rightUnmatchedTag: OutputTag<R> | undefined;

  constructor(
    private readonly left: KeyedStream<K, L>,
    private readonly right: KeyedStream<K, R>,
    private readonly lowerBoundMs: number,
    private readonly upperBoundMs: number,
  ) {}

  /** Excludes `left.ts + lowerMs` from the interval. */
  lowerBoundExclusive(): this {
    this.isLowerBoundInclusive = false;
    return this;
  }

  /** Excludes `left.ts + upperMs` from the interval. */
  upperBoundExclusive(): this {
    this.isUpperBoundInclusive = false;
    return this;
  }

  /**
   * Records up to this much behind the watermark still join (and are kept that much longer in the
   * buffers); unmatched records are emitted that much later. Default 0.
   */
  allowedLateness(lateness: number): this {
    if (!Number.isSafeInteger(lateness) || lateness < 0) {
      throw new ConfigurationError(`allowed lateness must be a whole number of milliseconds ≥ 0, got ${lateness}`);
    }
    this.allowedLatenessMs = lateness;
    return this;
  }

  /**
   * Late left records (`ts + allowed lateness ≤ watermark`) go to `tag` instead of being counted as dropped.
   */
  sideOutputLeftLateData(tag: OutputTag<L>): this {
    this.leftLateTag = tag;
    return this;
  }

  /** Late right records go to `tag` instead of being counted as dropped. */
  sideOutputRightLateData(tag: OutputTag<R>): this {
    this.rightLateTag = tag;
    return this;
  }

  /**
   * Left records that joined no right record, emitted once the watermark reaches their cleanup time,
   * `max(ts, ts + upper) + allowed lateness`: no right record can join them after that.
   */
  sideOutputLeftUnmatched(tag: OutputTag<L>): this {
    this.leftUnmatchedTag = tag;
    return this;
  }

  /** Right records that joined no left record, emitted at `max(ts, ts − lower) + allowed lateness`. */
  sideOutputRightUnmatched(tag: OutputTag<R>): this {
    this.rightUnmatchedTag = tag;
    return this;
  }

  /** Needs a uid (both sides are buffered in keyed state). */
  process<OUT>(joinFunction: ProcessJoinFunction<L, R, OUT>): SingleOutputStream<OUT> {
    checkObject(joinFunction, 'process', 'processElement');
    const lower = this.isLowerBoundInclusive ? this.lowerBoundMs : this.lowerBoundMs + 1;
    const upper = this.isUpperBoundInclusive ? this.upperBoundMs : this.upperBoundMs - 1;
    if (lower > upper) {
      throw new ConfigurationError(
        `interval join: the bounds [${this.lowerBoundMs}, ${this.upperBoundMs}] with exclusive ends contain no millisecond`,
      );
    }
    const options: IntervalJoinOptions<L, R> = {
      leftKeySelector: this.left.keySelector as (value: L) => unknown,
      rightKeySelector: this.right.keySelector as (value: R) => unknown,
      lowerBoundMs: this.lowerBoundMs,
      upperBoundMs: this.upperBoundMs,
      isLowerBoundInclusive: this.isLowerBoundInclusive,
      isUpperBoundInclusive: this.isUpperBoundInclusive,
      allowedLatenessMs: this.allowedLatenessMs,
      leftLateTag: this.leftLateTag,
      rightLateTag: this.rightLateTag,
      leftUnmatchedTag: this.leftUnmatchedTag,
      rightUnmatchedTag: this.rightUnmatchedTag,
    };
    const env = this.left.env;
    const node = env.addNode({
      kind: 'interval-join',
      name: `IntervalJoin[${this.lowerBoundMs}, ${this.upperBoundMs}]`,
      isStateful: true,
      numInputs: 2,
      createOperator: () => new IntervalJoinOperator<L, R, OUT>(options, joinFunction),
    });
    this.left.connectTo(node, 0);
    this.right.connectTo(node, 1);
    return new SingleOutputStream<OUT>(env, node);
  }
}

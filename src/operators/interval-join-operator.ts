import { assignToKeyGroup } from '../core/key-group.ts';
import type { KeySelector, ProcessJoinFunction } from '../api/functions.ts';
import type { OutputTag } from '../core/output-tag.ts';
import { MIN_WATERMARK } from '../core/time.ts';
import { mapState, type MapStateDescriptor } from '../state/descriptors.ts';
import type { NamespaceCodec, Timer } from '../state/keyed-state-backend.ts';
import type { MapState } from '../state/state.ts';
import type { InternalTimerService, Triggerable } from '../time/timer-service.ts';
import { instantiateFunction, runtimeContextOf, TimestampedCollector, UserFunctionContext } from './function-contexts.ts';
import { OperatorBase } from './operator-base.ts';

/**
 * Configuration of an {@link IntervalJoinOperator}, built by `IntervalJoined.process`; bounds in ms relative
 * to the left record's timestamp.
 */
export interface IntervalJoinOptions<L, R> {
  readonly leftKeySelector: KeySelector<L, unknown>;
  readonly rightKeySelector: KeySelector<R, unknown>;
  /** A right record joins a left one iff `left.ts + lowerBoundMs ≤ right.ts ≤ left.ts + upperBoundMs`. */
  readonly lowerBoundMs: number;
  readonly upperBoundMs: number;
  readonly isLowerBoundInclusive: boolean;
  readonly isUpperBoundInclusive: boolean;
  /**
   * A record is late only when `ts + allowedLatenessMs ≤ watermark`; buffered records are kept that
   * much longer, so a late record within the allowance still joins. Default 0 (Flink's behaviour).
   */
  readonly allowedLatenessMs?: number;
  readonly leftLateTag: OutputTag<L> | undefined;
  readonly rightLateTag: OutputTag<R> | undefined;
  /** Left records that joined nothing, emitted once no right record can join them any more. */
  readonly leftUnmatchedTag: OutputTag<L> | undefined;
  readonly rightUnmatchedTag: OutputTag<R> | undefined;
}

/** One buffered record and whether it has joined anything yet. */
interface Buffered<T> {
  readonly value: T;
  isJoined: boolean;
}

type Side = 'left' | 'right';

const sideCodec: NamespaceCodec<Side> = {
  idOf: (side) => side,
  toPlain: (side) => side,
  fromPlain: (plain) => (plain === 'right' ? 'right' : 'left'),
};

/**
 * Flink's interval join: both sides are buffered per key in map state (timestamp ▶ records); each
 * arriving record is joined with the buffered records of the other side whose timestamps fall in the
 * interval, and the pair is emitted with timestamp max(left, right). A buffered record is removed by
 * an event-time timer once the watermark guarantees no future partner (left: at `ts + upper`, right:
 * at `ts − lower`, plus the allowed lateness); at that moment a record that joined nothing goes to the
 * unmatched side output if one is set. A record with `ts + allowedLateness ≤ watermark` is late: it
 * goes to the side's late output if set, else it is counted as dropped — never lost silently.
 */
export class IntervalJoinOperator<L, R, OUT> extends OperatorBase<OUT> implements Triggerable<Side> {
  private function!: ProcessJoinFunction<L, R, OUT>;
  private functionContext!: UserFunctionContext<unknown>;
  private collector!: TimestampedCollector<OUT>;
  private leftBuffer!: MapState<number, Array<Buffered<L>>>;
  private rightBuffer!: MapState<number, Array<Buffered<R>>>;
  private timers!: InternalTimerService<Side>;
  private readonly lowerBoundMs: number;
  private readonly upperBoundMs: number;
  private readonly allowedLatenessMs: number;

  constructor(
    private readonly options: IntervalJoinOptions<L, R>,
    private readonly userFunction: ProcessJoinFunction<L, R, OUT>,
  ) {
    super(2, true);
    // Exclusive bounds become inclusive ones on integer milliseconds.
    this.lowerBoundMs = options.isLowerBoundInclusive ? options.lowerBoundMs : options.lowerBoundMs + 1;
    this.upperBoundMs = options.isUpperBoundInclusive ? options.upperBoundMs : options.upperBoundMs - 1;
    this.allowedLatenessMs = options.allowedLatenessMs ?? 0;
  }

  override open(): void {
    this.leftBuffer = this.backend.getMapState(
      mapState<number, Array<Buffered<L>>>('interval-join-left') as MapStateDescriptor<number, Array<Buffered<L>>>,
    );
    this.rightBuffer = this.backend.getMapState(
      mapState<number, Array<Buffered<R>>>('interval-join-right') as MapStateDescriptor<number, Array<Buffered<R>>>,
    );
    this.timers = this.getInternalTimerService('interval-join-cleanup', sideCodec, this);
    this.collector = new TimestampedCollector(this.output, this.metrics);
    this.functionContext = new UserFunctionContext(this.context, () => this.currentWatermark, this.backend, undefined);
    this.function = instantiateFunction(this.userFunction);
    this.function.open?.(runtimeContextOf(this.context));
  }

  /** Reads ahead (RocksDB) both buffers of each record's key: a record probes the other side's buffer. */
  prefetch(values: readonly unknown[], timestamps: ArrayLike<number>, length: number, input: number): Promise<void> | undefined {
    return this.prefetchBatch(values, timestamps, length, (value, _timestampMs, backend) => {
      const key = input === 0 ? this.options.leftKeySelector(value as L) : this.options.rightKeySelector(value as R);
      backend.prefetchKey!(key, assignToKeyGroup(key, backend.maxParallelism));
    });
  }

  processRecord(value: unknown, timestampMs: number, input: number): void {
    this.metrics.recordsIn++;
    if (Number.isNaN(timestampMs)) {
      throw new TypeError(
        'interval join needs event time: the record has no timestamp (set a timestamp assigner in the WatermarkStrategy)',
      );
    }
    if (input === 0) {
      this.backend.setCurrentKey(this.options.leftKeySelector(value as L));
      this.processLeft(value as L, timestampMs);
    } else {
      this.backend.setCurrentKey(this.options.rightKeySelector(value as R));
      this.processRight(value as R, timestampMs);
    }
  }

  private isLate(timestampMs: number): boolean {
    return this.currentWatermark !== MIN_WATERMARK && timestampMs + this.allowedLatenessMs <= this.currentWatermark;
  }

  private processLeft(value: L, timestampMs: number): void {
    if (this.isLate(timestampMs)) {
      this.routeLate(this.options.leftLateTag, value, timestampMs);
      return;
    }
    const entry: Buffered<L> = { value, isJoined: false };
    for (const [rightTs, rights] of this.rightBuffer.entries()) {
      if (rightTs < timestampMs + this.lowerBoundMs || rightTs > timestampMs + this.upperBoundMs) continue;
      for (const right of rights) {
        entry.isJoined = true;
        right.isJoined = true;
        this.emit(value, right.value, timestampMs, rightTs);
      }
      this.rightBuffer.put(rightTs, rights);
    }
    this.append(this.leftBuffer, timestampMs, entry);
    const cleanupMs = (this.upperBoundMs > 0 ? timestampMs + this.upperBoundMs : timestampMs) + this.allowedLatenessMs;
    this.timers.registerEventTimeTimer('left', cleanupMs);
  }

  private processRight(value: R, timestampMs: number): void {
    if (this.isLate(timestampMs)) {
      this.routeLate(this.options.rightLateTag, value, timestampMs);
      return;
    }
    const entry: Buffered<R> = { value, isJoined: false };
    for (const [leftTs, lefts] of this.leftBuffer.entries()) {
      if (timestampMs < leftTs + this.lowerBoundMs || timestampMs > leftTs + this.upperBoundMs) continue;
      for (const left of lefts) {
        entry.isJoined = true;
        left.isJoined = true;
        this.emit(left.value, value, leftTs, timestampMs);
      }
      this.leftBuffer.put(leftTs, lefts);
    }
    this.append(this.rightBuffer, timestampMs, entry);
    const cleanupMs = (this.lowerBoundMs < 0 ? timestampMs - this.lowerBoundMs : timestampMs) + this.allowedLatenessMs;
    this.timers.registerEventTimeTimer('right', cleanupMs);
  }

  private append<T>(buffer: MapState<number, Array<Buffered<T>>>, timestampMs: number, entry: Buffered<T>): void {
    const existing = buffer.get(timestampMs);
    if (existing === undefined) buffer.put(timestampMs, [entry]);
    else {
      existing.push(entry);
      buffer.put(timestampMs, existing);
    }
  }

  private emit(left: L, right: R, leftTs: number, rightTs: number): void {
    const resultTs = Math.max(leftTs, rightTs);
    this.functionContext.timestamp = resultTs;
    this.functionContext.leftTimestamp = leftTs;
    this.functionContext.rightTimestamp = rightTs;
    this.collector.timestampMs = resultTs;
    this.function.processElement(left, right, this.functionContext, this.collector);
  }

  private routeLate<T>(tag: OutputTag<T> | undefined, value: T, timestampMs: number): void {
    if (tag === undefined) {
      this.metrics.lateRecordsDropped++;
      return;
    }
    this.metrics.lateRecordsSideOutput++;
    this.output.collectSide(tag, value, timestampMs);
  }

  onEventTime(timer: Timer<Side>): void {
    const cleanupMs = timer.timestamp - this.allowedLatenessMs;
    if (timer.namespace === 'left') {
      const bufferedTs = this.upperBoundMs > 0 ? cleanupMs - this.upperBoundMs : cleanupMs;
      this.expire(this.leftBuffer, bufferedTs, this.options.leftUnmatchedTag);
    } else {
      const bufferedTs = this.lowerBoundMs < 0 ? cleanupMs + this.lowerBoundMs : cleanupMs;
      this.expire(this.rightBuffer, bufferedTs, this.options.rightUnmatchedTag);
    }
  }

  private expire<T>(buffer: MapState<number, Array<Buffered<T>>>, timestampMs: number, tag: OutputTag<T> | undefined): void {
    const entries = buffer.get(timestampMs);
    if (entries === undefined) return;
    if (tag !== undefined) {
      for (const entry of entries) if (!entry.isJoined) this.output.collectSide(tag, entry.value, timestampMs);
    }
    buffer.remove(timestampMs);
  }

  onProcessingTime(): void {}

  override close(): void {
    this.function?.close?.();
    super.close();
  }
}

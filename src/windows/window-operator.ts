import { ConfigurationError, EddyError } from '../core/errors.ts';
import { formatDuration, parseDuration } from '../core/duration.ts';
import type { OutputTag } from '../core/output-tag.ts';
import { MAX_WATERMARK, saturatingAdd } from '../core/time.ts';
import { assignToKeyGroup } from '../core/key-group.ts';
import { OperatorBase } from '../operators/operator-base.ts';
import { aggregatingState, listState, reducingState, valueState, type StateDescriptor } from '../state/descriptors.ts';
import {
  VOID_NAMESPACE,
  voidNamespaceCodec,
  type InternalKvState,
  type NamespaceCodec,
  type Timer,
} from '../state/keyed-state-backend.ts';
import type { AggregatingState, ListState, ReducingState } from '../state/state.ts';
import type { InternalTimerService, Triggerable } from '../time/timer-service.ts';
import type { Collector } from '../core/collector.ts';
import type { Evictor, EvictorContext, TimestampedValue } from './evictor.ts';
import { NamespacedStateStore } from './keyed-state-store.ts';
import { MergingWindowSet, type MergeFunction } from './merging-window-set.ts';
import type { FiringKind, WindowFunctionSpec } from './process-window-function.ts';
import { isFire, isPurge, type Trigger } from './trigger.ts';
import type { Window } from './window.ts';
import type { MergingWindowAssigner, WindowAssigner, WindowAssignerContext } from './window-assigner.ts';
import { WindowProcessContext } from './window-process-context.ts';
import { WindowTriggerContext } from './window-trigger-context.ts';

/** Configuration of a {@link WindowOperator}, resolved by `WindowedStream` from the user's calls. */
export interface WindowOperatorOptions<IN, OUT, K, W extends Window> {
  readonly keySelector: (value: IN) => K;
  readonly assigner: WindowAssigner<IN, W>;
  /** Default: the assigner's default trigger. */
  readonly trigger?: Trigger<IN, W> | undefined;
  /** How long after a window's end (in event time) it still accepts late elements. Default 0. */
  readonly allowedLatenessMs?: number | string | undefined;
  /** Where elements too late for every window go; without it they are dropped and counted. */
  readonly lateDataTag?: OutputTag<IN> | undefined;
  readonly evictor?: Evictor<IN, W> | undefined;
  readonly windowFunction: WindowFunctionSpec<IN, OUT, K, W>;
}

const CONTENTS_STATE_NAME = 'window-contents';

/**
 * A keyed window operator with Flink's WindowOperator semantics (and EvictingWindowOperator's, when an
 * evictor is set).
 *
 * Per element: the assigner gives its windows (merging assigners merge them into the key's in-flight
 * set first); an event-time window is *late* — skipped — once `cleanupTime(window) ≤ watermark`, with
 * `cleanupTime = maxTimestamp + allowedLateness` (saturating). The element is added to each window that
 * is not late and the trigger decides (fire / purge); a cleanup timer is registered at `cleanupTime`.
 * An element skipped by *every* window that is itself late (`ts + allowedLateness ≤ watermark`) goes
 * to the late-data tag, or is dropped — counted in `lateRecordsSideOutput` / `lateRecordsDropped`.
 *
 * Firings emit with timestamp `window.maxTimestamp()`. At cleanup time the window's contents, trigger
 * state, per-window state and merging-set entry are removed. Everything lives in the keyed backend
 * (contents, trigger state, merging sets, timers), so snapshots capture the operator completely.
 */
export class WindowOperator<IN, OUT, K, W extends Window> extends OperatorBase<OUT> implements Triggerable<W> {
  private readonly keySelector: (value: IN) => K;
  private readonly assigner: WindowAssigner<IN, W>;
  private readonly trigger: Trigger<IN, W>;
  private readonly allowedLatenessMs: number;
  private readonly lateDataTag: OutputTag<IN> | undefined;
  private readonly evictor: Evictor<IN, W> | undefined;
  private readonly windowFunction: WindowFunctionSpec<IN, OUT, K, W>;
  private readonly codec: NamespaceCodec<W>;
  private readonly contentsDescriptor: StateDescriptor;
  private readonly firedOnTimeDescriptor = valueState<boolean>('window-fired-on-time');
  private readonly mergingSetDescriptor = listState<readonly [unknown, unknown]>('merging-window-set');

  // Wiring, created in open(). Per-call scratch fields (current key, firing timestamp) hold no state
  // between calls.
  private timers!: InternalTimerService<W>;
  private contents!: InternalKvState<W>;
  private firedOnTime!: InternalKvState<W>;
  private mergingSetState: InternalKvState<0> | undefined;
  private triggerContext!: WindowTriggerContext<W>;
  private processContext!: WindowProcessContext<W>;
  private currentKey: K | undefined = undefined;
  private firingTimestampMs = 0;

  private readonly assignerContext: WindowAssignerContext = {
    currentProcessingTime: () => this.context.clock.now(),
  };
  private readonly evictorContext: EvictorContext = {
    currentProcessingTime: () => this.context.clock.now(),
    currentWatermark: () => this.currentWatermark,
  };
  private readonly collector: Collector<OUT> = {
    collect: (value: OUT) => {
      this.metrics.recordsOut++;
      this.output.collect(value, this.firingTimestampMs);
    },
  };
  private readonly mergeFunction: MergeFunction<W> = (mergeResult, mergedWindows, stateWindowResult, mergedStateWindows) =>
    this.mergeWindows(mergeResult, mergedWindows, stateWindowResult, mergedStateWindows);

  constructor(options: WindowOperatorOptions<IN, OUT, K, W>) {
    super(1, true);
    if (typeof options.keySelector !== 'function') throw new ConfigurationError('a window operator needs a key selector');
    this.keySelector = options.keySelector;
    this.assigner = options.assigner;
    this.trigger = options.trigger ?? options.assigner.getDefaultTrigger();
    this.allowedLatenessMs = checkAllowedLateness(options.allowedLatenessMs);
    this.lateDataTag = options.lateDataTag;
    this.evictor = options.evictor;
    this.windowFunction = options.windowFunction;
    this.codec = options.assigner.namespaceCodec;

    if (this.assigner.isMerging && !this.trigger.canMerge()) {
      throw new ConfigurationError(
        `session (merging) windows need a trigger that can merge, but ${String(this.trigger)}.canMerge() is false: implement canMerge/onMerge or use another trigger`,
      );
    }
    const fn = this.windowFunction;
    if (this.evictor !== undefined) {
      this.contentsDescriptor = listState<TimestampedValue<IN>>(CONTENTS_STATE_NAME) as StateDescriptor;
    } else if (fn.kind === 'reduce') {
      this.contentsDescriptor = reducingState<IN>(CONTENTS_STATE_NAME, fn.reduce) as unknown as StateDescriptor;
    } else if (fn.kind === 'aggregate') {
      if (this.assigner.isMerging && typeof fn.aggregate.merge !== 'function') {
        throw new ConfigurationError(
          'aggregate() over session (merging) windows needs an AggregateFunction with merge(a, b): when sessions join, their accumulators are merged; add merge or use reduce/process',
        );
      }
      this.contentsDescriptor = aggregatingState(CONTENTS_STATE_NAME, fn.aggregate) as unknown as StateDescriptor;
    } else {
      this.contentsDescriptor = listState<IN>(CONTENTS_STATE_NAME) as StateDescriptor;
    }
  }

  override open(): void {
    super.open();
    const backend = this.backend;
    this.timers = this.getInternalTimerService<W>('window-timers', this.codec, this);
    this.contents = backend.getPartitionedState(this.contentsDescriptor, this.codec);
    this.firedOnTime = backend.getPartitionedState(this.firedOnTimeDescriptor as unknown as StateDescriptor, this.codec);
    this.mergingSetState = this.assigner.isMerging
      ? backend.getPartitionedState(this.mergingSetDescriptor as StateDescriptor, voidNamespaceCodec)
      : undefined;
    this.triggerContext = new WindowTriggerContext<W>(backend, this.codec, this.timers);
    const windowState = new NamespacedStateStore<W>(backend, this.codec, () => this.processContext.window);
    const globalState = new NamespacedStateStore<0>(backend, voidNamespaceCodec, () => VOID_NAMESPACE);
    this.processContext = new WindowProcessContext<W>(
      {
        currentWatermark: () => this.currentWatermark,
        currentProcessingTime: () => this.context.clock.now(),
        collectSide: (tag, value, timestampMs) => this.output.collectSide(tag, value, timestampMs),
      },
      windowState,
      globalState,
      this.assigner.isMerging,
    );
  }

  /**
   * Reads ahead (RocksDB) what each record will touch: its key's state outside windows (the merging
   * window set), the per-window state of the windows it is assigned to, and their cleanup timer (which
   * is also the event-time trigger's timer unless lateness is allowed). Windows that merging changes are
   * read on demand.
   */
  prefetch(values: readonly unknown[], timestamps: ArrayLike<number>, length: number): Promise<void> | undefined {
    const queue = `window-timers/${this.assigner.isEventTime ? 'event-time' : 'processing-time'}`;
    return this.prefetchBatch(values, timestamps, length, (value, timestampMs, backend) => {
      const element = value as IN;
      const key = this.keySelector(element);
      const keyGroup = assignToKeyGroup(key, backend.maxParallelism);
      const windows = this.assigner.assignWindows(element, timestampMs, this.assignerContext);
      backend.prefetchKey!(key, keyGroup, windows);
      for (const window of windows) {
        const cleanupTimeMs = this.cleanupTime(window);
        if (cleanupTimeMs !== MAX_WATERMARK) backend.prefetchTimer!(queue, key, keyGroup, cleanupTimeMs, window);
        if (cleanupTimeMs !== window.maxTimestamp()) backend.prefetchTimer!(queue, key, keyGroup, window.maxTimestamp(), window);
      }
    });
  }

  processRecord(value: unknown, timestampMs: number): void {
    this.metrics.recordsIn++;
    const element = value as IN;
    const key = this.keySelector(element);
    this.backend.setCurrentKey(key);
    this.currentKey = key;
    const windows = this.assigner.assignWindows(element, timestampMs, this.assignerContext);
    let isSkippedElement = true;

    if (this.assigner.isMerging) {
      const mergingWindows = this.getMergingWindowSet(this.assigner);
      for (const window of windows) {
        // Adding may merge: then the element belongs to the merge result.
        const actualWindow = mergingWindows.addWindow(window, this.mergeFunction);
        if (this.isWindowLate(actualWindow)) {
          mergingWindows.retireWindow(actualWindow);
          continue;
        }
        isSkippedElement = false;
        const stateWindow = mergingWindows.getStateWindow(actualWindow);
        if (stateWindow === undefined) throw new EddyError(`window ${String(actualWindow)} is not in the in-flight window set`);
        this.addToWindow(element, timestampMs, actualWindow, stateWindow);
      }
      mergingWindows.persist();
    } else {
      for (const window of windows) {
        if (this.isWindowLate(window)) continue;
        isSkippedElement = false;
        this.addToWindow(element, timestampMs, window, window);
      }
    }

    if (isSkippedElement && this.isElementLate(timestampMs)) {
      if (this.lateDataTag !== undefined) {
        this.output.collectSide(this.lateDataTag, element, timestampMs);
        this.metrics.lateRecordsSideOutput++;
      } else {
        this.metrics.lateRecordsDropped++;
      }
    }
  }

  private addToWindow(element: IN, timestampMs: number, window: W, stateWindow: W): void {
    this.contents.setCurrentNamespace(stateWindow);
    const addable = this.contents as unknown as { add(value: unknown): void };
    if (this.evictor === undefined) addable.add(element);
    else addable.add({ value: element, timestampMs } satisfies TimestampedValue<IN>);

    this.triggerContext.window = window;
    const result = this.trigger.onElement(element, timestampMs, window, this.triggerContext);
    if (isFire(result)) this.emitWindowContents(window, stateWindow, Number.NaN, false);
    if (isPurge(result)) {
      this.contents.setCurrentNamespace(stateWindow);
      this.contents.clear();
    }
    this.registerCleanupTimer(window);
  }

  onEventTime(timer: Timer<W>): void {
    this.onTimer(timer, true);
  }

  onProcessingTime(timer: Timer<W>): void {
    this.onTimer(timer, false);
  }

  private onTimer(timer: Timer<W>, isEventTimeTimer: boolean): void {
    const window = timer.namespace;
    this.currentKey = timer.key as K;
    let mergingWindows: MergingWindowSet<W> | undefined;
    let stateWindow = window;
    if (this.assigner.isMerging) {
      mergingWindows = this.getMergingWindowSet(this.assigner);
      const found = mergingWindows.getStateWindow(window);
      // A timer of a window that is gone (a trigger did not delete its timer): nothing left to do.
      if (found === undefined) return;
      stateWindow = found;
    }

    this.triggerContext.window = window;
    const result = isEventTimeTimer
      ? this.trigger.onEventTime(timer.timestamp, window, this.triggerContext)
      : this.trigger.onProcessingTime(timer.timestamp, window, this.triggerContext);
    if (isFire(result)) this.emitWindowContents(window, stateWindow, timer.timestamp, this.assigner.isEventTime === isEventTimeTimer);
    if (isPurge(result)) {
      this.contents.setCurrentNamespace(stateWindow);
      this.contents.clear();
    }
    if (this.assigner.isEventTime === isEventTimeTimer && timer.timestamp === this.cleanupTime(window)) {
      this.clearAllState(window, stateWindow, mergingWindows);
    }
    mergingWindows?.persist();
  }

  /** Windows `mergedWindows` become `mergeResult`: move trigger state, timers and contents. */
  private mergeWindows(mergeResult: W, mergedWindows: readonly W[], stateWindowResult: W, mergedStateWindows: readonly W[]): void {
    if (this.assigner.isEventTime) {
      if (this.cleanupTime(mergeResult) <= this.currentWatermark) {
        throw new EddyError(
          `the end of an event-time window cannot become earlier than the watermark by merging: watermark ${this.currentWatermark}, window ${String(mergeResult)}`,
        );
      }
    } else if (mergeResult.maxTimestamp() <= this.context.clock.now()) {
      throw new EddyError(
        `the end of a processing-time window cannot become earlier than the current processing time by merging: now ${this.context.clock.now()}, window ${String(mergeResult)}`,
      );
    }
    this.triggerContext.window = mergeResult;
    this.triggerContext.mergedWindows = mergedWindows;
    this.trigger.onMerge(mergeResult, this.triggerContext);
    this.triggerContext.mergedWindows = [];
    for (const merged of mergedWindows) {
      this.triggerContext.window = merged;
      this.trigger.clear(merged, this.triggerContext);
      this.deleteCleanupTimer(merged);
    }
    this.contents.mergeNamespaces(stateWindowResult, mergedStateWindows);
    // The merge result is a new window that has not fired on time yet; the merged ones are gone.
    if (this.assigner.isEventTime) {
      for (const merged of mergedWindows) {
        this.firedOnTime.setCurrentNamespace(merged);
        this.firedOnTime.clear();
      }
    }
  }

  /**
   * Runs the window function over the contents of `stateWindow`, if any, for `window`. `timerMs` is
   * the timestamp of the timer that caused the firing, NaN when an element caused it.
   */
  private emitWindowContents(window: W, stateWindow: W, timerMs: number, isTimerInWindowDomain: boolean): void {
    this.contents.setCurrentNamespace(stateWindow);
    const stored = this.contents.getInternal();
    if (stored === undefined) return;
    this.firingTimestampMs = window.maxTimestamp();
    const context = this.processContext;
    context.window = window;
    const isCausedByElement = timerMs !== timerMs;
    const domainTimeMs = this.assigner.isEventTime ? this.currentWatermark : this.context.clock.now();
    context.firingKind = this.firingKindOf(window, isTimerInWindowDomain ? timerMs : domainTimeMs, isCausedByElement);
    if (this.evictor !== undefined) {
      this.emitEvicting(window, stateWindow, (this.contents as unknown as ListState<TimestampedValue<IN>>).get());
      return;
    }
    const fn = this.windowFunction;
    const key = this.currentKey as K;
    switch (fn.kind) {
      case 'process':
        fn.process.process(key, context, (this.contents as unknown as ListState<IN>).get(), this.collector);
        return;
      case 'reduce': {
        const reduced = (this.contents as unknown as ReducingState<IN>).get() as IN;
        if (fn.process === undefined) this.collector.collect(reduced as unknown as OUT);
        else fn.process.process(key, context, [reduced], this.collector);
        return;
      }
      case 'aggregate': {
        const result = (this.contents as unknown as AggregatingState<IN, unknown>).get();
        if (fn.process === undefined) this.collector.collect(result as OUT);
        else fn.process.process(key, context, [result], this.collector);
        return;
      }
    }
  }

  /** EvictingWindowOperator: evict before, apply the function to the rest, evict after, keep the survivors. */
  private emitEvicting(window: W, stateWindow: W, elements: Array<TimestampedValue<IN>>): void {
    const evictor = this.evictor!;
    evictor.evictBefore(elements, window, this.evictorContext);
    const values: IN[] = new Array<IN>(elements.length);
    for (let i = 0; i < elements.length; i++) values[i] = (elements[i] as TimestampedValue<IN>).value;
    const fn = this.windowFunction;
    const key = this.currentKey as K;
    const context = this.processContext;
    switch (fn.kind) {
      case 'process':
        fn.process.process(key, context, values, this.collector);
        break;
      case 'reduce': {
        if (values.length === 0) break;
        let reduced = values[0] as IN;
        for (let i = 1; i < values.length; i++) reduced = fn.reduce(reduced, values[i] as IN);
        if (fn.process === undefined) this.collector.collect(reduced as unknown as OUT);
        else fn.process.process(key, context, [reduced], this.collector);
        break;
      }
      case 'aggregate': {
        let accumulator = fn.aggregate.createAccumulator();
        for (let i = 0; i < values.length; i++) accumulator = fn.aggregate.add(values[i] as IN, accumulator);
        const result = fn.aggregate.getResult(accumulator);
        if (fn.process === undefined) this.collector.collect(result as OUT);
        else fn.process.process(key, context, [result], this.collector);
        break;
      }
    }
    evictor.evictAfter(elements, window, this.evictorContext);
    this.contents.setCurrentNamespace(stateWindow);
    (this.contents as unknown as ListState<TimestampedValue<IN>>).update(elements);
  }

  /**
   * Why this firing happened, judged at `timeMs` — the timer's timestamp for a timer in the
   * assigner's time domain, else the current watermark (event time) or clock (processing time):
   * `early` before the window's end; at or after it, the first firing from a timer is `on-time`
   * (remembered per window in state) and every later one, or one caused by a (late) element, is
   * `late`. Processing-time and global windows are never `late`.
   */
  private firingKindOf(window: W, timeMs: number, isCausedByElement: boolean): FiringKind {
    const endMs = window.maxTimestamp();
    if (!this.assigner.isEventTime) return endMs !== MAX_WATERMARK && timeMs < endMs ? 'early' : 'on-time';
    if (timeMs < endMs) return 'early';
    if (isCausedByElement) return 'late';
    this.firedOnTime.setCurrentNamespace(window);
    if (this.firedOnTime.getInternal() === true) return 'late';
    this.firedOnTime.updateInternal(true);
    return 'on-time';
  }

  private clearAllState(window: W, stateWindow: W, mergingWindows: MergingWindowSet<W> | undefined): void {
    this.contents.setCurrentNamespace(stateWindow);
    this.contents.clear();
    this.triggerContext.window = window;
    this.trigger.clear(window, this.triggerContext);
    const process = this.windowFunction.process;
    if (process?.clear !== undefined) {
      this.processContext.window = window;
      process.clear(this.processContext);
    }
    if (this.assigner.isEventTime) {
      this.firedOnTime.setCurrentNamespace(window);
      this.firedOnTime.clear();
    }
    if (mergingWindows !== undefined) {
      mergingWindows.retireWindow(window);
      mergingWindows.persist();
    }
  }

  private getMergingWindowSet(assigner: MergingWindowAssigner<IN, W>): MergingWindowSet<W> {
    const state = this.mergingSetState!;
    state.setCurrentNamespace(VOID_NAMESPACE);
    return new MergingWindowSet<W>(
      assigner as MergingWindowAssigner<unknown, W>,
      this.codec,
      state as unknown as ListState<readonly [unknown, unknown]>,
    );
  }

  /** When the window's state is removed: its end plus the allowed lateness in event time (saturating), its end in processing time. */
  private cleanupTime(window: W): number {
    return this.assigner.isEventTime ? saturatingAdd(window.maxTimestamp(), this.allowedLatenessMs) : window.maxTimestamp();
  }

  private isWindowLate(window: W): boolean {
    return this.assigner.isEventTime && this.cleanupTime(window) <= this.currentWatermark;
  }

  private isElementLate(timestampMs: number): boolean {
    return this.assigner.isEventTime && saturatingAdd(timestampMs, this.allowedLatenessMs) <= this.currentWatermark;
  }

  private registerCleanupTimer(window: W): void {
    const cleanupTimeMs = this.cleanupTime(window);
    // No timer for the end of time: MAX_WATERMARK at end of input would only clear what is discarded anyway.
    if (cleanupTimeMs === MAX_WATERMARK) return;
    if (this.assigner.isEventTime) this.timers.registerEventTimeTimer(window, cleanupTimeMs);
    else this.timers.registerProcessingTimeTimer(window, cleanupTimeMs);
  }

  private deleteCleanupTimer(window: W): void {
    const cleanupTimeMs = this.cleanupTime(window);
    if (cleanupTimeMs === MAX_WATERMARK) return;
    if (this.assigner.isEventTime) this.timers.deleteEventTimeTimer(window, cleanupTimeMs);
    else this.timers.deleteProcessingTimeTimer(window, cleanupTimeMs);
  }
}

function checkAllowedLateness(allowedLateness: number | string | undefined): number {
  if (allowedLateness === undefined) return 0;
  const ms = parseDuration(allowedLateness, 'allowed lateness');
  if (ms < 0) throw new ConfigurationError(`allowed lateness must be ≥ 0, got ${formatDuration(ms)}`);
  return ms;
}

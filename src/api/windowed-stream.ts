import { ConfigurationError } from '../core/errors.ts';
import type { OutputTag } from '../core/output-tag.ts';
import type { AggregateFunction } from '../state/descriptors.ts';
import type { Evictor } from '../windows/evictor.ts';
import type { ProcessWindowFunction, WindowFunctionSpec } from '../windows/process-window-function.ts';
import type { Trigger } from '../windows/trigger.ts';
import type { Window } from '../windows/window.ts';
import type { WindowAssigner } from '../windows/window-assigner.ts';
import { WindowOperator } from '../windows/window-operator.ts';
import { checkFunction, checkObject, SingleOutputStream, type KeyedStream } from './data-stream.ts';

/**
 * A keyed stream grouped into windows: `keyBy(k).window(assigner)`, optionally with a trigger, an
 * evictor, allowed lateness and a late-data side output, finished by `reduce`, `aggregate` or
 * `process`. Flink's semantics: windows are `[start, end)`, results carry `window.maxTimestamp()`
 * (end − 1), an element is late when `ts + allowedLateness ≤ watermark`; a late element whose window
 * still exists updates it and fires it again (a late firing); a later one goes to the late-data side
 * output if set, and is counted either way.
 */
export class WindowedStream<K, T, W extends Window> {
  private windowTrigger: Trigger<T, W> | undefined;
  private windowEvictor: Evictor<T, W> | undefined;
  private allowedLatenessMs = 0;
  private lateDataTag: OutputTag<T> | undefined;

  constructor(
    private readonly input: KeyedStream<K, T>,
    private readonly assigner: WindowAssigner<T, W>,
  ) {
    if (assigner === null || typeof assigner !== 'object' || typeof assigner.assignWindows !== 'function') {
      throw new ConfigurationError('window needs a WindowAssigner, e.g. TumblingEventTimeWindows.of(60_000)');
    }
  }

  /**
   * Replaces the assigner's default trigger. Throws ConfigurationError when the windows merge (sessions) and
   * the trigger cannot merge.
   */
  trigger(trigger: Trigger<T, W>): this {
    checkObject(trigger, 'trigger', 'onElement');
    if (this.assigner.isMerging && !trigger.canMerge()) {
      throw new ConfigurationError('this trigger cannot be used with merging (session) windows: it does not support merging');
    }
    this.windowTrigger = trigger;
    return this;
  }

  /**
   * Removes elements before and/or after the window function runs. The window then keeps all its elements, so
   * reduce and aggregate run at firing time instead of incrementally.
   */
  evictor(evictor: Evictor<T, W>): this {
    checkObject(evictor, 'evictor', 'evictBefore');
    this.windowEvictor = evictor;
    return this;
  }

  /** How long after a window's end late elements still update it (event time). Default 0. */
  allowedLateness(lateness: number): this {
    if (!Number.isSafeInteger(lateness) || lateness < 0) {
      throw new ConfigurationError(`allowed lateness must be a whole number of milliseconds ≥ 0, got ${lateness}`);
    }
    if (!this.assigner.isEventTime && lateness > 0) {
      throw new ConfigurationError('allowed lateness only applies to event-time windows');
    }
    this.allowedLatenessMs = lateness;
    return this;
  }

  /** Elements too late for any of their windows go to this side output. */
  sideOutputLateData(tag: OutputTag<T>): this {
    this.lateDataTag = tag;
    return this;
  }

  /** Incremental reduce: one value per window; with `process`, that value is passed to it on firing. */
  reduce(reduceFunction: (a: T, b: T) => T): SingleOutputStream<T>;
  /** Incremental reduce whose single value is passed to `process` (with the key and window) on firing. */
  reduce<OUT>(reduceFunction: (a: T, b: T) => T, process: ProcessWindowFunction<T, OUT, K, W>): SingleOutputStream<OUT>;
  reduce<OUT>(reduceFunction: (a: T, b: T) => T, process?: ProcessWindowFunction<T, OUT, K, W>): SingleOutputStream<OUT | T> {
    checkFunction(reduceFunction, 'reduce');
    if (process !== undefined) checkObject(process, 'reduce', 'process');
    return this.build<OUT | T>('reduce', {
      kind: 'reduce',
      reduce: reduceFunction,
      process: process as ProcessWindowFunction<T, OUT | T, K, W> | undefined,
    });
  }

  /** Incremental aggregation; with `process`, the aggregate's result is passed to it on firing. */
  aggregate<ACC, R>(aggregate: AggregateFunction<T, ACC, R>): SingleOutputStream<R>;
  /** Incremental aggregation whose result is passed to `process` on firing. */
  aggregate<ACC, R, OUT>(aggregate: AggregateFunction<T, ACC, R>, process: ProcessWindowFunction<R, OUT, K, W>): SingleOutputStream<OUT>;
  aggregate<ACC, R, OUT>(
    aggregate: AggregateFunction<T, ACC, R>,
    process?: ProcessWindowFunction<R, OUT, K, W>,
  ): SingleOutputStream<OUT | R> {
    checkObject(aggregate, 'aggregate', 'add');
    if (process !== undefined) checkObject(process, 'aggregate', 'process');
    if (this.assigner.isMerging && typeof aggregate.merge !== 'function') {
      throw new ConfigurationError(
        'aggregate on session (merging) windows needs an AggregateFunction with merge(a, b): merged sessions combine their accumulators',
      );
    }
    return this.build<OUT | R>('aggregate', {
      kind: 'aggregate',
      aggregate: aggregate as AggregateFunction<T, unknown, unknown>,
      process: process as ProcessWindowFunction<unknown, OUT | R, K, W> | undefined,
    });
  }

  /** All elements of a window, buffered, given to `process` when it fires. */
  process<OUT>(process: ProcessWindowFunction<T, OUT, K, W>): SingleOutputStream<OUT> {
    checkObject(process, 'process', 'process');
    return this.build<OUT>('process', { kind: 'process', process });
  }

  private build<OUT>(functionKind: string, windowFunction: WindowFunctionSpec<T, OUT, K, W>): SingleOutputStream<OUT> {
    const keySelector = this.input.keySelector;
    const assigner = this.assigner;
    const trigger = this.windowTrigger ?? assigner.getDefaultTrigger();
    const evictor = this.windowEvictor;
    const allowedLatenessMs = this.allowedLatenessMs;
    const lateDataTag = this.lateDataTag;
    const name = `Window(${describe(assigner)}, ${describe(trigger)}${evictor === undefined ? '' : `, ${describe(evictor)}`}, ${functionKind})`;
    const node = this.input.env.addNode({
      kind: 'window',
      name,
      isStateful: true,
      numInputs: 1,
      createOperator: () =>
        new WindowOperator<T, OUT, K, W>({
          keySelector,
          assigner,
          trigger,
          evictor,
          allowedLatenessMs,
          lateDataTag,
          windowFunction,
        }),
    });
    this.input.connectTo(node, 0);
    return new SingleOutputStream<OUT>(this.input.env, node);
  }
}

function describe(value: object): string {
  const text = String(value);
  return text === '[object Object]' ? value.constructor.name : text;
}

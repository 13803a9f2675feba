import type { Collector } from '../core/collector.ts';
import type { ProcessWindowContext, ProcessWindowFunction } from '../windows/process-window-function.ts';
import type { Window } from '../windows/window.ts';
import type { WindowAssigner } from '../windows/window-assigner.ts';
import { checkFunction, type DataStream, type SingleOutputStream } from './data-stream.ts';
import type { KeySelector } from './functions.ts';
import type { WindowedStream } from './windowed-stream.ts';

/**
 * Window joins and co-groups (Flink's `join(...).where(...).equalTo(...).window(...).apply(...)`):
 * both inputs are tagged, unioned, keyed by their join keys and windowed together; when a window
 * fires, the function sees that key's records of both sides in the window. A join calls its function
 * for every pair (an inner join); a co-group once per key and window with both lists (outer joins).
 * Results carry the window's maxTimestamp.
 */
export interface TaggedRecord<L, R> {
  /** 0: left input, 1: right input. */
  readonly side: 0 | 1;
  readonly value: L | R;
}

/** Joins one left and one right record of the same key and window into one output. */
export type JoinFunction<L, R, OUT> = (left: L, right: R) => OUT;
/**
 * Called once per key and window with both sides' records in arrival order (either list may be empty); emits
 * any number of outputs.
 */
export type CoGroupFunction<L, R, OUT> = (lefts: readonly L[], rights: readonly R[], out: Collector<OUT>) => void;

/**
 * `a.coGroup(b)`: choose the keys with `where(...).equalTo(...)`, then the window, then the function. Both
 * key selectors must give equal keys for records that belong together.
 */
export class CoGroupedStreams<L, R> {
  constructor(
    private readonly left: DataStream<L>,
    private readonly right: DataStream<R>,
  ) {}

  /**
   * The left input's join key; continue with `equalTo(rightKey)`. Throws ConfigurationError when either is
   * not a function.
   */
  where<K>(leftKey: KeySelector<L, K>): { equalTo: (rightKey: KeySelector<R, K>) => WindowJoinBuilder<L, R, K> } {
    checkFunction(leftKey, 'where');
    return {
      equalTo: (rightKey) => {
        checkFunction(rightKey, 'equalTo');
        return new WindowJoinBuilder<L, R, K>(this.left, this.right, leftKey, rightKey);
      },
    };
  }
}

/** `a.join(b)`: the same builder as {@link CoGroupedStreams}; end it with `apply` for an inner join. */
export class JoinedStreams<L, R> extends CoGroupedStreams<L, R> {}

/** The join keys are set; `window` picks the windows both sides are grouped into. */
export class WindowJoinBuilder<L, R, K> {
  constructor(
    private readonly left: DataStream<L>,
    private readonly right: DataStream<R>,
    private readonly leftKey: KeySelector<L, K>,
    private readonly rightKey: KeySelector<R, K>,
  ) {}

  /**
   * Tags both inputs, unions them and keys the union by the join keys before windowing it with `assigner`.
   */
  window<W extends Window>(assigner: WindowAssigner<TaggedRecord<L, R>, W>): WindowJoin<L, R, K, W> {
    const tagged = this.left
      .map<TaggedRecord<L, R>>((value) => ({ side: 0, value }))
      .name('tag left')
      .union(this.right.map<TaggedRecord<L, R>>((value) => ({ side: 1, value })).name('tag right'));
    const leftKey = this.leftKey;
    const rightKey = this.rightKey;
    const windowed = tagged
      .keyBy<K>((record) => (record.side === 0 ? leftKey(record.value as L) : rightKey(record.value as R)))
      .window(assigner);
    return new WindowJoin<L, R, K, W>(windowed);
  }
}

/**
 * A keyed, windowed join; `apply` (inner join) or `coGroup` adds the operator. Both sides of a window are
 * buffered in state until it fires.
 */
export class WindowJoin<L, R, K, W extends Window> {
  constructor(private readonly windowed: WindowedStream<K, TaggedRecord<L, R>, W>) {}

  /** Allowed lateness of the joined windows. */
  allowedLateness(lateness: number): this {
    this.windowed.allowedLateness(lateness);
    return this;
  }

  /** Inner join: `join(left, right)` for every pair of the same key in the same window. Needs a uid. */
  apply<OUT>(join: JoinFunction<L, R, OUT>): SingleOutputStream<OUT> {
    checkFunction(join, 'apply');
    return this.coGroup<OUT>((lefts, rights, out) => {
      for (const left of lefts) for (const right of rights) out.collect(join(left, right));
    });
  }

  /** Co-group: once per key and window, with both sides' records (either may be empty). Needs a uid. */
  coGroup<OUT>(coGroup: CoGroupFunction<L, R, OUT>): SingleOutputStream<OUT> {
    checkFunction(coGroup, 'coGroup');
    return this.windowed.process(new CoGroupWindowFunction<L, R, K, W, OUT>(coGroup));
  }
}

class CoGroupWindowFunction<L, R, K, W extends Window, OUT> implements ProcessWindowFunction<TaggedRecord<L, R>, OUT, K, W> {
  constructor(private readonly coGroup: CoGroupFunction<L, R, OUT>) {}

  process(_key: K, _context: ProcessWindowContext<W>, elements: readonly TaggedRecord<L, R>[], out: Collector<OUT>): void {
    const lefts: L[] = [];
    const rights: R[] = [];
    for (const element of elements) {
      if (element.side === 0) lefts.push(element.value as L);
      else rights.push(element.value as R);
    }
    this.coGroup(lefts, rights, out);
  }
}

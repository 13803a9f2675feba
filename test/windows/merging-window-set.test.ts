import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { ListState } from '../../src/state/state.ts';
import { MergingWindowSet } from '../../src/windows/merging-window-set.ts';
import { EventTimeSessionWindows } from '../../src/windows/event-time-session-windows.ts';
import { TimeWindow, timeWindowCodec } from '../../src/windows/time-window.ts';

/** A plain in-memory ListState: enough for the set, which only reads on construction and writes on persist. */
class ArrayListState<T> implements ListState<T> {
  items: T[] = [];
  get(): T[] {
    return this.items.slice();
  }
  add(value: T): void {
    this.items.push(value);
  }
  addAll(values: readonly T[]): void {
    this.items.push(...values);
  }
  update(values: readonly T[]): void {
    this.items = values.slice();
  }
  clear(): void {
    this.items = [];
  }
}

const id = (w: TimeWindow): string => timeWindowCodec.idOf(w) as string;

/** Runs `timestamps` through a merging set as the window operator does, tracking contents per state window. */
function sessionize(timestamps: readonly number[], gapMs: number, reloadEvery = 0) {
  const assigner = EventTimeSessionWindows.withGap(gapMs);
  const state = new ArrayListState<readonly [unknown, unknown]>();
  const contents = new Map<string, number[]>();
  let set = new MergingWindowSet(assigner, timeWindowCodec, state);
  timestamps.forEach((ts, i) => {
    if (reloadEvery > 0 && i % reloadEvery === 0) {
      set.persist();
      set = new MergingWindowSet(assigner, timeWindowCodec, state);
    }
    const [window] = assigner.assignWindows(null, ts) as [TimeWindow];
    const actual = set.addWindow(window, (_result, _merged, stateWindowResult, mergedStateWindows) => {
      const target = contents.get(id(stateWindowResult)) ?? [];
      for (const source of mergedStateWindows) {
        target.push(...(contents.get(id(source)) ?? []));
        contents.delete(id(source));
      }
      contents.set(id(stateWindowResult), target);
    });
    const stateWindow = set.getStateWindow(actual);
    expect(stateWindow).toBeDefined();
    const list = contents.get(id(stateWindow!)) ?? [];
    list.push(ts);
    contents.set(id(stateWindow!), list);
  });
  set.persist();
  return { set, contents, state };
}

/** Brute force: sort, then split where an element starts after the current session's end. */
function bruteForceSessions(timestamps: readonly number[], gapMs: number): Array<{ window: TimeWindow; elements: number[] }> {
  const sorted = timestamps.slice().sort((a, b) => a - b);
  const sessions: Array<{ window: TimeWindow; elements: number[] }> = [];
  for (const ts of sorted) {
    const last = sessions[sessions.length - 1];
    if (last !== undefined && ts <= last.window.end) {
      last.window = last.window.cover(new TimeWindow(ts, ts + gapMs));
      last.elements.push(ts);
    } else {
      sessions.push({ window: new TimeWindow(ts, ts + gapMs), elements: [ts] });
    }
  }
  return sessions;
}

describe('MergingWindowSet', () => {
  it('merges a window that bridges two sessions, keeping one state window', () => {
    const merges: string[] = [];
    const state = new ArrayListState<readonly [unknown, unknown]>();
    const set = new MergingWindowSet(EventTimeSessionWindows.withGap(10), timeWindowCodec, state);
    const noMerge = (): void => {
      throw new Error('no merge expected');
    };
    expect(set.addWindow(new TimeWindow(0, 10), noMerge)).toEqual(new TimeWindow(0, 10));
    expect(set.addWindow(new TimeWindow(20, 30), noMerge)).toEqual(new TimeWindow(20, 30));
    // Inside an existing window: absorbed without a merge callback.
    expect(set.addWindow(new TimeWindow(2, 8), noMerge)).toEqual(new TimeWindow(0, 10));
    const result = set.addWindow(new TimeWindow(9, 20), (mergeResult, mergedWindows, stateWindowResult, mergedStateWindows) => {
      merges.push(`${mergeResult} <- ${mergedWindows.join(' + ')}; state ${stateWindowResult} <- ${mergedStateWindows.join(' + ')}`);
    });
    expect(result).toEqual(new TimeWindow(0, 30));
    expect(merges).toEqual(['TimeWindow[0, 30) <- TimeWindow[0, 10) + TimeWindow[20, 30); state TimeWindow[0, 10) <- TimeWindow[20, 30)']);
    expect(set.getStateWindow(new TimeWindow(0, 30))).toEqual(new TimeWindow(0, 10));
    expect(set.windows()).toEqual([new TimeWindow(0, 30)]);
    set.persist();
    expect(state.items).toEqual([[[0, 30], [0, 10]]]);
    set.retireWindow(new TimeWindow(0, 30));
    expect(() => set.retireWindow(new TimeWindow(0, 30))).toThrow(/not in the in-flight window set/);
    set.persist();
    expect(state.items).toEqual([]);
  });

  it('touching sessions merge: an element exactly one gap after the previous one joins its session', () => {
    const { set } = sessionize([0, 10], 10);
    expect(set.windows()).toEqual([new TimeWindow(0, 20)]);
    expect(sessionize([0, 11], 10).set.windows()).toHaveLength(2);
  });

  it('equals brute-force sort-and-split; sessions never overlap or touch; every element in exactly one', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: -200, max: 200 }), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1, max: 30 }),
        fc.integer({ min: 0, max: 5 }),
        (timestamps, gapMs, reloadEvery) => {
          const { set, contents } = sessionize(timestamps, gapMs, reloadEvery);
          const windows = set.windows().sort((a, b) => a.start - b.start);
          for (let i = 1; i < windows.length; i++) expect(windows[i - 1]!.end).toBeLessThan(windows[i]!.start);
          for (const ts of timestamps) {
            expect(windows.filter((w) => w.start <= ts && ts < w.end)).toHaveLength(1);
          }
          const expected = bruteForceSessions(timestamps, gapMs);
          expect(windows.map(String)).toEqual(expected.map((s) => String(s.window)));
          for (const session of expected) {
            const stateWindow = set.getStateWindow(session.window)!;
            expect((contents.get(id(stateWindow)) ?? []).slice().sort((a, b) => a - b)).toEqual(session.elements);
          }
          // No orphaned contents: only the state windows of live sessions hold elements.
          expect(contents.size).toBe(expected.length);
        },
      ),
    );
  });
});

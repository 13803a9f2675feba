import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigurationError, EddyError } from '../../src/core/errors.ts';
import {
  assignToKeyGroup,
  computeKeyGroupRangeForOperatorIndex,
  KeyGroupRange,
} from '../../src/core/key-group.ts';
import { ManualClock } from '../../src/core/time.ts';
import {
  aggregatingState,
  listState,
  mapState,
  reducingState,
  stateTtl,
  valueState,
  type AggregateFunction,
  type StateDescriptor,
} from '../../src/state/descriptors.ts';
import {
  voidNamespaceCodec,
  type KeyedStateBackend,
  type KeyedStateBackendOptions,
  type KeyedStateSnapshot,
  type NamespaceCodec,
  type StateEntrySnapshot,
  type Timer,
} from '../../src/state/keyed-state-backend.ts';
import type { ListState, MapState, ReducingState, ValueState } from '../../src/state/state.ts';

/** A window-like namespace, as the window operator uses. */
export interface TestWindow {
  readonly start: number;
  readonly end: number;
}

export const testWindowCodec: NamespaceCodec<TestWindow> = {
  idOf: (window) => `${window.start}:${window.end}`,
  toPlain: (window) => [window.start, window.end],
  fromPlain: (plain) => {
    const [start, end] = plain as [number, number];
    return { start, end };
  },
};

const w = (start: number, end: number): TestWindow => ({ start, end });

/** The environment a test backend runs in: a manual clock and a settable watermark. */
export class BackendHarness {
  readonly clock = new ManualClock(1_000);
  watermarkMs = 0;

  options(overrides: Partial<KeyedStateBackendOptions> = {}): KeyedStateBackendOptions {
    return {
      operatorUid: 'conformance-op',
      subtask: 0,
      maxParallelism: 16,
      keyGroupRange: new KeyGroupRange(0, 16),
      clock: this.clock,
      currentWatermark: () => this.watermarkMs,
      ...overrides,
    };
  }
}

const average: AggregateFunction<number, { sum: number; count: number }, number> = {
  createAccumulator: () => ({ sum: 0, count: 0 }),
  add: (value, acc) => ({ sum: acc.sum + value, count: acc.count + 1 }),
  getResult: (acc) => acc.sum / acc.count,
  merge: (a, b) => ({ sum: a.sum + b.sum, count: a.count + b.count }),
};

/** Keys whose key groups (over `maxParallelism`) fall inside `range`, in a deterministic order. */
export function keysInRange(range: KeyGroupRange, maxParallelism: number, count: number): string[] {
  const keys: string[] = [];
  for (let i = 0; keys.length < count; i++) {
    const key = `key-${i}`;
    if (range.contains(assignToKeyGroup(key, maxParallelism))) keys.push(key);
  }
  return keys;
}

/** Orders a snapshot's key groups, states, entries and timers so two snapshots compare by content. */
export function normalizeSnapshot(snapshot: KeyedStateSnapshot): unknown {
  const byJson = (a: unknown, b: unknown): number => {
    const x = JSON.stringify(a);
    const y = JSON.stringify(b);
    return x < y ? -1 : x > y ? 1 : 0;
  };
  return {
    format: snapshot.format,
    maxParallelism: snapshot.maxParallelism,
    keyGroups: [...snapshot.keyGroups]
      .sort((a, b) => a.keyGroup - b.keyGroup)
      .map((group) => ({
        keyGroup: group.keyGroup,
        states: [...group.states]
          .sort((a, b) => (a.name < b.name ? -1 : 1))
          .map((state) => ({ ...state, entries: [...state.entries].sort(byJson) })),
        timerQueues: [...group.timerQueues]
          .sort((a, b) => (a.name < b.name ? -1 : 1))
          .map((queue) => ({ ...queue, timers: [...queue.timers].sort(byJson) })),
      })),
  };
}

function drain<N>(queue: { poll(): Timer<N> | undefined }): Array<[number, unknown, N]> {
  const out: Array<[number, unknown, N]> = [];
  for (let timer = queue.poll(); timer !== undefined; timer = queue.poll()) {
    out.push([timer.timestamp, timer.key, timer.namespace]);
  }
  return out;
}

/**
 * The keyed state backend contract as executable tests. Every backend runs it:
 * `describeKeyedStateBackendConformance('memory', (options) => new MemoryStateBackend(options))`.
 * Backends are created with maxParallelism 16 unless a test says otherwise; the clock starts at 1000.
 */
export function describeKeyedStateBackendConformance(
  name: string,
  createBackend: (options: KeyedStateBackendOptions) => KeyedStateBackend,
): void {
  const setup = (overrides: Partial<KeyedStateBackendOptions> = {}) => {
    const harness = new BackendHarness();
    const backend = createBackend(harness.options(overrides));
    return { harness, backend };
  };

  describe(`${name} keyed state backend: conformance`, () => {
    describe('current key', () => {
      it('computes the key group of the current key', () => {
        const { backend } = setup();
        backend.setCurrentKey('alice');
        expect(backend.getCurrentKey()).toBe('alice');
        expect(backend.getCurrentKeyGroup()).toBe(assignToKeyGroup('alice', 16));
      });

      it('rejects a key whose key group is outside the range (a routing bug)', () => {
        const range = new KeyGroupRange(0, 8);
        const { backend } = setup({ keyGroupRange: range });
        const [outside] = keysInRange(new KeyGroupRange(8, 16), 16, 1);
        expect(() => backend.setCurrentKey(outside)).toThrow(EddyError);
        expect(() => backend.setCurrentKey(outside)).toThrow(/outside its range/);
        expect(() => backend.setCurrentKeyWithGroup('x', 12)).toThrow(EddyError);
      });

      it('fails state access before any key is set', () => {
        const { backend } = setup();
        const state = backend.getValueState(valueState<number>('v'));
        expect(() => state.value()).toThrow(EddyError);
      });
    });

    describe('value state', () => {
      it('scopes values to the current key and returns the default when unset', () => {
        const { backend } = setup();
        const state = backend.getValueState(valueState<number>('count', { defaultValue: 7 }));
        backend.setCurrentKey('a');
        expect(state.value()).toBe(7);
        state.update(1);
        backend.setCurrentKey('b');
        expect(state.value()).toBe(7);
        state.update(2);
        backend.setCurrentKey('a');
        expect(state.value()).toBe(1);
        state.clear();
        expect(state.value()).toBe(7);
        backend.setCurrentKey('b');
        expect(state.value()).toBe(2);
        state.update(undefined as unknown as number);
        expect(state.value()).toBe(7);
      });

      it('treats keys canonically: -0 is 0, object key order does not matter, 1 is not "1"', () => {
        const { backend } = setup();
        const state = backend.getValueState(valueState<string>('v'));
        backend.setCurrentKey(0);
        state.update('zero');
        backend.setCurrentKey(-0);
        expect(state.value()).toBe('zero');
        backend.setCurrentKey({ a: 1, b: [2, 'x'] });
        state.update('object');
        backend.setCurrentKey({ b: [2, 'x'], a: 1 });
        expect(state.value()).toBe('object');
        backend.setCurrentKey(1);
        state.update('number');
        backend.setCurrentKey('1');
        expect(state.value()).toBeUndefined();
      });

      it('returns the same object for the same name, and rejects another kind under that name', () => {
        const { backend } = setup();
        const first = backend.getValueState(valueState<number>('s'));
        expect(backend.getValueState(valueState<number>('s'))).toBe(first);
        expect(() => backend.getListState(listState<number>('s'))).toThrow(ConfigurationError);
        expect(() => backend.getPartitionedState(mapState('s'), testWindowCodec)).toThrow(ConfigurationError);
      });
    });

    describe('list state', () => {
      it('adds, replaces and clears; get returns a copy', () => {
        const { backend } = setup();
        const state = backend.getListState(listState<number>('l'));
        backend.setCurrentKey('k');
        expect(state.get()).toEqual([]);
        state.add(1);
        state.addAll([2, 3]);
        state.addAll([]);
        const copy = state.get();
        expect(copy).toEqual([1, 2, 3]);
        copy.push(99);
        expect(state.get()).toEqual([1, 2, 3]);
        const input = [7, 8];
        state.update(input);
        input.push(9);
        expect(state.get()).toEqual([7, 8]);
        state.update([]);
        expect(state.get()).toEqual([]);
        state.add(4);
        backend.setCurrentKey('other');
        expect(state.get()).toEqual([]);
        backend.setCurrentKey('k');
        state.clear();
        expect(state.get()).toEqual([]);
      });
    });

    describe('map state', () => {
      it('puts, gets, removes and lists entries per key', () => {
        const { backend } = setup();
        const state = backend.getMapState(mapState<unknown, string>('m'));
        backend.setCurrentKey('k');
        expect(state.isEmpty()).toBe(true);
        expect(state.get('x')).toBeUndefined();
        state.put('x', 'a');
        state.put(1, 'number one');
        state.put('1', 'string one');
        state.putAll([
          [{ p: 1, q: 2 }, 'object'],
          ['y', 'b'],
        ]);
        expect(state.get('x')).toBe('a');
        expect(state.get(1)).toBe('number one');
        expect(state.get('1')).toBe('string one');
        expect(state.get({ q: 2, p: 1 })).toBe('object');
        expect(state.contains('y')).toBe(true);
        expect(state.contains('z')).toBe(false);
        state.put('x', 'a2');
        state.remove('y');
        expect(state.contains('y')).toBe(false);
        expect(new Map(state.entries())).toEqual(
          new Map<unknown, string>([
            ['x', 'a2'],
            [1, 'number one'],
            ['1', 'string one'],
            [{ p: 1, q: 2 }, 'object'],
          ]),
        );
        expect(state.keys()).toHaveLength(4);
        expect(state.values().sort()).toEqual(['a2', 'number one', 'object', 'string one']);
        // Iterating a snapshot of the entries while modifying the state is safe.
        for (const [key] of state.entries()) state.remove(key);
        expect(state.isEmpty()).toBe(true);
        backend.setCurrentKey('other');
        expect(state.isEmpty()).toBe(true);
        state.put('only', 'here');
        state.clear();
        expect(state.isEmpty()).toBe(true);
      });
    });

    describe('reducing and aggregating state', () => {
      it('reduces added values', () => {
        const { backend } = setup();
        const state = backend.getReducingState(reducingState<number>('sum', (a, b) => a + b));
        backend.setCurrentKey('k');
        expect(state.get()).toBeUndefined();
        state.add(2);
        state.add(5);
        expect(state.get()).toBe(7);
        state.clear();
        expect(state.get()).toBeUndefined();
      });

      it('aggregates added values through an accumulator', () => {
        const { backend } = setup();
        const state = backend.getAggregatingState(aggregatingState('avg', average));
        backend.setCurrentKey('k');
        expect(state.get()).toBeUndefined();
        state.add(2);
        state.add(4);
        expect(state.get()).toBe(3);
        backend.setCurrentKey('j');
        expect(state.get()).toBeUndefined();
      });
    });

    describe('namespaces', () => {
      it('keeps one entry per (key, namespace)', () => {
        const { backend } = setup();
        const state = backend.getPartitionedState(listState<number>('win'), testWindowCodec);
        const list = state as unknown as ListState<number>;
        backend.setCurrentKey('k');
        state.setCurrentNamespace(w(0, 10));
        list.add(1);
        state.setCurrentNamespace(w(10, 20));
        list.add(2);
        list.add(3);
        expect(list.get()).toEqual([2, 3]);
        state.setCurrentNamespace(w(0, 10));
        expect(list.get()).toEqual([1]);
        expect(state.getInternal()).toEqual([1]);
        state.updateInternal([5, 6]);
        expect(list.get()).toEqual([5, 6]);
        state.clear();
        expect(state.getInternal()).toBeUndefined();
        state.setCurrentNamespace(w(10, 20));
        expect(list.get()).toEqual([2, 3]);
        expect(backend.getPartitionedState(listState<number>('win'), testWindowCodec)).toBe(state);
      });

      it('merges list namespaces: target first, then sources in order; sources are cleared', () => {
        const { backend } = setup();
        const state = backend.getPartitionedState(listState<string>('merge-list'), testWindowCodec);
        const list = state as unknown as ListState<string>;
        backend.setCurrentKey('k');
        for (const [window, value] of [
          [w(0, 5), 'a'],
          [w(3, 8), 'b'],
          [w(6, 9), 'c'],
        ] as const) {
          state.setCurrentNamespace(window);
          list.add(value);
        }
        state.mergeNamespaces(w(0, 5), [w(3, 8), w(6, 9), w(50, 60)]);
        state.setCurrentNamespace(w(0, 5));
        expect(list.get()).toEqual(['a', 'b', 'c']);
        state.setCurrentNamespace(w(3, 8));
        expect(list.get()).toEqual([]);
        // Merging into an empty target moves the sources' content there.
        state.mergeNamespaces(w(100, 200), [w(0, 5)]);
        state.setCurrentNamespace(w(100, 200));
        expect(list.get()).toEqual(['a', 'b', 'c']);
      });

      it('merges reducing and aggregating namespaces', () => {
        const { backend } = setup();
        backend.setCurrentKey('k');
        // A ReducingStateDescriptor<number> is not a StateDescriptor to TypeScript (`reduce` is a property, so
        // its parameter is checked contravariantly); operators cast the same way.
        const sumDescriptor = reducingState<number>('merge-sum', (a, b) => a + b) as unknown as StateDescriptor;
        const sum = backend.getPartitionedState(sumDescriptor, testWindowCodec);
        const avg = backend.getPartitionedState(aggregatingState('merge-avg', average), testWindowCodec);
        const values: Array<[TestWindow, number]> = [
          [w(0, 1), 1],
          [w(1, 2), 2],
          [w(2, 3), 6],
        ];
        for (const [window, value] of values) {
          sum.setCurrentNamespace(window);
          (sum as unknown as ReducingState<number>).add(value);
          avg.setCurrentNamespace(window);
          (avg as unknown as ReducingState<number>).add(value);
        }
        sum.mergeNamespaces(w(0, 1), [w(1, 2), w(2, 3)]);
        avg.mergeNamespaces(w(2, 3), [w(0, 1), w(1, 2)]);
        sum.setCurrentNamespace(w(0, 1));
        expect((sum as unknown as ReducingState<number>).get()).toBe(9);
        avg.setCurrentNamespace(w(2, 3));
        expect((avg as unknown as ReducingState<number>).get()).toBe(3);
        avg.setCurrentNamespace(w(0, 1));
        expect(avg.getInternal()).toBeUndefined();
      });

      it('refuses to merge value state, and aggregating state without merge', () => {
        const { backend } = setup();
        backend.setCurrentKey('k');
        const value = backend.getPartitionedState(valueState<number>('merge-value'), testWindowCodec);
        value.setCurrentNamespace(w(1, 2));
        value.updateInternal(1);
        expect(() => value.mergeNamespaces(w(0, 1), [w(1, 2)])).toThrow(EddyError);
        const { merge: _merge, ...withoutMerge } = average;
        const agg = backend.getPartitionedState(aggregatingState('no-merge', withoutMerge), testWindowCodec);
        agg.setCurrentNamespace(w(1, 2));
        (agg as unknown as ReducingState<number>).add(1);
        agg.setCurrentNamespace(w(0, 1));
        (agg as unknown as ReducingState<number>).add(1);
        expect(() => agg.mergeNamespaces(w(0, 1), [w(1, 2)])).toThrow(ConfigurationError);
      });

      it('lists the keys with an entry under a namespace', () => {
        const { backend } = setup();
        const state = backend.getPartitionedState(valueState<number>('keys'), testWindowCodec);
        for (const key of ['a', 'b', 'c']) {
          backend.setCurrentKey(key);
          state.setCurrentNamespace(w(0, 1));
          state.updateInternal(1);
        }
        backend.setCurrentKey('d');
        state.setCurrentNamespace(w(5, 6));
        state.updateInternal(1);
        expect(backend.getKeys('keys', testWindowCodec.idOf(w(0, 1))).sort()).toEqual(['a', 'b', 'c']);
        expect(backend.getKeys('keys', testWindowCodec.idOf(w(5, 6)))).toEqual(['d']);
        expect(backend.getKeys('unknown-state', 0)).toEqual([]);
      });
    });

    describe('TTL', () => {
      const timeCharacteristics = ['processing-time', 'event-time'] as const;
      const updateTypes = ['on-create-and-write', 'on-read-and-write'] as const;
      const visibilities = ['never-return-expired', 'return-expired-if-not-cleaned-up'] as const;

      for (const timeCharacteristic of timeCharacteristics) {
        for (const updateType of updateTypes) {
          for (const visibility of visibilities) {
            it(`value state: ${timeCharacteristic}, ${updateType}, ${visibility}`, () => {
              const { harness, backend } = setup();
              const advance = (ms: number) => {
                if (timeCharacteristic === 'processing-time') harness.clock.advance(ms);
                else harness.watermarkMs += ms;
              };
              const ttl = stateTtl({ ttlMs: 100, updateType, visibility, timeCharacteristic });
              const state = backend.getValueState(valueState<string>('ttl', { ttl }));
              backend.setCurrentKey('k');
              state.update('v'); // expires at t0 + 100
              advance(60);
              expect(state.value()).toBe('v'); // read at t0 + 60: refreshes to t0 + 160 on read
              advance(60); // t0 + 120
              if (updateType === 'on-read-and-write') {
                expect(state.value()).toBe('v');
                advance(100); // t0 + 220 ≥ t0 + 220: expired
              }
              // Expired and not yet cleaned up.
              if (visibility === 'return-expired-if-not-cleaned-up') expect(state.value()).toBe('v');
              // Cleaned up by that access (or by this one).
              expect(state.value()).toBeUndefined();
              // A write starts a new lifetime.
              state.update('w');
              advance(99);
              expect(state.value()).toBe('w');
            });
          }
        }
      }

      it('measures event-time TTL on the watermark, not the clock', () => {
        const { harness, backend } = setup();
        const ttl = stateTtl({ ttlMs: 10, timeCharacteristic: 'event-time' });
        const state = backend.getValueState(valueState<number>('ev', { ttl }));
        backend.setCurrentKey('k');
        state.update(1);
        harness.clock.advance(1_000_000);
        expect(state.value()).toBe(1);
        harness.watermarkMs += 10;
        expect(state.value()).toBeUndefined();
      });

      it('expires map entries per user key', () => {
        const { harness, backend } = setup();
        const ttl = stateTtl({ ttlMs: 100 });
        const state = backend.getMapState(mapState<string, number>('ttl-map', { ttl }));
        backend.setCurrentKey('k');
        state.put('old', 1);
        harness.clock.advance(60);
        state.put('new', 2);
        harness.clock.advance(60);
        expect(state.get('old')).toBeUndefined();
        expect(state.contains('old')).toBe(false);
        expect(state.entries()).toEqual([['new', 2]]);
        expect(state.isEmpty()).toBe(false);
        harness.clock.advance(40);
        expect(state.isEmpty()).toBe(true);
        expect(state.keys()).toEqual([]);
      });

      it('expires a list as a whole; every write refreshes it', () => {
        const { harness, backend } = setup();
        const state = backend.getListState(listState<number>('ttl-list', { ttl: stateTtl({ ttlMs: 100 }) }));
        backend.setCurrentKey('k');
        state.add(1);
        harness.clock.advance(60);
        state.add(2);
        harness.clock.advance(60);
        expect(state.get()).toEqual([1, 2]);
        harness.clock.advance(40);
        expect(state.get()).toEqual([]);
        state.add(3);
        expect(state.get()).toEqual([3]);
      });

      it('restarts reducing and aggregating state after expiry', () => {
        const { harness, backend } = setup();
        const ttl = stateTtl({ ttlMs: 100 });
        const sum = backend.getReducingState(reducingState<number>('ttl-sum', (a, b) => a + b, { ttl }));
        const avg = backend.getAggregatingState(aggregatingState('ttl-avg', average, { ttl }));
        backend.setCurrentKey('k');
        sum.add(5);
        avg.add(5);
        harness.clock.advance(100);
        sum.add(1);
        avg.add(1);
        expect(sum.get()).toBe(1);
        expect(avg.get()).toBe(1);
      });

      it('leaves expired entries out of snapshots', () => {
        const { harness, backend } = setup();
        const ttl = stateTtl({ ttlMs: 100 });
        const value = backend.getValueState(valueState<number>('ttl-snap', { ttl }));
        const map = backend.getMapState(mapState<string, number>('ttl-snap-map', { ttl }));
        backend.setCurrentKey('stale');
        value.update(1);
        map.put('stale', 1);
        harness.clock.advance(50);
        backend.setCurrentKey('fresh');
        value.update(2);
        map.put('fresh', 2);
        backend.setCurrentKey('stale');
        map.put('fresh', 3);
        harness.clock.advance(60);
        const snapshot = backend.snapshot();
        const entries = snapshot.keyGroups.flatMap((group) => group.states.flatMap((s) => s.entries.map((e) => [s.name, e])));
        const keysOf = (stateName: string) => entries.filter(([n]) => n === stateName).map(([, e]) => (e as StateEntrySnapshot)[0]);
        expect(keysOf('ttl-snap')).toEqual(['fresh']);
        expect(keysOf('ttl-snap-map').sort()).toEqual(['fresh', 'stale']);
        const staleMap = entries.find(([n, e]) => n === 'ttl-snap-map' && (e as StateEntrySnapshot)[0] === 'stale')!;
        const pairs = (staleMap[1] as StateEntrySnapshot)[2] as unknown[][];
        expect(pairs.map((pair) => pair.slice(0, 2))).toEqual([['fresh', 3]]);
        // Expiry survives snapshot ▶ restore.
        const restored = createBackend(harness.options());
        restored.restore([snapshot]);
        const restoredValue = restored.getValueState(valueState<number>('ttl-snap', { ttl }));
        restored.setCurrentKey('fresh');
        expect(restoredValue.value()).toBe(2);
        harness.clock.advance(40);
        expect(restoredValue.value()).toBeUndefined();
      });
    });

    describe('timers', () => {
      it('orders by timestamp, then key group, then a deterministic order; deduplicates; removes', () => {
        const groupOf = (key: string) => assignToKeyGroup(key, 16);
        /** Adds, re-adds and removes timers; returns what fires, as [timestamp, key, namespace]. */
        const run = (backend: KeyedStateBackend) => {
          const queue = backend.getTimerQueue('timers', testWindowCodec);
          expect(backend.getTimerQueue('timers', testWindowCodec)).toBe(queue);
          const keys = ['k5', 'k0', 'k3', 'k1', 'k4', 'k2'];
          const expected: Array<[number, string, TestWindow]> = [];
          const timestamps = [30, 10, 20, 10];
          timestamps.forEach((timestamp, round) => {
            for (const key of keys) {
              backend.setCurrentKey(key);
              const isNew = queue.add(timestamp, w(0, timestamp));
              expect(isNew).toBe(round !== 3); // round 3 repeats round 1
              if (isNew) expected.push([timestamp, key, w(0, timestamp)]);
            }
          });
          backend.setCurrentKey('k1');
          expect(queue.add(10, w(0, 10))).toBe(false);
          expect(queue.add(10, w(0, 11))).toBe(true);
          expected.push([10, 'k1', w(0, 11)]);
          expect(queue.remove(20, w(0, 20))).toBe(true);
          expect(queue.remove(20, w(0, 20))).toBe(false);
          expect(queue.remove(99, w(0, 20))).toBe(false);
          const remaining = expected.filter(([t, k]) => !(t === 20 && k === 'k1'));
          expect(queue.size).toBe(remaining.length);
          expect(queue.peek()?.timestamp).toBe(10);
          const fired = drain(queue);
          expect(queue.size).toBe(0);
          expect(queue.poll()).toBeUndefined();
          // Every remaining timer fires once, by timestamp, then key group.
          const byJson = (a: unknown, b: unknown) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1);
          expect([...fired].sort(byJson)).toEqual([...remaining].sort(byJson));
          for (let i = 1; i < fired.length; i++) {
            const [t0, k0] = fired[i - 1]!;
            const [t1, k1] = fired[i]!;
            expect(t0 < t1 || (t0 === t1 && groupOf(k0 as string) <= groupOf(k1 as string))).toBe(true);
          }
          return fired;
        };
        // Ties (same timestamp and key group) fire in an order the backend defines, the same every run.
        expect(run(setup().backend)).toEqual(run(setup().backend));
      });

      it('stamps each timer with its key and key group', () => {
        const { backend } = setup();
        const queue = backend.getTimerQueue('t', voidNamespaceCodec);
        backend.setCurrentKey(['composite', 1]);
        queue.add(5, 0);
        const timer = queue.poll()!;
        expect(timer.key).toEqual(['composite', 1]);
        expect(timer.keyGroup).toBe(assignToKeyGroup(['composite', 1], 16));
        expect(timer.namespace).toBe(0);
      });
    });

    describe('snapshot and restore', () => {
      const fill = (backend: KeyedStateBackend, keys: readonly string[], indexOf = (key: string) => keys.indexOf(key)): void => {
        const value = backend.getValueState(valueState<{ n: number }>('value'));
        const list = backend.getListState(listState<number>('list'));
        const map = backend.getMapState(mapState<unknown, string>('map'));
        const sum = backend.getReducingState(reducingState<number>('sum', (a, b) => a + b));
        const avg = backend.getAggregatingState(aggregatingState('avg', average));
        const windowed = backend.getPartitionedState(listState<string>('windowed'), testWindowCodec);
        const eventTimers = backend.getTimerQueue('svc/event-time', testWindowCodec);
        const voidTimers = backend.getTimerQueue('svc/processing-time', voidNamespaceCodec);
        for (const key of keys) {
          const i = indexOf(key);
          backend.setCurrentKey(key);
          value.update({ n: i });
          list.addAll([i, i + 1]);
          map.put('a', `${key}-a`);
          map.put(i, `${key}-${i}`);
          sum.add(i);
          sum.add(10);
          avg.add(i);
          windowed.setCurrentNamespace(w(i, i + 10));
          (windowed as unknown as ListState<string>).add(key);
          eventTimers.add(100 + i, w(i, i + 10));
          eventTimers.add(50, w(0, 1));
          voidTimers.add(1_000 + i, 0);
        }
      };

      const check = (backend: KeyedStateBackend, keys: readonly string[], indexOf: (key: string) => number): void => {
        const value = backend.getValueState(valueState<{ n: number }>('value'));
        const list = backend.getListState(listState<number>('list'));
        const map = backend.getMapState(mapState<unknown, string>('map'));
        const sum = backend.getReducingState(reducingState<number>('sum', (a, b) => a + b));
        const avg = backend.getAggregatingState(aggregatingState('avg', average));
        const windowed = backend.getPartitionedState(listState<string>('windowed'), testWindowCodec);
        for (const key of keys) {
          const i = indexOf(key);
          backend.setCurrentKey(key);
          expect(value.value()).toEqual({ n: i });
          expect(list.get()).toEqual([i, i + 1]);
          expect(new Map(map.entries())).toEqual(
            new Map<unknown, string>([
              ['a', `${key}-a`],
              [i, `${key}-${i}`],
            ]),
          );
          expect(sum.get()).toBe(i + 10);
          expect(avg.get()).toBe(i);
          windowed.setCurrentNamespace(w(i, i + 10));
          expect((windowed as unknown as ListState<string>).get()).toEqual([key]);
        }
      };

      it('snapshots in the canonical format', () => {
        const { backend } = setup();
        const [key] = keysInRange(new KeyGroupRange(0, 16), 16, 1);
        fill(backend, [key!]);
        const snapshot = backend.snapshot();
        expect(snapshot.format).toBe('eddy-keyed-state/1');
        expect(snapshot.maxParallelism).toBe(16);
        expect(snapshot.keyGroups).toHaveLength(1);
        const group = snapshot.keyGroups[0]!;
        expect(group.keyGroup).toBe(assignToKeyGroup(key, 16));
        const stateOf = (stateName: string) => group.states.find((s) => s.name === stateName)!;
        expect(stateOf('value')).toEqual({ name: 'value', kind: 'value', version: 1, entries: [[key, 0, { n: 0 }]] });
        expect(stateOf('list').entries).toEqual([[key, 0, [0, 1]]]);
        expect(stateOf('map').kind).toBe('map');
        expect(stateOf('map').entries).toHaveLength(1);
        const [mapKey, mapNamespace, pairs] = stateOf('map').entries[0]!;
        expect([mapKey, mapNamespace]).toEqual([key, 0]);
        // [userKey, value] pairs, in an order the backend defines.
        expect(pairs).toHaveLength(2);
        expect(pairs).toEqual(
          expect.arrayContaining([
            ['a', `${key}-a`],
            [0, `${key}-0`],
          ]),
        );
        expect(stateOf('sum').entries).toEqual([[key, 0, 10]]);
        expect(stateOf('avg').entries).toEqual([[key, 0, { sum: 0, count: 1 }]]);
        expect(stateOf('windowed').entries).toEqual([[key, [0, 10], [key]]]);
        const timersOf = (queueName: string) => group.timerQueues.find((q) => q.name === queueName)!.timers;
        expect(timersOf('svc/event-time')).toEqual([
          [50, key, [0, 1]],
          [100, key, [0, 10]],
        ]);
        expect(timersOf('svc/processing-time')).toEqual([[1_000, key, 0]]);
      });

      it('omits empty key groups', () => {
        const { backend } = setup();
        const state = backend.getValueState(valueState<number>('v'));
        backend.setCurrentKey('a');
        state.update(1);
        state.clear();
        expect(backend.snapshot().keyGroups).toEqual([]);
      });

      it('is not changed by later writes', () => {
        const { backend } = setup();
        const keys = keysInRange(new KeyGroupRange(0, 16), 16, 5);
        fill(backend, keys);
        const snapshot = backend.snapshot();
        const before = JSON.stringify(snapshot);
        const list = backend.getListState(listState<number>('list'));
        const value = backend.getValueState(valueState<{ n: number }>('value'));
        const map = backend.getMapState(mapState<unknown, string>('map'));
        for (const key of keys) {
          backend.setCurrentKey(key);
          list.add(42);
          const current = value.value()!;
          (current as { n: number }).n = -1;
          map.put('a', 'changed');
        }
        backend.getTimerQueue('svc/event-time', testWindowCodec).poll();
        expect(JSON.stringify(snapshot)).toBe(before);
      });

      it('restores into a fresh backend, and restored state is independent of the snapshot', () => {
        const { harness, backend } = setup();
        const keys = keysInRange(new KeyGroupRange(0, 16), 16, 20);
        fill(backend, keys);
        const snapshot = backend.snapshot();
        const restored = createBackend(harness.options());
        restored.restore([snapshot]);
        check(restored, keys, (key) => keys.indexOf(key));
        expect(normalizeSnapshot(restored.snapshot())).toEqual(normalizeSnapshot(snapshot));
        const events = drain(restored.getTimerQueue('svc/event-time', testWindowCodec));
        expect(events).toHaveLength(keys.length + keys.length);
        expect(events.slice(0, keys.length).every(([t]) => t === 50)).toBe(true);
        // Restoring the same snapshot again gives the same state: restored values were copies.
        const list = restored.getListState(listState<number>('list'));
        restored.setCurrentKey(keys[0]!);
        list.add(99);
        const again = createBackend(harness.options());
        again.restore([snapshot]);
        check(again, keys, (key) => keys.indexOf(key));
      });

      it('snapshots restored state that was not registered again', () => {
        const { harness, backend } = setup();
        const keys = keysInRange(new KeyGroupRange(0, 16), 16, 6);
        fill(backend, keys);
        const snapshot = backend.snapshot();
        const restored = createBackend(harness.options());
        restored.restore([snapshot]);
        expect(normalizeSnapshot(restored.snapshot())).toEqual(normalizeSnapshot(snapshot));
      });

      it('redistributes key groups from 2 subtasks to 3', () => {
        const harness = new BackendHarness();
        const maxParallelism = 16;
        const keys = Array.from({ length: 60 }, (_, i) => `user-${i}`);
        const indexOf = (key: string) => keys.indexOf(key);
        const old = [0, 1].map((subtask) => {
          const range = computeKeyGroupRangeForOperatorIndex(maxParallelism, 2, subtask);
          const backend = createBackend(harness.options({ subtask, keyGroupRange: range }));
          fill(backend, keys.filter((key) => range.contains(assignToKeyGroup(key, maxParallelism))), indexOf);
          return backend.snapshot();
        });
        const seen = new Map<string, number>();
        for (let subtask = 0; subtask < 3; subtask++) {
          const range = computeKeyGroupRangeForOperatorIndex(maxParallelism, 3, subtask);
          const backend = createBackend(harness.options({ subtask, keyGroupRange: range }));
          backend.restore(old);
          const owned = keys.filter((key) => range.contains(assignToKeyGroup(key, maxParallelism)));
          check(backend, owned, indexOf);
          const snapshot = backend.snapshot();
          for (const group of snapshot.keyGroups) expect(range.contains(group.keyGroup)).toBe(true);
          backend.getValueState(valueState<{ n: number }>('value'));
          const present = backend.getKeys('value', 0) as string[];
          expect(present.sort()).toEqual([...owned].sort());
          for (const key of present) seen.set(key, (seen.get(key) ?? 0) + 1);
          const timers = drain(backend.getTimerQueue('svc/processing-time', voidNamespaceCodec));
          expect(timers.map(([, key]) => key).sort()).toEqual([...owned].sort());
        }
        expect(seen.size).toBe(keys.length);
        expect([...seen.values()].every((count) => count === 1)).toBe(true);
      });

      it('validates restored values against the schema when the state is registered', () => {
        const { harness, backend } = setup();
        const loose = backend.getValueState(valueState<unknown>('profile'));
        const list = backend.getListState(listState<unknown>('scores'));
        const [good, bad] = keysInRange(new KeyGroupRange(0, 16), 16, 2);
        backend.setCurrentKey(good!);
        loose.update({ name: 'ok' });
        list.addAll([1, 2]);
        backend.setCurrentKey(bad!);
        loose.update({ name: 42 });
        list.addAll([3, 'four']);
        const snapshot = backend.snapshot();

        const restored = createBackend(harness.options());
        restored.restore([snapshot]);
        const profile = valueState('profile', { schema: z.object({ name: z.string() }) });
        const badGroup = assignToKeyGroup(bad, 16);
        expect(() => restored.getValueState(profile)).toThrow(ConfigurationError);
        const again = createBackend(harness.options());
        again.restore([snapshot]);
        expect(() => again.getValueState(profile)).toThrow(
          new RegExp(`state 'profile'.*key group ${badGroup}.*name`),
        );
        expect(() => again.getListState(listState('scores', { schema: z.number() }))).toThrow(/state 'scores'/);
        const lenient = createBackend(harness.options());
        lenient.restore([snapshot]);
        const scores = lenient.getListState(listState('scores', { schema: z.union([z.number(), z.string()]) }));
        lenient.setCurrentKey(bad!);
        expect(scores.get()).toEqual([3, 'four']);
      });

      it('refuses restored state registered as another kind, and a different maxParallelism', () => {
        const { harness, backend } = setup();
        const value = backend.getValueState(valueState<number>('shape'));
        backend.setCurrentKey('k');
        value.update(1);
        const snapshot = backend.snapshot();
        const restored = createBackend(harness.options());
        restored.restore([snapshot]);
        expect(() => restored.getListState(listState<number>('shape'))).toThrow(ConfigurationError);
        const wider = createBackend(harness.options({ maxParallelism: 32, keyGroupRange: new KeyGroupRange(0, 32) }));
        expect(() => wider.restore([snapshot])).toThrow(ConfigurationError);
      });
    });

    describe('value semantics', () => {
      it('map state returned values are the stored ones (write back after changing)', () => {
        const { backend } = setup();
        const state = backend.getMapState(mapState<string, number[]>('refs')) as MapState<string, number[]>;
        backend.setCurrentKey('k');
        state.put('a', [1]);
        const read = state.get('a')!;
        state.put('a', [...read, 2]);
        expect(state.get('a')).toEqual([1, 2]);
      });

      it('value state works with any namespace codec through getPartitionedState', () => {
        const { backend } = setup();
        const state = backend.getPartitionedState(valueState<number>('pv'), testWindowCodec);
        backend.setCurrentKey('k');
        state.setCurrentNamespace(w(1, 2));
        (state as unknown as ValueState<number>).update(3);
        expect((state as unknown as ValueState<number>).value()).toBe(3);
        state.setCurrentNamespace(w(2, 3));
        expect((state as unknown as ValueState<number>).value()).toBeUndefined();
      });
    });
  });
}

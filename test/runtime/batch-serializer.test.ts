import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BatchSerializer } from '../../src/runtime/batch-serializer.ts';

const record = fc.oneof(
  fc.record({ key: fc.string(), ts: fc.integer(), amount: fc.double({ noNaN: true }).map((x) => (Object.is(x, -0) ? 0 : x)), tags: fc.array(fc.string(), { maxLength: 3 }) }),
  fc.string(),
  fc.integer(),
  fc.constant(null),
  fc.tuple(fc.string(), fc.integer()),
);

describe('BatchSerializer', () => {
  it('delivers -0 as 0 (msgpack has no negative-zero integer; documented)', () => {
    const serializer = new BatchSerializer();
    const batch = serializer.deserialize(serializer.serialize([-0], new Float64Array([-0]), 1));
    expect(Object.is(batch.values[0], 0)).toBe(true);
    expect(Object.is(batch.timestamps[0], -0)).toBe(true);
  });

  it('round-trips values and timestamps (NaN included) through one transferable ArrayBuffer', () => {
    const serializer = new BatchSerializer();
    fc.assert(
      fc.property(
        fc.array(fc.tuple(record, fc.oneof(fc.integer({ min: -1e15, max: 1e15 }), fc.constant(Number.NaN))), { maxLength: 200 }),
        (entries) => {
          const values = entries.map(([value]) => value);
          const timestamps = new Float64Array(entries.length + 5);
          entries.forEach(([, ts], i) => (timestamps[i] = ts));
          const buffer = serializer.serialize(values, timestamps, entries.length);
          expect(buffer).toBeInstanceOf(ArrayBuffer);
          const batch = serializer.deserialize(buffer);
          expect(batch.length).toBe(entries.length);
          expect(batch.values).toEqual(values);
          expect(Array.from(batch.timestamps)).toEqual(entries.map(([, ts]) => ts));
        },
      ),
    );
  });

  it('keeps Map, Set, Date, undefined and large bigints', () => {
    const serializer = new BatchSerializer();
    const values = [new Map([['a', 1]]), new Set([1, 2]), new Date(5), undefined, 2n ** 70n, { nested: [1n] }];
    const batch = serializer.deserialize(serializer.serialize(values, new Float64Array(6), 6));
    expect(batch.values).toEqual(values);
  });

  it('serializes only the first `count` entries of a larger buffer', () => {
    const serializer = new BatchSerializer();
    const batch = serializer.deserialize(serializer.serialize(['a', 'b', 'c'], new Float64Array([1, 2, 3]), 2));
    expect(batch.values).toEqual(['a', 'b']);
    expect(Array.from(batch.timestamps)).toEqual([1, 2]);
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  prefixEnd,
  readSortableTimestamp,
  RowKeyBuilder,
  RowKeyReader,
  writeSortableTimestamp,
} from '../../../src/state/rocksdb/key-layout.ts';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
const compareBytes = (a: Uint8Array, b: Uint8Array) => Buffer.compare(a, b);

const scalar = fc.oneof(fc.string({ maxLength: 5 }), fc.integer({ min: -5, max: 300 }), fc.constantFrom(0, 1.5, null, true, 2n ** 64n));
const key = fc.oneof(scalar, fc.array(scalar, { maxLength: 3 }), fc.dictionary(fc.constantFrom('a', 'b'), scalar));

describe('RocksDB key layout', () => {
  it('pins the bytes of state and timer rows', () => {
    const rows = new RowKeyBuilder();
    // [keyGroup 0x0003][len 3]['a' canonical][namespace: none]
    expect(hex(rows.beginRow(3, 'a').namespace(0).copy())).toBe('0003' + '03' + '200161' + '00');
    // a window namespace [0, 10] is its canonical encoding, length-prefixed; then a map user key
    expect(hex(rows.beginRow(300, 'a').namespace([0, 10]).userKey(7).copy())).toBe(
      '012c' + '03200161' + '14' + '3002' + '100000000000000000' + '10000000000000000a' + '100000000000000007',
    );
    // timestamp 1 as sortable float64 (sign bit flipped), then key group, key, namespace
    expect(hex(rows.beginTimer(1, 3, 'a').namespace(0).copy())).toBe('bff0000000000000' + '0003' + '03200161' + '00');
  });

  it('law: a [keyGroup][key][namespace] prefix starts exactly the rows of that key and namespace', () => {
    const rows = new RowKeyBuilder();
    fc.assert(
      fc.property(key, key, fc.oneof(fc.constant(0), key), fc.oneof(fc.constant(0), key), key, (k1, k2, n1, n2, userKey) => {
        const prefix = rows.beginRow(5, k1).namespace(n1).copy();
        const other = rows.beginRow(5, k2).namespace(n2).userKey(userKey).copy();
        const isSame = hex(rows.beginRow(5, k1).namespace(n1).copy()) === hex(rows.beginRow(5, k2).namespace(n2).copy());
        const startsWith = other.length >= prefix.length && hex(other.subarray(0, prefix.length)) === hex(prefix);
        expect(startsWith).toBe(isSame);
        // and it lies in [prefix, prefixEnd(prefix)) exactly then
        const isInRange = compareBytes(other, prefix) >= 0 && compareBytes(other, prefixEnd(prefix)) < 0;
        expect(isInRange).toBe(isSame);
      }),
      { numRuns: 1_000 },
    );
  });

  it('reads the parts of a row back', () => {
    const rows = new RowKeyBuilder();
    const reader = new RowKeyReader();
    reader.readRow(rows.beginRow(77, { user: 'x', n: 2 }).namespace([5, 6]).userKey('uk').copy());
    expect([reader.keyGroup, reader.key(), reader.namespacePlain(), reader.userKey()]).toEqual([77, { n: 2, user: 'x' }, [5, 6], 'uk']);
    reader.readRow(rows.beginRow(1, 'k').namespace(0).copy());
    expect(reader.namespacePlain()).toBe(0);
    reader.readTimer(rows.beginTimer(-12.5, 9, ['c', 1]).namespace('w').copy());
    expect([reader.timestampMs, reader.keyGroup, reader.key(), reader.namespacePlain()]).toEqual([-12.5, 9, ['c', 1], 'w']);
  });

  it('law: sortable timestamps compare bytewise like the numbers, and read back', () => {
    const bytesOf = (value: number) => {
      const bytes = new Uint8Array(8);
      writeSortableTimestamp(bytes, new DataView(bytes.buffer), 0, value);
      return bytes;
    };
    const edges = fc.constantFrom(Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, -0, 0);
    const timestamp = fc.oneof(fc.double({ noNaN: true }), fc.integer(), edges);
    fc.assert(
      fc.property(timestamp, timestamp, (a, b) => {
        const order = Math.sign(compareBytes(bytesOf(a), bytesOf(b)));
        expect(order).toBe(a < b ? -1 : a > b ? 1 : 0);
        expect(readSortableTimestamp(bytesOf(a), 0)).toBe(a === 0 ? 0 : a);
      }),
      { numRuns: 2_000 },
    );
    expect(() => bytesOf(Number.NaN)).toThrow(/NaN/);
  });

  it('sorts timer rows by timestamp, then key group', () => {
    const rows = new RowKeyBuilder();
    const timers = [
      [5, 2, 'b'],
      [5, 1, 'z'],
      [-3, 7, 'a'],
      [5, 1, 'a'],
      [100, 0, 'a'],
    ] as const;
    const sorted = timers
      .map(([timestamp, keyGroup, k]) => ({ timestamp, keyGroup, k, bytes: rows.beginTimer(timestamp, keyGroup, k).namespace(0).copy() }))
      .sort((a, b) => compareBytes(a.bytes, b.bytes))
      .map(({ timestamp, keyGroup, k }) => [timestamp, keyGroup, k]);
    expect(sorted).toEqual([
      [-3, 7, 'a'],
      [5, 1, 'a'],
      [5, 1, 'z'],
      [5, 2, 'b'],
      [100, 0, 'a'],
    ]);
  });
});

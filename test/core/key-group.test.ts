import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../src/core/errors.ts';
import { encodeKey } from '../../src/core/key-codec.ts';
import {
  assignToKeyGroup,
  checkParallelism,
  computeKeyGroupRangeForOperatorIndex,
  computeOperatorIndexForKeyGroup,
  KeyGroupRange,
  UPPER_BOUND_MAX_PARALLELISM,
} from '../../src/core/key-group.ts';
import { KEY_GROUP_HASH_SEED, murmur3x86_32 } from '../../src/core/murmur3.ts';

const maxAndParallelism = fc
  .integer({ min: 1, max: UPPER_BOUND_MAX_PARALLELISM })
  .chain((maxParallelism) => fc.tuple(fc.constant(maxParallelism), fc.integer({ min: 1, max: Math.min(maxParallelism, 500) })));

describe('key groups', () => {
  it('pins the key group of fixed keys (the checkpoint format must not change silently)', () => {
    const pinned: Array<[unknown, number, number]> = [
      [0, 43, 9259],
      [1, 76, 2636],
      [42, 12, 1420],
      [-1, 44, 4780],
      ['a', 90, 26330],
      ['user-1', 98, 16354],
      ['hello', 7, 17287],
      [true, 31, 20639],
      [null, 55, 10423],
      [[1, 'x'], 59, 3771],
      [{ b: 1, a: 2 }, 77, 20045],
      [10n, 110, 9326],
      [1.5, 120, 14968],
    ];
    for (const [key, at128, at32768] of pinned) {
      expect(assignToKeyGroup(key, 128), String(key)).toBe(at128);
      expect(assignToKeyGroup(key, 32_768), String(key)).toBe(at32768);
    }
  });

  it('is murmur3 (seed 0) of the canonical bytes, modulo maxParallelism', () => {
    expect(assignToKeyGroup('a', 128)).toBe(murmur3x86_32(Uint8Array.of(0x20, 0x01, 0x61), 3, 0) % 128);
  });

  it('law: the safe-integer fast path equals hashing the canonical encoding', () => {
    fc.assert(
      fc.property(fc.oneof(fc.integer(), fc.maxSafeInteger(), fc.constant(-0)), fc.integer({ min: 1, max: 32_768 }), (key, m) => {
        expect(assignToKeyGroup(key, m)).toBe(murmur3x86_32(encodeKey(key), undefined, KEY_GROUP_HASH_SEED) % m);
      }),
    );
  });

  it('law: every key lands in [0, maxParallelism)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.integer(), fc.double(), fc.array(fc.string(), { maxLength: 3 })), fc.integer({ min: 1, max: 32_768 }), (key, m) => {
        const keyGroup = assignToKeyGroup(key, m);
        expect(Number.isInteger(keyGroup) && keyGroup >= 0 && keyGroup < m).toBe(true);
      }),
    );
  });

  it("uses Flink's range arithmetic", () => {
    const ranges = [0, 1, 2].map((i) => computeKeyGroupRangeForOperatorIndex(128, 3, i));
    expect(ranges.map((r) => [r.start, r.end])).toEqual([
      [0, 43],
      [43, 86],
      [86, 128],
    ]);
    expect(computeOperatorIndexForKeyGroup(128, 3, 42)).toBe(0);
    expect(computeOperatorIndexForKeyGroup(128, 3, 43)).toBe(1);
    expect(computeOperatorIndexForKeyGroup(128, 3, 127)).toBe(2);
  });

  it('law: the ranges of p subtasks partition [0, M) contiguously, and the operator index is their inverse', () => {
    fc.assert(
      fc.property(maxAndParallelism, ([m, p]) => {
        let expectedStart = 0;
        for (let i = 0; i < p; i++) {
          const range = computeKeyGroupRangeForOperatorIndex(m, p, i);
          expect(range.start).toBe(expectedStart);
          expect(range.size).toBeGreaterThanOrEqual(1);
          expect(range.size).toBeLessThanOrEqual(Math.ceil(m / p));
          for (const keyGroup of [range.start, range.end - 1, (range.start + range.end) >> 1]) {
            expect(computeOperatorIndexForKeyGroup(m, p, keyGroup)).toBe(i);
          }
          expectedStart = range.end;
        }
        expect(expectedStart).toBe(m);
      }),
      { numRuns: 300 },
    );
  });

  it('law: every key group maps to an operator whose range contains it', () => {
    fc.assert(
      fc.property(maxAndParallelism.chain(([m, p]) => fc.tuple(fc.constant(m), fc.constant(p), fc.nat(m - 1))), ([m, p, keyGroup]) => {
        const index = computeOperatorIndexForKeyGroup(m, p, keyGroup);
        expect(index >= 0 && index < p).toBe(true);
        expect(computeKeyGroupRangeForOperatorIndex(m, p, index).contains(keyGroup)).toBe(true);
      }),
    );
  });

  it('rejects bad parallelism with a sentence', () => {
    expect(() => checkParallelism(0, 1)).toThrow(ConfigurationError);
    expect(() => checkParallelism(32_769, 1)).toThrow(/maxParallelism must be a whole number in \[1, 32768\], got 32769/);
    expect(() => computeKeyGroupRangeForOperatorIndex(4, 5, 0)).toThrow(/parallelism must be .* got 5/);
    expect(() => checkParallelism(8, 1.5)).toThrow(ConfigurationError);
  });

  it('KeyGroupRange is [start, end)', () => {
    const range = new KeyGroupRange(3, 7);
    expect(range.size).toBe(4);
    expect(range.contains(3)).toBe(true);
    expect(range.contains(7)).toBe(false);
    expect(String(range)).toBe('[3, 7)');
  });
});

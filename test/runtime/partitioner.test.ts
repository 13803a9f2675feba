import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../src/core/errors.ts';
import { assignToKeyGroup, computeKeyGroupRangeForOperatorIndex } from '../../src/core/key-group.ts';
import { createPartitioner } from '../../src/runtime/partitioner.ts';

const options = (numChannels: number, maxParallelism = 128, subtask = 0) => ({
  numChannels,
  maxParallelism,
  subtask,
  edgeDescription: "'a' ▶ 'b'",
});

describe('partitioners', () => {
  it('hash routes every key to the subtask that owns its key group', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.integer(), fc.array(fc.oneof(fc.string(), fc.integer()), { maxLength: 3 })),
        fc.integer({ min: 1, max: 256 }),
        fc.integer({ min: 1, max: 64 }),
        (key, maxParallelism, requested) => {
          const parallelism = Math.min(requested, maxParallelism);
          const partitioner = createPartitioner({ kind: 'hash', keySelector: (v) => v }, options(parallelism, maxParallelism));
          const channel = partitioner.selectChannel(key);
          const keyGroup = assignToKeyGroup(key, maxParallelism);
          expect(computeKeyGroupRangeForOperatorIndex(maxParallelism, parallelism, channel).contains(keyGroup)).toBe(true);
        },
      ),
    );
  });

  it('rebalance cycles through all channels, starting at the producer index', () => {
    const partitioner = createPartitioner({ kind: 'rebalance' }, options(3, 128, 1));
    expect(Array.from({ length: 7 }, () => partitioner.selectChannel(undefined))).toEqual([1, 2, 0, 1, 2, 0, 1]);
  });

  it('global sends to channel 0; broadcast is flagged for the writer', () => {
    expect(createPartitioner({ kind: 'global' }, options(4)).selectChannel('x')).toBe(0);
    expect(createPartitioner({ kind: 'broadcast' }, options(4)).isBroadcast).toBe(true);
    expect(createPartitioner({ kind: 'forward' }, options(1)).isBroadcast).toBe(false);
  });

  it('custom uses the function and rejects an out-of-range answer with a clear error', () => {
    const partitioner = createPartitioner(
      { kind: 'custom', keySelector: (v) => v, partitioner: (key, n) => (key as number) % (n + 1) },
      options(3),
    );
    expect(partitioner.selectChannel(5)).toBe(1);
    expect(() => partitioner.selectChannel(7)).toThrowError(
      new ConfigurationError(
        "custom partitioner of edge 'a' ▶ 'b' must return a whole number in [0, 3) (the number of partitions), got 3",
      ),
    );
  });
});

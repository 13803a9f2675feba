import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../../src/core/errors.ts';
import { ManualClock } from '../../../src/core/time.ts';
import { SeededRandom, TokenBucket, generatorSource } from '../../../connectors/generator/index.ts';
import type { GeneratorSourceOptions, GeneratorSplit } from '../../../connectors/generator/index.ts';
import { RecordingEnumeratorContext, RecordingOutput, pollBatches, readerContext } from '../connector-test-kit.ts';

interface Generated {
  readonly index: number;
  readonly a: number;
  readonly b: number;
}

const generate = (index: number, random: SeededRandom): Generated => ({ index, a: random.next(), b: random.nextInt(1000) });

function expectedRecords(count: number, seed: number): Generated[] {
  const records: Generated[] = [];
  for (let i = 0; i < count; i++) records.push(generate(i, SeededRandom.forRecord(seed, i)));
  return records;
}

async function assignedSplits(options: GeneratorSourceOptions<Generated>, parallelism: number) {
  const context = new RecordingEnumeratorContext<GeneratorSplit>(parallelism);
  await generatorSource(options).createEnumerator(context).start();
  return context;
}

/** Runs each subtask's reader to the end; returns every subtask's output. */
async function runAll(options: GeneratorSourceOptions<Generated>, parallelism: number) {
  const context = await assignedSplits(options, parallelism);
  const outputs: RecordingOutput<Generated>[] = [];
  for (let subtask = 0; subtask < parallelism; subtask++) {
    const reader = generatorSource(options).createReader(readerContext(subtask, parallelism));
    await reader.start();
    reader.addSplits(context.splitsOf(subtask));
    reader.notifyNoMoreSplits();
    const output = new RecordingOutput<Generated>();
    await pollBatches(reader, output);
    outputs.push(output);
    await reader.close();
  }
  return outputs;
}

function byIndex(records: readonly Generated[]): Generated[] {
  return [...records].sort((x, y) => x.index - y.index);
}

describe('SeededRandom', () => {
  it('is deterministic per (seed, index) and stays in range', () => {
    fc.assert(
      fc.property(fc.integer(), fc.nat({ max: Number.MAX_SAFE_INTEGER }), fc.integer({ min: 1, max: 2 ** 40 }), (seed, index, n) => {
        const first = SeededRandom.forRecord(seed, index);
        const second = SeededRandom.forRecord(seed, index);
        for (let k = 0; k < 5; k++) {
          const x = first.next();
          expect(x).toBe(second.next());
          expect(x).toBeGreaterThanOrEqual(0);
          expect(x).toBeLessThan(1);
          const i = first.nextInt(n);
          expect(i).toBe(second.nextInt(n));
          expect(Number.isInteger(i) && i >= 0 && i < n).toBe(true);
        }
      }),
    );
  });

  it('gives neighbouring indices and seeds different streams', () => {
    const firsts = new Set<number>();
    for (let i = 0; i < 1000; i++) firsts.add(SeededRandom.forRecord(7, i).next());
    for (let seed = 0; seed < 1000; seed++) firsts.add(SeededRandom.forRecord(seed, 2 ** 40).next());
    expect(firsts.size).toBe(2000);
  });

  it('pins its output, which jobs depend on for reproducible data', () => {
    const random = SeededRandom.forRecord(0, 0);
    expect([random.nextInt(1_000_000), random.nextInt(1_000_000), random.nextInt(1_000_000)]).toEqual([516726, 800747, 731358]);
    const far = SeededRandom.forRecord(42, 2 ** 40 + 3);
    expect([far.next(), far.nextInt(2 ** 40)]).toEqual([0.7982816621661186, 115898376945]);
    expect(new SeededRandom(5).next()).toBe(SeededRandom.forRecord(5, 0).next());
    expect(() => random.nextInt(0)).toThrow(RangeError);
    expect(random.pick(['only'])).toBe('only');
  });
});

describe('generator source', () => {
  it.each([1, 2, 3, 4])('assigns split k of 4 to subtask k mod %i and signals no more splits', async (parallelism) => {
    const context = await assignedSplits({ count: 10, generate }, parallelism);
    for (let subtask = 0; subtask < parallelism; subtask++) {
      expect(context.splitsOf(subtask).map((s) => s.splitIndex)).toEqual([0, 1, 2, 3].filter((k) => k % parallelism === subtask));
    }
    expect(context.splitsOf(0)[0]).toEqual({ splitId: 'generator-0-of-4', splitIndex: 0, splitCount: 4, nextIndex: 0 });
    expect(context.noMoreSplits.sort()).toEqual([...Array(parallelism).keys()]);
  });

  it('generates every index once, identically at any split count and parallelism (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: 5000 }),
        fc.integer({ min: 1, max: 7 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer(),
        async (count, splits, parallelism, seed) => {
          const outputs = await runAll({ count, splits, seed, generate }, parallelism);
          const all = outputs.flatMap((output) => output.values());
          expect(byIndex(all)).toEqual(expectedRecords(count, seed));
          for (const output of outputs) {
            // Within a split, indices increase and are ≡ k (mod splits).
            const lastBySplit = new Map<string, number>();
            for (const event of output.events) {
              if (event.kind !== 'record') continue;
              const k = Number(event.splitId.split('-')[1]);
              expect(event.value.index % splits).toBe(k);
              expect(event.value.index).toBeGreaterThan(lastBySplit.get(event.splitId) ?? -1);
              lastBySplit.set(event.splitId, event.value.index);
            }
          }
          expect(outputs.flatMap((output) => output.finished()).sort()).toEqual(
            [...Array(splits).keys()].map((k) => `generator-${k}-of-${splits}`).sort(),
          );
        },
      ),
      { numRuns: 40 },
    );
  });

  it('ends batches at split ordinals that are multiples of 1000', async () => {
    const [output] = await runAll({ count: 5000, splits: 2, generate }, 1);
    const reader = generatorSource({ count: 5000, splits: 2, generate }).createReader(readerContext(0, 1));
    reader.addSplits([{ splitId: 's', splitIndex: 1, splitCount: 2, nextIndex: 1 + 2 * 250 }]);
    reader.notifyNoMoreSplits();
    const { batches } = await pollBatches(reader, new RecordingOutput<Generated>());
    expect(batches.map((b) => b.records)).toEqual([750, 1000, 500]);
    expect(output!.values()).toHaveLength(5000);
  });

  it('restored from any snapshot, at any parallelism, continues with the same records (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: 6000 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.nat({ max: 4 }), { minLength: 1, maxLength: 4 }),
        async (count, splits, parallelism, restoredParallelism, stops) => {
          const options = { count, splits, seed: 42, generate };
          const context = await assignedSplits(options, parallelism);
          const collected: Generated[] = [];
          // Phase 1: each subtask polls a few batches, then all snapshot.
          const state: GeneratorSplit[] = [];
          for (let subtask = 0; subtask < parallelism; subtask++) {
            const reader = generatorSource(options).createReader(readerContext(subtask, parallelism));
            reader.addSplits(context.splitsOf(subtask));
            reader.notifyNoMoreSplits();
            const output = new RecordingOutput<Generated>();
            await pollBatches(reader, output, stops[subtask % stops.length]!);
            collected.push(...output.values());
            state.push(...(JSON.parse(JSON.stringify(reader.snapshotState(1))) as GeneratorSplit[]));
            await reader.close();
          }
          // Phase 2: the restored splits, dealt round-robin at another parallelism.
          for (let subtask = 0; subtask < restoredParallelism; subtask++) {
            const reader = generatorSource(options).createReader(readerContext(subtask, restoredParallelism));
            reader.addSplits(state.filter((_, i) => i % restoredParallelism === subtask));
            reader.notifyNoMoreSplits();
            const output = new RecordingOutput<Generated>();
            await pollBatches(reader, output);
            collected.push(...output.values());
            await reader.close();
          }
          expect(byIndex(collected)).toEqual(expectedRecords(count, 42));
        },
      ),
      { numRuns: 40 },
    );
  });

  it('without count is unbounded and keeps producing, taking its splits in turn', async () => {
    const source = generatorSource({ splits: 3, generate });
    expect(source.boundedness).toBe('unbounded');
    const reader = source.createReader(readerContext(0, 1));
    reader.addSplits(source.initialSplits());
    reader.notifyNoMoreSplits();
    const output = new RecordingOutput<Generated>();
    const { batches, status } = await pollBatches(reader, output, 7);
    expect(status).toBe('more-available');
    expect(batches.map((b) => b.splitIds[0])).toEqual([
      'generator-0-of-3',
      'generator-1-of-3',
      'generator-2-of-3',
      'generator-0-of-3',
      'generator-1-of-3',
      'generator-2-of-3',
      'generator-0-of-3',
    ]);
    expect(output.finished()).toEqual([]);
    expect(reader.describeLastRecord('generator-0-of-3')).toBe('generator split generator-0-of-3, record 8997');
  });

  it('paces output with a token bucket on the injected clock; pacing never changes content', async () => {
    const clock = new ManualClock(1_000);
    // 200 records/s over 2 splits: 100/s per split, batches of 10 records.
    const options = { count: 400, splits: 2, ratePerSecond: 200, generate, clock };
    const source = generatorSource(options);
    const reader = source.createReader(readerContext(0, 1));
    reader.addSplits(source.initialSplits());
    reader.notifyNoMoreSplits();
    const output = new RecordingOutput<Generated>();
    // Each split starts with one batch of tokens.
    expect(reader.pollNext(output)).toBe('more-available');
    expect(reader.pollNext(output)).toBe('nothing-available');
    expect(reader.pollNext(output)).toBe('nothing-available');
    expect(output.values()).toHaveLength(20);
    clock.advance(50); // 5 tokens per split: not a whole batch
    expect(reader.pollNext(output)).toBe('nothing-available');
    clock.advance(50);
    expect(reader.pollNext(output)).toBe('more-available');
    expect(reader.pollNext(output)).toBe('nothing-available');
    expect(output.values()).toHaveLength(40);
    // Over t ms, at most one second of burst plus rate · t records.
    let elapsedMs = 100;
    while (reader.pollNext(output) !== 'end-of-input') {
      clock.advance(37);
      elapsedMs += 37;
      expect(output.values().length).toBeLessThanOrEqual(20 + (200 * elapsedMs) / 1000);
    }
    expect(byIndex(output.values())).toEqual(expectedRecords(400, 0));
    expect(elapsedMs).toBeGreaterThanOrEqual(1_800 - 37);
    await reader.close();
  });

  it('isAvailable resolves when the token bucket refills', async () => {
    // Batches of 20; the second (10 records) needs 10 more tokens: about 50 ms of real time.
    const source = generatorSource({ count: 30, splits: 1, ratePerSecond: 200, generate });
    const reader = source.createReader(readerContext(0, 1));
    reader.addSplits(source.initialSplits());
    reader.notifyNoMoreSplits();
    const output = new RecordingOutput<Generated>();
    expect(reader.pollNext(output)).toBe('nothing-available');
    const { batches, status } = await pollBatches(reader, output);
    expect(status).toBe('end-of-input');
    expect([20, ...batches.map((b) => b.records)]).toEqual([20, 10]);
    expect(output.values()).toHaveLength(30);
    await reader.close();
  });

  it('validates its options when the graph is built', () => {
    expect(() => generatorSource({ count: -1, generate })).toThrow(ConfigurationError);
    expect(() => generatorSource({ count: 1.5, generate })).toThrow('count must be a non-negative integer');
    expect(() => generatorSource({ splits: 0, generate })).toThrow('splits must be an integer from 1 to 1000000, got 0');
    expect(() => generatorSource({ ratePerSecond: 0, generate })).toThrow('ratePerSecond must be > 0');
    expect(() => generatorSource({ seed: 0.5, generate })).toThrow('seed must be a safe integer');
    expect(generatorSource({ count: 10, generate }).describe()).toBe('generator(count=10, splits=4)');
  });
});

describe('TokenBucket', () => {
  it('accrues tokens at the rate up to the capacity', () => {
    const clock = new ManualClock(0);
    const bucket = new TokenBucket(10, 5, clock, 0);
    expect(bucket.tryAcquire(1)).toBe(false);
    expect(bucket.msUntilAvailable(3)).toBe(300);
    clock.advance(300);
    expect(bucket.msUntilAvailable(3)).toBe(0);
    expect(bucket.tryAcquire(3)).toBe(true);
    clock.advance(10_000);
    expect(bucket.tryAcquire(6)).toBe(false);
    expect(bucket.tryAcquire(5)).toBe(true);
    expect(bucket.tryAcquire(1)).toBe(false);
  });
});

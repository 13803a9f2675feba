import { beforeEach, describe, expect, it } from 'vitest';
import { MAX_WATERMARK, MIN_WATERMARK } from '../../src/core/time.ts';
import { executeJob } from '../../src/runtime/local-executor.ts';
import { GraphBuilder, KeyedCountOperator, MapTestOperator, collected, events, hashBy, listSource, resetCollected } from './test-graph.ts';

function isNonDecreasing(values: readonly number[]): boolean {
  for (let i = 1; i < values.length; i++) if (values[i]! < values[i - 1]!) return false;
  return true;
}

describe('watermark propagation', () => {
  beforeEach(resetCollected);

  it('passes a hash edge while source subtasks without splits are idle, and ends with MAX_WATERMARK', async () => {
    // 4 source subtasks, 2 splits: subtasks 2 and 3 never get a split and must not hold the watermark back.
    const g = new GraphBuilder();
    const src = g.source('src', listSource([events(10_000, 10), events(10_000, 10)], { recordsPerPoll: 100 }), { parallelism: 4 });
    const map = g.operator('map', 'map', () => new MapTestOperator((v) => v), { parallelism: 2 });
    const sink = g.sink('out', { parallelism: 2 });
    g.edge(src, map, hashBy((v) => (v as { key: string }).key)).edge(map, sink);
    await executeJob(g.build(), { workers: 0, batchSize: 50, channelCredits: 2 });

    const out = collected.get('out')!;
    expect(out.values).toHaveLength(20_000);
    for (const subtask of [0, 1]) {
      const watermarks = out.watermarks.get(subtask)!;
      expect(isNonDecreasing(watermarks)).toBe(true);
      expect(watermarks.at(-1)).toBe(MAX_WATERMARK);
      // Event-time progress arrived before the end of input: idle subtasks did not stall the valve.
      expect(watermarks.some((w) => w > MIN_WATERMARK && w < MAX_WATERMARK)).toBe(true);
      // Never marked idle downstream: the two reading subtasks stayed active.
      expect(out.statuses.get(subtask)!.filter((isIdle) => isIdle)).toEqual([]);
    }
  });

  it('forwards the minimum over the reading subtasks, never ahead of the slower one', async () => {
    // Every subtask reads: the output watermark is the minimum over both, per batch, never ahead of either.
    const g = new GraphBuilder();
    const early = events(1_000, 3, 0);
    const late = events(1_000, 3, 1_000_000);
    const src = g.source('src', listSource([early, late], { recordsPerPoll: 100 }), { parallelism: 2 });
    const sink = g.sink('out', { parallelism: 1 });
    g.edge(src, sink, { kind: 'rebalance' });
    await executeJob(g.build(), { workers: 0 });
    const watermarks = collected.get('out')!.watermarks.get(0)!;
    expect(isNonDecreasing(watermarks)).toBe(true);
    // Until the early split ends, no watermark passes its last timestamp (999).
    const beforeMax = watermarks.filter((w) => w < MAX_WATERMARK);
    expect(beforeMax.every((w) => w <= 999 || w >= 1_000_000)).toBe(true);
    expect(watermarks.at(-1)).toBe(MAX_WATERMARK);
  });

  it('at end of input every operator sees MAX_WATERMARK before finishing, so buffered results come out', async () => {
    const g = new GraphBuilder();
    const src = g.source('src', listSource([events(999, 7)]));
    const count = g.operator('count', 'process', () => new KeyedCountOperator((v) => (v as { key: string }).key), {
      uid: 'count',
      isStateful: true,
      parallelism: 3,
    });
    const sink = g.sink('out', { parallelism: 3 });
    g.edge(src, count, hashBy((v) => (v as { key: string }).key)).edge(count, sink);
    await executeJob(g.build(), { workers: 0 });
    const out = collected.get('out')!;
    const counts = new Map((out.values as Array<{ key: string; count: number }>).map((r) => [r.key, r.count]));
    expect([...counts.values()].reduce((a, b) => a + b, 0)).toBe(999);
    expect(counts.size).toBe(7);
    for (const subtask of [0, 1, 2]) expect(out.watermarks.get(subtask)!.at(-1)).toBe(MAX_WATERMARK);
    expect(out.endedSubtasks.sort()).toEqual([0, 1, 2]);
  });
});

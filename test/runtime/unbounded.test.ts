import { beforeEach, describe, expect, it } from 'vitest';
import type { InputStatus, ReaderOutput, Source, SourceSplit } from '../../src/connector/source.ts';
import { EddyError } from '../../src/core/errors.ts';
import { WatermarkStrategy } from '../../src/time/watermark-strategy.ts';
import { executeJob } from '../../src/runtime/local-executor.ts';
import { GraphBuilder, collected, resetCollected } from './test-graph.ts';

/** An unbounded source that emits `count` records once, then has nothing more (but never ends). */
function trickleSource(count: number): Source<unknown, SourceSplit> {
  return {
    boundedness: 'unbounded',
    watermarkEmission: 'periodic',
    describe: () => 'trickle',
    createEnumerator: (context) => ({
      start: async () => context.assignSplits(0, [{ splitId: 'only' }]),
      addReader: () => {},
      addSplitsBack: () => {},
      handleSplitRequest: () => {},
      snapshotState: () => ({ unassigned: [] }),
      close: async () => {},
    }),
    createReader: () => {
      let emitted = 0;
      let hasSplit = false;
      return {
        start: async () => {},
        addSplits: () => {
          hasSplit = true;
        },
        notifyNoMoreSplits: () => {},
        pollNext: (output: ReaderOutput<unknown>): InputStatus => {
          while (hasSplit && emitted < count) output.collect('only', emitted++, Number.NaN);
          return 'nothing-available';
        },
        isAvailable: () => new Promise<void>(() => {}),
        describeLastRecord: () => 'trickle',
        snapshotState: () => [],
        close: async () => {},
      };
    },
  };
}

async function waitFor(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
}

describe('unbounded sources', () => {
  beforeEach(resetCollected);

  it('a partly filled batch is sent on the buffer timeout; aborting cancels the job', async () => {
    const g = new GraphBuilder();
    const src = g.source('src', trickleSource(5), { strategy: WatermarkStrategy.noWatermarks<unknown>(), parallelism: 1 });
    const sink = g.sink('out', { parallelism: 2 });
    g.edge(src, sink, { kind: 'rebalance' });
    const controller = new AbortController();
    const running = executeJob(g.build(), { workers: 0, bufferTimeoutMs: 10, signal: controller.signal });
    await waitFor(() => (collected.get('out')?.values.length ?? 0) === 5);
    expect([...collected.get('out')!.values].sort()).toEqual([0, 1, 2, 3, 4]);
    controller.abort();
    await expect(running).rejects.toBeInstanceOf(EddyError);
    await expect(running).rejects.toThrow('the job was cancelled');
  });
});

import { beforeEach, describe, expect, it } from 'vitest';
import { planJob } from '../../src/graph/plan.ts';
import { OperatorBase } from '../../src/operators/operator-base.ts';
import { systemClock } from '../../src/core/time.ts';
import { startInProcessJob } from '../../src/runtime/local-executor.ts';
import { GraphBuilder, MapTestOperator, events, listSource, resetCollected } from './test-graph.ts';

/** A sink that stops accepting input after its first batch until the test opens the gate. */
class GatedSink extends OperatorBase<never> {
  static received = 0;
  static gate: Promise<void> = Promise.resolve();
  static isOpen = false;

  processRecord(): void {
    this.metrics.recordsIn++;
    GatedSink.received++;
  }

  waitUntilReady(): Promise<void> | undefined {
    return GatedSink.received > 0 && !GatedSink.isOpen ? GatedSink.gate : undefined;
  }
}

const settings = {
  clock: systemClock,
  batchSize: 100,
  maxBatchBytes: 1 << 20,
  bufferTimeoutMs: 100,
  channelCredits: 2,
  onBadRecord: 'fail' as const,
  stateBackend: { kind: 'memory' } as const,
  progressIntervalMs: 1000,
};

/** A sink that always answers with an already-resolved promise: must still make progress. */
class SloppySink extends OperatorBase<never> {
  processRecord(): void {
    this.metrics.recordsIn++;
  }

  waitUntilReady(): Promise<void> | undefined {
    return Promise.resolve();
  }
}

describe('credit-based backpressure', () => {
  it('makes progress when an operator keeps returning resolved readiness promises', async () => {
    const g = new GraphBuilder();
    const src = g.source('src', listSource([events(5_000, 3)]));
    const sink = g.operator('sink', 'sink', () => new SloppySink(), { uid: 'sink', isSink: true, isStateful: true });
    g.edge(src, sink);
    const job = await startInProcessJob(planJob(g.build(1)), settings);
    const result = await job.result;
    expect(result.operators[1]!.metrics.recordsIn).toBe(5_000);
  });

  beforeEach(resetCollected);

  it('a blocked sink stops the source: bounded records read, bounded batches in flight', async () => {
    const total = 200_000;
    const counter = { emitted: 0, polls: 0 };
    let open!: () => void;
    GatedSink.received = 0;
    GatedSink.isOpen = false;
    GatedSink.gate = new Promise((resolve) => {
      open = () => {
        GatedSink.isOpen = true;
        resolve();
      };
    });

    const g = new GraphBuilder();
    const src = g.source('src', listSource([events(total, 7)], { recordsPerPoll: 100, counter }));
    const map = g.operator('map', 'map', () => new MapTestOperator((v) => v), { parallelism: 2 });
    const sink = g.operator('sink', 'sink', () => new GatedSink(), { uid: 'sink', isSink: true, isStateful: true, parallelism: 2 });
    g.edge(src, map, { kind: 'rebalance' }).edge(map, sink, { kind: 'forward' });
    g.nodes[sink - 1]!.chainingStrategy = 'head';
    const job = await startInProcessJob(planJob(g.build(1)), settings);

    // Stalled: no task can progress while the sinks wait.
    do {
      await new Promise((resolve) => setImmediate(resolve));
      await job.taskManager.whenIdle();
    } while (GatedSink.received === 0);
    const readWhileBlocked = counter.emitted;
    // Per channel: 2 credits + 1 batch being processed + 1 buffer filling, over 2 hops and 2 subtasks,
    // plus one poll: at most a few thousand records, nowhere near the 200,000 available.
    expect(readWhileBlocked).toBeLessThan(2_000);
    expect(readWhileBlocked).toBeGreaterThan(0);
    expect(job.taskManager.maxQueuedBatches()).toBeLessThanOrEqual(2);
    // Still stalled on a later look: the source really stopped polling.
    const polls = counter.polls;
    await new Promise((resolve) => setImmediate(resolve));
    await job.taskManager.whenIdle();
    expect(counter.polls).toBe(polls);

    open();
    const result = await job.result;
    expect(GatedSink.received).toBe(total);
    expect(job.taskManager.maxQueuedBatches()).toBeLessThanOrEqual(2);
    expect(result.operators.find((o) => o.uid === 'sink')!.metrics.recordsIn).toBe(total);
  });
});

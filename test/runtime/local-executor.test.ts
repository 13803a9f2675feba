import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { BadRecordError, ConfigurationError, UserFunctionError } from '../../src/core/errors.ts';
import { assignToKeyGroup, computeOperatorIndexForKeyGroup } from '../../src/core/key-group.ts';
import { OutputTag } from '../../src/core/output-tag.ts';
import { ManualClock } from '../../src/core/time.ts';
import { OperatorBase } from '../../src/operators/operator-base.ts';
import { WatermarkStrategy } from '../../src/time/watermark-strategy.ts';
import { executeJob } from '../../src/runtime/local-executor.ts';
import {
  GraphBuilder,
  KeyedCountOperator,
  MapTestOperator,
  collected,
  events,
  hashBy,
  listSource,
  resetCollected,
  type Event,
} from './test-graph.ts';

const keyOf = (v: unknown): string => (v as Event).key;

function keyedCountJob(parallelism: number) {
  const g = new GraphBuilder();
  const src = g.source('src', listSource([events(5_000, 13), events(3_000, 13, 10_000), events(10, 2)]), { parallelism: 2 });
  const map = g.operator('map', 'map', () => new MapTestOperator((v) => v), { parallelism: 2 });
  const count = g.operator('count', 'process', () => new KeyedCountOperator(keyOf), { uid: 'count', isStateful: true, parallelism });
  const sink = g.sink('out', { parallelism });
  g.edge(src, map).edge(map, count, hashBy(keyOf)).edge(count, sink);
  return g.build(1, 128);
}

describe('executeJob in-process', () => {
  beforeEach(resetCollected);

  it.each([1, 2, 4])('keyed count at parallelism %i: every key counted once, by the owner of its key group', async (p) => {
    const result = await executeJob(keyedCountJob(p), { workers: 0 });
    const rows = collected.get('out')!.values as Array<{ key: string; count: number; subtask: number }>;
    expect(rows).toHaveLength(13);
    expect(rows.reduce((sum, r) => sum + r.count, 0)).toBe(8_010);
    for (const row of rows) {
      expect(row.subtask).toBe(computeOperatorIndexForKeyGroup(128, p, assignToKeyGroup(row.key, 128)));
    }
    const byUid = new Map(result.operators.map((o) => [o.uid, o]));
    expect(byUid.get('src')!.metrics.recordsOut).toBe(8_010);
    expect(byUid.get('count')!.metrics.recordsIn).toBe(8_010);
    expect(byUid.get('count')!.parallelism).toBe(p);
    expect(byUid.get('out')!.metrics.recordsIn).toBe(13);
    expect(result.jobName).toBe('test-job');
  });

  it('fails with the uid and subtask of the operator whose function threw', async () => {
    const g = new GraphBuilder();
    const src = g.source('src', listSource([events(1_000, 3)]));
    const map = g.operator(
      'explode',
      'map',
      () =>
        new MapTestOperator((v) => {
          if ((v as Event).n === 500) throw new Error('boom at 500');
          return v;
        }),
      { uid: 'explode', parallelism: 2 },
    );
    const sink = g.sink('out', { parallelism: 2 });
    g.edge(src, map, { kind: 'rebalance' }).edge(map, sink);
    const failure = executeJob(g.build(), { workers: 0 });
    await expect(failure).rejects.toBeInstanceOf(UserFunctionError);
    await expect(failure).rejects.toThrow(/user function of operator 'explode' \(subtask [01]\) threw: boom at 500/);
  });

  it('rejects a bad timestamp with the record location, by default', async () => {
    const g = new GraphBuilder();
    const values = events(30, 2).map((e, i) => (i === 16 ? { ...e, ts: 'abc' } : e));
    const src = g.source('orders', listSource([values], { recordsPerPoll: 10 }));
    const sink = g.sink('out');
    g.edge(src, sink);
    const failure = executeJob(g.build(), { workers: 0 });
    await expect(failure).rejects.toBeInstanceOf(BadRecordError);
    await expect(failure).rejects.toThrow('split-0:17: timestamp must be an integer epoch-ms, got "abc"');
  });

  it('skips bad records when asked, and counts them', async () => {
    const g = new GraphBuilder();
    const src = g.source('src', listSource([events(100, 2)], { isBad: (v) => (v as Event).n % 10 === 0 }));
    const sink = g.sink('out');
    g.edge(src, sink);
    const result = await executeJob(g.build(), { workers: 0, onBadRecord: 'skip' });
    expect(collected.get('out')!.values).toHaveLength(90);
    expect(result.operators[0]!.metrics.badRecordsSkipped).toBe(10);
  });

  it('dead-letters bad records to a JSON-lines file, and counts them', async () => {
    const deadLetterPath = join(mkdtempSync(join(tmpdir(), 'eddy-dlq-')), 'bad.jsonl');
    const g = new GraphBuilder();
    const src = g.source('src', listSource([events(20, 2)], { isBad: (v) => (v as Event).n === 3 }));
    const sink = g.sink('out');
    g.edge(src, sink);
    const result = await executeJob(g.build(), { workers: 0, onBadRecord: { deadLetterPath } });
    const lines = readFileSync(deadLetterPath, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as unknown);
    expect(lines).toEqual([{ location: 'split-0:4', error: 'not a record', raw: JSON.stringify(events(20, 2)[3]) }]);
    expect(result.operators[0]!.metrics.badRecordsDeadLettered).toBe(1);
    expect(collected.get('out')!.values).toHaveLength(19);
  });

  it('routes side outputs over side-output edges and broadcasts to every subtask', async () => {
    const odd = new OutputTag<Event>('odd');
    class SplitOperator extends OperatorBase<unknown> {
      processRecord(value: unknown, timestampMs: number): void {
        if ((value as Event).n % 2 === 1) this.output.collectSide(odd, value as Event, timestampMs);
        else this.output.collect(value, timestampMs);
      }
    }
    const g = new GraphBuilder();
    const src = g.source('src', listSource([events(100, 2)]));
    const split = g.operator('split', 'process', () => new SplitOperator());
    const even = g.sink('even');
    const odds = g.sink('odds', { parallelism: 3 });
    g.edge(src, split).edge(split, even).edge(split, odds, { kind: 'broadcast' }, 0, 'odd');
    await executeJob(g.build(), { workers: 0 });
    expect(collected.get('even')!.values).toHaveLength(50);
    expect(collected.get('odds')!.values).toHaveLength(150);
  });

  it('fires processing-time callbacks on the task mailbox, by the injected clock', async () => {
    const clock = new ManualClock(1_000);
    class TimerOperator extends OperatorBase<unknown> {
      override open(): void {
        this.context.scheduleProcessingTime(1_000, (timeMs) => this.output.collect({ firedAt: timeMs }, Number.NaN));
        this.context.scheduleProcessingTime(5_000, () => this.output.collect('too early', Number.NaN));
      }
      processRecord(): void {}
    }
    const g = new GraphBuilder();
    const src = g.source('src', listSource([events(10, 1)]));
    const op = g.operator('timers', 'process', () => new TimerOperator());
    const sink = g.sink('out');
    g.edge(src, op).edge(op, sink);
    await executeJob(g.build(), { workers: 0, clock });
    expect(collected.get('out')!.values).toEqual([{ firedAt: 1_000 }]);
  });

  it('lets records without event time through with noWatermarks()', async () => {
    const g = new GraphBuilder();
    const src = g.source('src', listSource([['a', 'b']]), { strategy: WatermarkStrategy.noWatermarks<unknown>() });
    const sink = g.sink('out');
    g.edge(src, sink);
    await executeJob(g.build(), { workers: 0 });
    expect(collected.get('out')!.values).toEqual(['a', 'b']);
    expect(collected.get('out')!.timestamps.every(Number.isNaN)).toBe(true);
  });

  it('validates its options', async () => {
    const graph = keyedCountJob(1);
    await expect(executeJob(graph, { workers: 2 })).rejects.toBeInstanceOf(ConfigurationError);
    await expect(executeJob(graph, { workers: 0, batchSize: 0 })).rejects.toThrow('batchSize must be a whole number ≥ 1, got 0');
    await expect(
      executeJob(graph, { workers: 0, onBadRecord: 'ignore' as unknown as 'skip' }),
    ).rejects.toThrow(/onBadRecord must be 'fail', 'skip' or \{ deadLetterPath/);
  });
});

describe('executeJob failure handling', () => {
  beforeEach(resetCollected);

  it('closes every operator of every task when one task fails', async () => {
    const closed: string[] = [];
    class ClosingMap extends MapTestOperator {
      override close(): void {
        closed.push(`${this.context.uid}/${this.context.subtask}`);
        super.close();
      }
    }
    const g = new GraphBuilder();
    const src = g.source('src', listSource([events(100, 2), events(100, 2)]), { parallelism: 2 });
    const ok = g.operator('ok', 'map', () => new ClosingMap((v) => v), { uid: 'ok', parallelism: 2 });
    const bad = g.operator(
      'bad',
      'map',
      () =>
        new ClosingMap(() => {
          throw new Error('always');
        }),
      { uid: 'bad', parallelism: 3 },
    );
    const sink = g.sink('out', { parallelism: 3 });
    g.edge(src, ok).edge(ok, bad, { kind: 'rebalance' }).edge(bad, sink);
    await expect(executeJob(g.build(), { workers: 0 })).rejects.toThrow(/operator 'bad' \(subtask \d\) threw: always/);
    expect(closed.sort()).toEqual(['bad/0', 'bad/1', 'bad/2', 'ok/0', 'ok/1']);
  });

  it('reports progress from the live metrics', async () => {
    const g = new GraphBuilder();
    const src = g.source('src', listSource([events(3, 1)]));
    const sink = g.sink('out');
    g.edge(src, sink);
    const { planJob } = await import('../../src/graph/plan.ts');
    const { JobMetrics } = await import('../../src/runtime/job-metrics.ts');
    const metrics = new JobMetrics(planJob(g.build()), 0);
    const snapshot = { recordsIn: 3, recordsOut: 3, lateRecordsDropped: 0, lateRecordsSideOutput: 0, badRecordsSkipped: 0, badRecordsDeadLettered: 0, sideOutputDiscarded: 0, currentWatermarkMs: 7 };
    metrics.update([
      [src, 0, snapshot],
      [sink, 0, { ...snapshot, recordsOut: 0, currentWatermarkMs: 5 }],
    ]);
    expect(metrics.progress(2_000)).toEqual({
      elapsedMs: 2_000,
      recordsIn: 3,
      recordsOut: 3,
      recordsInPerSecond: 1.5,
      sources: [{ uid: 'src', name: 'src', recordsOut: 3 }],
      watermarkMs: 5,
    });
  });
});

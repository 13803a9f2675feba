import { describe, expect, it } from 'vitest';
import {
  CheckpointCoordinator,
  type AcknowledgedState,
  type CheckpointCoordinatorHooks,
  type CoordinatorTimers,
} from '../../src/checkpoint/checkpoint-coordinator.ts';
import type { CheckpointMetadata } from '../../src/checkpoint/checkpoint-metadata.ts';
import type { EddyError } from '../../src/core/errors.ts';

/** Timers driven by `advance`: callbacks run in due order, never on their own. */
class FakeTimers implements CoordinatorTimers {
  private nowMs = 1_000;
  private nextHandle = 1;
  private readonly due = new Map<number, { atMs: number; callback: () => void }>();

  now(): number {
    return this.nowMs;
  }
  setTimeout(callback: () => void, delayMs: number): unknown {
    const handle = this.nextHandle++;
    this.due.set(handle, { atMs: this.nowMs + delayMs, callback });
    return handle;
  }
  clearTimeout(handle: unknown): void {
    this.due.delete(handle as number);
  }
  advance(ms: number): void {
    const target = this.nowMs + ms;
    for (;;) {
      let next: [number, { atMs: number; callback: () => void }] | undefined;
      for (const entry of this.due) if (entry[1].atMs <= target && (next === undefined || entry[1].atMs < next[1].atMs)) next = entry;
      if (next === undefined) break;
      this.due.delete(next[0]);
      this.nowMs = next[1].atMs;
      next[1].callback();
    }
    this.nowMs = target;
  }
}

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function stateOf(uid: string, subtask: number, bytes = 10): AcknowledgedState {
  return {
    uid,
    handle: { subtask, keyGroupRange: [0, 0], isFinished: false, operatorState: { file: `${uid}/subtask-${subtask}.operator`, bytes, sha256: 'x' } },
  };
}

interface Harness {
  readonly coordinator: CheckpointCoordinator;
  readonly timers: FakeTimers;
  readonly events: string[];
  readonly completed: CheckpointMetadata[];
  readonly failures: EddyError[];
  completeError: Error | undefined;
}

function setUp(config: Partial<{ intervalMs: number; minPauseMs: number; timeoutMs: number; maxConcurrent: number; tolerableFailures: number }> = {}): Harness {
  const timers = new FakeTimers();
  const harness = { timers, events: [] as string[], completed: [] as CheckpointMetadata[], failures: [] as EddyError[], completeError: undefined as Error | undefined };
  const hooks: CheckpointCoordinatorHooks = {
    triggerTasks: (id, keys) => harness.events.push(`trigger ${id} ${keys.join(',')}`),
    snapshotEnumerators: async () => [{ uid: 'src', file: 'enumerators/src.state', bytes: 5, sha256: 'y' }],
    completeCheckpoint: async (metadata) => {
      if (harness.completeError !== undefined) throw harness.completeError;
      harness.completed.push(metadata);
    },
    abortCheckpoint: async (id) => void harness.events.push(`cleanup ${id}`),
    notifyComplete: (id, isFinal) => harness.events.push(`complete ${id}${isFinal ? ' final' : ''}`),
    notifyAborted: (id, reason) => harness.events.push(`aborted ${id}: ${reason}`),
    failJob: (error) => harness.failures.push(error),
  };
  let nextId = 7;
  const coordinator = new CheckpointCoordinator({
    config: { mode: 'exactly-once', intervalMs: 100, minPauseMs: 0, timeoutMs: 1_000, maxConcurrent: 1, tolerableFailures: 0, ...config },
    jobName: 'job',
    graphFingerprint: 'fp',
    operators: [
      { uid: 'src', name: 'source', kind: 'source', parallelism: 2, maxParallelism: 128 },
      { uid: 'sum', name: 'sum', kind: 'keyed-process', parallelism: 1, maxParallelism: 128 },
    ],
    taskKeys: ['0/0', '0/1', '1/0'],
    sourceTaskKeys: ['0/0', '0/1'],
    nextCheckpointId: () => nextId++,
    timers,
    hooks,
  });
  return Object.assign(harness, { coordinator });
}

function ackAll(h: Harness, id: number, isFinished = false): void {
  h.coordinator.acknowledge(id, '0/0', [stateOf('src', 0)], isFinished);
  h.coordinator.acknowledge(id, '0/1', [stateOf('src', 1)], isFinished);
  h.coordinator.acknowledge(id, '1/0', [stateOf('sum', 0, 100)], isFinished);
}

describe('CheckpointCoordinator', () => {
  it('triggers the sources every interval, continuing the stored ids', () => {
    const h = setUp();
    h.coordinator.start();
    h.timers.advance(99);
    expect(h.events).toEqual([]);
    h.timers.advance(1);
    expect(h.events).toEqual(['trigger 7 0/0,0/1']);
  });

  it('completes only when every task acknowledged, writes the metadata, then notifies', async () => {
    const h = setUp();
    h.coordinator.start();
    h.timers.advance(100);
    h.timers.advance(30);
    h.coordinator.acknowledge(7, '0/0', [stateOf('src', 0)], false);
    h.coordinator.acknowledge(7, '0/1', [stateOf('src', 1)], false);
    await flush();
    expect(h.completed).toEqual([]);
    h.coordinator.acknowledge(7, '1/0', [stateOf('sum', 0, 100)], false);
    await flush();
    expect(h.completed).toHaveLength(1);
    const metadata = h.completed[0]!;
    expect(metadata.checkpointId).toBe(7);
    expect(metadata.durationMs).toBe(30);
    expect(metadata.totalBytes).toBe(10 + 10 + 100 + 5);
    expect(metadata.operators.map((o) => [o.uid, o.subtasks.map((s) => s.subtask)])).toEqual([
      ['src', [0, 1]],
      ['sum', [0]],
    ]);
    expect(h.events.at(-1)).toBe('complete 7');
    expect(h.coordinator.latestCompletedCheckpoint).toMatchObject({ checkpointId: 7, durationMs: 30, totalBytes: 125 });
  });

  it('keeps at most maxConcurrent in flight and respects the min pause after the end of one', async () => {
    const h = setUp({ intervalMs: 100, minPauseMs: 80 });
    h.coordinator.start();
    h.timers.advance(100); // trigger 7 at t=100
    h.timers.advance(500); // nothing new while 7 is pending
    expect(h.events.filter((e) => e.startsWith('trigger'))).toEqual(['trigger 7 0/0,0/1']);
    ackAll(h, 7);
    await flush(); // 7 ends at t=600: next at max(100+100, 600+80) = 680
    h.timers.advance(79);
    expect(h.events.filter((e) => e.startsWith('trigger'))).toHaveLength(1);
    h.timers.advance(1);
    expect(h.events.filter((e) => e.startsWith('trigger')).at(-1)).toBe('trigger 8 0/0,0/1');
  });

  it('aborts a timed-out checkpoint and fails the job beyond the tolerable failures, naming the reasons', async () => {
    const h = setUp({ timeoutMs: 50, tolerableFailures: 1 });
    h.coordinator.start();
    h.timers.advance(100);
    h.timers.advance(50);
    expect(h.events).toContain('aborted 7: timed out after 50 ms');
    expect(h.failures).toEqual([]);
    h.timers.advance(60); // 8 is triggered at max(100 + 100, 150 + 0) = 200
    h.coordinator.decline(8, '1/0', 'disk full');
    expect(h.failures).toHaveLength(1);
    expect(h.failures[0]!.message).toMatch(/failed 2 time\(s\) in a row \(tolerable: 1\)/);
    expect(h.failures[0]!.message).toContain('checkpoint 7 timed out after 50 ms');
    expect(h.failures[0]!.message).toContain('checkpoint 8 declined by task 1/0: disk full');
    h.timers.advance(1_000);
    expect(h.events.filter((e) => e.startsWith('trigger'))).toHaveLength(2);
  });

  it('a completed checkpoint resets the failure count', async () => {
    const h = setUp({ tolerableFailures: 1 });
    h.coordinator.start();
    h.timers.advance(100);
    h.coordinator.decline(7, '0/0', 'a');
    h.timers.advance(100);
    ackAll(h, 8);
    await flush();
    h.timers.advance(100);
    h.coordinator.decline(9, '0/0', 'b');
    expect(h.failures).toEqual([]);
  });

  it('aborts and counts a checkpoint whose metadata cannot be written; nothing is notified complete', async () => {
    const h = setUp({ tolerableFailures: 5 });
    h.completeError = new Error('ENOSPC: no space left on device');
    h.coordinator.start();
    h.timers.advance(100);
    ackAll(h, 7);
    await flush();
    expect(h.events).toContain('aborted 7: writing the metadata failed: ENOSPC: no space left on device');
    expect(h.events).toContain('cleanup 7');
    expect(h.events.some((e) => e.startsWith('complete'))).toBe(false);
  });

  it('ignores acknowledgements of aborted checkpoints', async () => {
    const h = setUp({ tolerableFailures: 5 });
    h.coordinator.start();
    h.timers.advance(100);
    h.coordinator.decline(7, '0/0', 'x');
    ackAll(h, 7);
    await flush();
    expect(h.completed).toEqual([]);
  });

  it('triggers a pending checkpoint directly on a task that ended, and a final one when all ended', async () => {
    const h = setUp();
    h.coordinator.start();
    h.timers.advance(100);
    h.coordinator.acknowledge(7, '0/0', [stateOf('src', 0)], false);
    h.coordinator.taskEnded('0/0'); // already acknowledged: no second trigger
    h.coordinator.taskEnded('1/0');
    expect(h.events.at(-1)).toBe('trigger 7 1/0');
    h.coordinator.taskEnded('0/1'); // its trigger was sent already, as a source
    expect(h.events.filter((e) => e.startsWith('trigger'))).toHaveLength(2);
    h.coordinator.acknowledge(7, '0/1', [stateOf('src', 1)], true);
    h.coordinator.acknowledge(7, '1/0', [stateOf('sum', 0)], true);
    await flush();
    // 7 had a snapshot taken before its task ended, so it is not final: a final one follows at once.
    expect(h.events.slice(-2)).toEqual(['complete 7', 'trigger 8 0/0,1/0,0/1']);
    ackAll(h, 8, true);
    await flush();
    expect(h.events.at(-1)).toBe('complete 8 final');
    expect(h.coordinator.latestCompletedCheckpoint?.isFinal).toBe(true);
    h.timers.advance(10_000);
    expect(h.events.at(-1)).toBe('complete 8 final');
  });

  it('with maxConcurrent 2, a newer completed checkpoint subsumes an older pending one', async () => {
    const h = setUp({ maxConcurrent: 2 });
    h.coordinator.start();
    h.timers.advance(100);
    h.timers.advance(100);
    expect(h.coordinator.pendingCheckpointIds).toEqual([7, 8]);
    ackAll(h, 8);
    await flush();
    expect(h.events).toContain('aborted 7: subsumed by checkpoint 8');
    expect(h.failures).toEqual([]);
  });

  it('after stop, settled() waits for a metadata write in flight, and no task is notified', async () => {
    const h = setUp();
    let release: () => void = () => {};
    const written: number[] = [];
    const coordinator = new CheckpointCoordinator({
      config: { mode: 'exactly-once', intervalMs: 100, minPauseMs: 0, timeoutMs: 1_000, maxConcurrent: 1, tolerableFailures: 0 },
      jobName: 'job',
      graphFingerprint: 'fp',
      operators: [{ uid: 'src', name: 'source', kind: 'source', parallelism: 1, maxParallelism: 128 }],
      taskKeys: ['0/0'],
      sourceTaskKeys: ['0/0'],
      nextCheckpointId: () => 1,
      timers: h.timers,
      hooks: {
        triggerTasks: () => {},
        snapshotEnumerators: async () => [],
        completeCheckpoint: (metadata) =>
          new Promise<void>((resolve) => {
            release = () => {
              written.push(metadata.checkpointId);
              resolve();
            };
          }),
        abortCheckpoint: async () => {},
        notifyComplete: (id) => h.events.push(`complete ${id}`),
        notifyAborted: () => {},
        failJob: (error) => h.failures.push(error),
      },
    });
    coordinator.start();
    h.timers.advance(100);
    coordinator.acknowledge(1, '0/0', [stateOf('src', 0)], false);
    await flush();
    coordinator.stop();
    let isSettled = false;
    const settled = coordinator.settled().then(() => (isSettled = true));
    await flush();
    expect(isSettled).toBe(false);
    release();
    await settled;
    expect(written).toEqual([1]);
    expect(h.events).toEqual([]);
  });
});

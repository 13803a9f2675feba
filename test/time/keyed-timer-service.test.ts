import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../src/core/errors.ts';
import { assignToKeyGroup, KeyGroupRange } from '../../src/core/key-group.ts';
import { ManualClock, MAX_WATERMARK, MIN_WATERMARK } from '../../src/core/time.ts';
import { voidNamespaceCodec, type Timer, type VoidNamespace } from '../../src/state/keyed-state-backend.ts';
import { MemoryStateBackend } from '../../src/state/memory/memory-state-backend.ts';
import { KeyedTimerService } from '../../src/time/keyed-timer-service.ts';

const MAX_PARALLELISM = 16;

/** A processing-time scheduler driven by a ManualClock, like the task's mailbox in tests. */
class FakeScheduler {
  private readonly entries: Array<{ timeMs: number; callback: (timeMs: number) => void; isCancelled: boolean }> = [];

  constructor(private readonly clock: ManualClock) {}

  readonly schedule = (timeMs: number, callback: (timeMs: number) => void): (() => void) => {
    const entry = { timeMs, callback, isCancelled: false };
    this.entries.push(entry);
    return () => {
      entry.isCancelled = true;
    };
  };

  /** Live (not cancelled, not yet run) callbacks. */
  get pendingTimes(): number[] {
    return this.entries.filter((e) => !e.isCancelled).map((e) => e.timeMs);
  }

  /** Sets the clock to `timeMs` and runs every due callback in time order (including ones scheduled meanwhile). */
  advanceTo(timeMs: number): void {
    this.clock.set(timeMs);
    for (let runs = 0; ; runs++) {
      // A service that keeps rescheduling without making progress would loop forever: fail instead.
      if (runs > 10_000) throw new Error(`scheduler livelock: more than 10000 callbacks due at ${timeMs}`);
      const due = this.entries
        .filter((e) => !e.isCancelled && e.timeMs <= timeMs)
        .sort((a, b) => a.timeMs - b.timeMs)[0];
      if (due === undefined) return;
      due.isCancelled = true;
      due.callback(due.timeMs);
    }
  }
}

interface Fired {
  readonly domain: 'event' | 'processing';
  readonly key: unknown;
  readonly timestamp: number;
  readonly currentKey: unknown;
}

function setup(options: { backend?: MemoryStateBackend; clock?: ManualClock } = {}) {
  const clock = options.clock ?? new ManualClock(0);
  let watermarkMs = MIN_WATERMARK;
  const backend =
    options.backend ??
    new MemoryStateBackend({
      operatorUid: 'timers',
      subtask: 0,
      maxParallelism: MAX_PARALLELISM,
      keyGroupRange: new KeyGroupRange(0, MAX_PARALLELISM),
      clock,
      currentWatermark: () => watermarkMs,
    });
  const scheduler = new FakeScheduler(clock);
  const fired: Fired[] = [];
  const hooks: { onFire?: (timer: Timer<VoidNamespace>, domain: Fired['domain']) => void } = {};
  const service = new KeyedTimerService<VoidNamespace>({
    name: 'svc',
    backend,
    namespaceCodec: voidNamespaceCodec,
    triggerable: {
      onEventTime: (timer) => {
        fired.push({ domain: 'event', key: timer.key, timestamp: timer.timestamp, currentKey: backend.getCurrentKey() });
        hooks.onFire?.(timer, 'event');
      },
      onProcessingTime: (timer) => {
        fired.push({ domain: 'processing', key: timer.key, timestamp: timer.timestamp, currentKey: backend.getCurrentKey() });
        hooks.onFire?.(timer, 'processing');
      },
    },
    clock,
    scheduleProcessingTime: scheduler.schedule,
    currentWatermark: () => watermarkMs,
  });
  const advanceWatermark = (wm: number) => {
    watermarkMs = wm;
    service.advanceWatermark(wm);
  };
  return { clock, backend, scheduler, service, fired, hooks, advanceWatermark };
}

describe('KeyedTimerService', () => {
  it('fires event-time timers ≤ the watermark in timestamp order, with the timer key current', () => {
    const { backend, service, fired, advanceWatermark } = setup();
    for (const [key, ts] of [
      ['a', 30],
      ['b', 10],
      ['c', 20],
      ['a', 10],
      ['b', 10],
    ] as const) {
      backend.setCurrentKey(key);
      service.registerEventTimeTimer(0, ts);
    }
    expect(service.size).toBe(4);
    backend.setCurrentKey('c');
    service.deleteEventTimeTimer(0, 20);
    advanceWatermark(9);
    expect(fired).toEqual([]);
    advanceWatermark(25);
    const tenKeys = ['a', 'b'].sort((x, y) => assignToKeyGroup(x, MAX_PARALLELISM) - assignToKeyGroup(y, MAX_PARALLELISM));
    expect(fired.map((f) => [f.key, f.timestamp])).toEqual(tenKeys.map((k) => [k, 10]));
    expect(fired.every((f) => f.currentKey === f.key)).toBe(true);
    advanceWatermark(MAX_WATERMARK);
    expect(fired.map((f) => [f.key, f.timestamp]).slice(2)).toEqual([['a', 30]]);
    expect(service.size).toBe(0);
  });

  it('fires timers registered while firing when they are due', () => {
    const { backend, service, fired, hooks, advanceWatermark } = setup();
    hooks.onFire = (timer) => {
      if (timer.timestamp === 10) {
        service.registerEventTimeTimer(0, 15); // due: fires in this call
        service.registerEventTimeTimer(0, 50); // not due
      }
    };
    backend.setCurrentKey('k');
    service.registerEventTimeTimer(0, 10);
    advanceWatermark(20);
    expect(fired.map((f) => f.timestamp)).toEqual([10, 15]);
    advanceWatermark(50);
    expect(fired.map((f) => f.timestamp)).toEqual([10, 15, 50]);
  });

  it('keeps exactly one processing-time callback, for the earliest timer', () => {
    const { backend, scheduler, service, fired } = setup();
    backend.setCurrentKey('k');
    service.registerProcessingTimeTimer(0, 100);
    expect(scheduler.pendingTimes).toEqual([100]);
    service.registerProcessingTimeTimer(0, 200);
    expect(scheduler.pendingTimes).toEqual([100]);
    service.registerProcessingTimeTimer(0, 50);
    expect(scheduler.pendingTimes).toEqual([50]);
    backend.setCurrentKey('j');
    service.registerProcessingTimeTimer(0, 100);
    scheduler.advanceTo(120);
    expect(fired.map((f) => [f.key, f.timestamp, f.domain])).toEqual([
      ['k', 50, 'processing'],
      ...[['k', 100, 'processing'], ['j', 100, 'processing']].sort(
        (x, y) => assignToKeyGroup(x[0], MAX_PARALLELISM) - assignToKeyGroup(y[0], MAX_PARALLELISM),
      ),
    ]);
    expect(scheduler.pendingTimes).toEqual([200]);
    backend.setCurrentKey('k');
    service.deleteProcessingTimeTimer(0, 200);
    scheduler.advanceTo(300);
    expect(fired).toHaveLength(3);
    expect(scheduler.pendingTimes).toEqual([]);
    expect(service.currentProcessingTime()).toBe(300);
  });

  it('fires every processing-time timer ≤ now when a late callback runs', () => {
    const { clock, backend, scheduler, service, fired } = setup();
    backend.setCurrentKey('k');
    service.registerProcessingTimeTimer(0, 10);
    service.registerProcessingTimeTimer(0, 20);
    clock.set(25); // the callback for 10 runs late
    scheduler.advanceTo(25);
    expect(fired.map((f) => f.timestamp)).toEqual([10, 20]);
  });

  it('rejects timestamps that are not whole milliseconds', () => {
    const { backend, service } = setup();
    backend.setCurrentKey('k');
    expect(() => service.registerEventTimeTimer(0, 1.5)).toThrow(ConfigurationError);
    expect(() => service.registerProcessingTimeTimer(0, Number.NaN)).toThrow(ConfigurationError);
  });

  it('survives snapshot ▶ restore and schedules the earliest restored processing-time timer', () => {
    const first = setup();
    first.backend.setCurrentKey('a');
    first.service.registerEventTimeTimer(0, 5);
    first.service.registerProcessingTimeTimer(0, 300);
    first.backend.setCurrentKey('b');
    first.service.registerProcessingTimeTimer(0, 200);
    const snapshot = first.backend.snapshot();

    const clock = new ManualClock(100);
    const backend = new MemoryStateBackend({
      operatorUid: 'timers',
      subtask: 0,
      maxParallelism: MAX_PARALLELISM,
      keyGroupRange: new KeyGroupRange(0, MAX_PARALLELISM),
      clock,
      currentWatermark: () => MIN_WATERMARK,
    });
    backend.restore([snapshot]);
    const second = setup({ backend, clock });
    expect(second.service.size).toBe(3);
    expect(second.scheduler.pendingTimes).toEqual([200]);
    second.scheduler.advanceTo(1_000);
    second.advanceWatermark(10);
    expect(second.fired.map((f) => [f.domain, f.key, f.timestamp])).toEqual([
      ['processing', 'b', 200],
      ['processing', 'a', 300],
      ['event', 'a', 5],
    ]);
  });

  it('law: every registered, undeleted timer fires exactly once, in non-decreasing timestamp order', () => {
    const key = fc.constantFrom('a', 'b', 'c', 'd', 7, 8);
    const delta = fc.integer({ min: 0, max: 30 });
    const op = fc.oneof(
      fc.record({ kind: fc.constant('register' as const), domain: fc.constantFrom('event' as const, 'processing' as const), key, delta }),
      fc.record({ kind: fc.constant('delete' as const), domain: fc.constantFrom('event' as const, 'processing' as const), key, delta }),
      fc.record({ kind: fc.constant('watermark' as const), delta }),
      fc.record({ kind: fc.constant('clock' as const), delta }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
        const { backend, scheduler, service, fired, advanceWatermark, clock } = setup();
        let watermarkMs = 0;
        // Model: the set of registered timers per domain, keyed "key|timestamp".
        const model = { event: new Map<string, [unknown, number]>(), processing: new Map<string, [unknown, number]>() };
        const expectFired = (domain: 'event' | 'processing', upToMs: number, from: number) => {
          const batch = fired.slice(from).filter((f) => f.domain === domain);
          const due = [...model[domain].entries()].filter(([, [, ts]]) => ts <= upToMs);
          expect(batch.map((f) => `${String(f.key)}|${f.timestamp}`).sort()).toEqual(due.map(([id]) => id).sort());
          for (let i = 1; i < batch.length; i++) expect(batch[i]!.timestamp).toBeGreaterThanOrEqual(batch[i - 1]!.timestamp);
          for (const f of batch) expect(f.currentKey).toBe(f.key);
          for (const [id] of due) model[domain].delete(id);
        };
        for (const step of ops) {
          const from = fired.length;
          switch (step.kind) {
            case 'register':
            case 'delete': {
              // Timers at or before "now" are allowed; register relative to the current time.
              const base = step.domain === 'event' ? watermarkMs : clock.now();
              const ts = base + step.delta - 5;
              backend.setCurrentKey(step.key);
              const id = `${String(step.key)}|${ts}`;
              if (step.kind === 'register') {
                if (step.domain === 'event') service.registerEventTimeTimer(0, ts);
                else service.registerProcessingTimeTimer(0, ts);
                model[step.domain].set(id, [step.key, ts]);
              } else {
                if (step.domain === 'event') service.deleteEventTimeTimer(0, ts);
                else service.deleteProcessingTimeTimer(0, ts);
                model[step.domain].delete(id);
              }
              break;
            }
            case 'watermark':
              watermarkMs += step.delta;
              advanceWatermark(watermarkMs);
              expectFired('event', watermarkMs, from);
              break;
            case 'clock':
              scheduler.advanceTo(clock.now() + step.delta);
              expectFired('processing', clock.now(), from);
              break;
          }
          expect(service.size).toBe(model.event.size + model.processing.size);
          expect(scheduler.pendingTimes.length).toBeLessThanOrEqual(1);
        }
        const from = fired.length;
        advanceWatermark(MAX_WATERMARK);
        scheduler.advanceTo(1_000_000);
        expectFired('event', MAX_WATERMARK, from);
        expectFired('processing', 1_000_000, from);
        expect(service.size).toBe(0);
      }),
      { numRuns: 300 },
    );
  });
});

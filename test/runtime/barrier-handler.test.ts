import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EddyError } from '../../src/core/errors.ts';
import {
  AtLeastOnceBarrierTracker,
  ExactlyOnceBarrierAligner,
  createBarrierHandler,
  onAbort,
  onBarrier,
  onEndOfInput,
  type BarrierAlignment,
  type BarrierHandler,
} from '../../src/runtime/barrier-handler.ts';

const allOpen = (n: number) => ({ isOpen: new Array<boolean>(n).fill(true), openChannels: n });
const waiting = (lastCheckpointId: number): BarrierAlignment => ({ kind: 'waiting-for-first-barrier', lastCheckpointId });
const blockedChannels = (handler: BarrierHandler, n: number): number[] =>
  Array.from({ length: n }, (_, c) => c).filter((c) => handler.isBlocked(c));

describe('barrier transitions: waiting for the first barrier', () => {
  it('starts collecting checkpoint n on its first barrier, counting every open channel but that one', () => {
    const { next, reports } = onBarrier(waiting(0), allOpen(3), 1, 7);
    expect(reports).toEqual([]);
    expect(next).toEqual({ kind: 'collecting-barriers', checkpointId: 7, hasDelivered: [false, true, false], missing: 2 });
  });

  it('completes at once when the barrier comes on the only open channel', () => {
    expect(onBarrier(waiting(0), allOpen(1), 0, 1)).toEqual({ next: waiting(1), reports: [{ kind: 'aligned', checkpointId: 1 }] });
    const oneOfThreeOpen = { isOpen: [false, true, false], openChannels: 1 };
    expect(onBarrier(waiting(4), oneOfThreeOpen, 1, 5)).toEqual({ next: waiting(5), reports: [{ kind: 'aligned', checkpointId: 5 }] });
  });

  it('ignores a barrier of a checkpoint no newer than the last one seen (a straggler of an aborted checkpoint)', () => {
    const state = waiting(5);
    expect(onBarrier(state, allOpen(2), 0, 5)).toEqual({ next: state, reports: [] });
    expect(onBarrier(state, allOpen(2), 1, 3)).toEqual({ next: state, reports: [] });
  });

  it('remembers an abort so that the aborted checkpoint never starts, and never goes back', () => {
    expect(onAbort(waiting(2), 4).next).toEqual(waiting(4));
    expect(onAbort(waiting(4), 2).next).toEqual(waiting(4));
    expect(onBarrier(onAbort(waiting(2), 4).next, allOpen(2), 0, 4).next).toEqual(waiting(4));
  });

  it('an end of input changes nothing', () => {
    const state = waiting(3);
    expect(onEndOfInput(state, { isOpen: [false, true], openChannels: 1 }, 0)).toEqual({ next: state, reports: [] });
  });
});

describe('barrier transitions: collecting barriers', () => {
  const collecting: BarrierAlignment = {
    kind: 'collecting-barriers',
    checkpointId: 3,
    hasDelivered: [true, false, false],
    missing: 2,
  };

  it('counts a further barrier n and reports alignment when the last open channel delivered it', () => {
    const second = onBarrier(collecting, allOpen(3), 2, 3);
    expect(second).toEqual({ next: { ...collecting, hasDelivered: [true, false, true], missing: 1 }, reports: [] });
    expect(onBarrier(second.next, allOpen(3), 1, 3)).toEqual({ next: waiting(3), reports: [{ kind: 'aligned', checkpointId: 3 }] });
  });

  it('stops waiting for a channel that ends, and aligns if it was the last one missing', () => {
    const ended = onEndOfInput(collecting, { isOpen: [true, false, true], openChannels: 2 }, 1);
    expect(ended).toEqual({ next: { ...collecting, missing: 1 }, reports: [] });
    expect(onEndOfInput(ended.next, { isOpen: [true, false, false], openChannels: 1 }, 2)).toEqual({
      next: waiting(3),
      reports: [{ kind: 'aligned', checkpointId: 3 }],
    });
  });

  it('does not count twice a channel that delivered the barrier and then ended (at-least-once)', () => {
    expect(onEndOfInput(collecting, { isOpen: [false, true, true], openChannels: 2 }, 0)).toEqual({ next: collecting, reports: [] });
  });

  it('aborts n on a barrier of a newer checkpoint m and starts collecting m', () => {
    const { next, reports } = onBarrier(collecting, allOpen(3), 1, 5);
    expect(reports).toEqual([{ kind: 'aborted', checkpointId: 3, reason: expect.stringContaining('barrier 5') }]);
    expect(next).toEqual({ kind: 'collecting-barriers', checkpointId: 5, hasDelivered: [false, true, false], missing: 2 });
  });

  it('reports the abort of n before the alignment of m when m completes at once', () => {
    const single: BarrierAlignment = { kind: 'collecting-barriers', checkpointId: 3, hasDelivered: [true, false], missing: 1 };
    const { next, reports } = onBarrier(single, { isOpen: [false, true], openChannels: 1 }, 1, 4);
    expect(reports.map((report) => `${report.kind} ${report.checkpointId}`)).toEqual(['aborted 3', 'aligned 4']);
    expect(next).toEqual(waiting(4));
  });

  it('ignores a barrier older than the one being collected', () => {
    expect(onBarrier(collecting, allOpen(3), 1, 2)).toEqual({ next: collecting, reports: [] });
  });

  it('rejects the same barrier twice on one channel', () => {
    expect(() => onBarrier(collecting, allOpen(3), 0, 3)).toThrow(/channel 0 delivered barrier 3 twice/);
  });

  it('leaves collecting on an abort of that checkpoint or a newer one, silently, and ignores older aborts', () => {
    expect(onAbort(collecting, 3)).toEqual({ next: waiting(3), reports: [] });
    expect(onAbort(collecting, 4)).toEqual({ next: waiting(4), reports: [] });
    expect(onAbort(collecting, 2)).toEqual({ next: collecting, reports: [] });
  });
});

describe('ExactlyOnceBarrierAligner', () => {
  it('blocks each channel from its barrier until every open channel delivered it, then unblocks all', () => {
    const aligner = new ExactlyOnceBarrierAligner(3);
    expect(aligner.barrier(2, 1)).toEqual([]);
    expect(blockedChannels(aligner, 3)).toEqual([2]);
    expect(aligner.barrier(0, 1)).toEqual([]);
    expect(blockedChannels(aligner, 3)).toEqual([0, 2]);
    expect(aligner.barrier(1, 1)).toEqual([{ kind: 'aligned', checkpointId: 1 }]);
    expect(blockedChannels(aligner, 3)).toEqual([]);
    expect(aligner.state).toEqual(waiting(1));
  });

  it('unblocks everything when a newer barrier aborts the checkpoint, then blocks for the new one', () => {
    const aligner = new ExactlyOnceBarrierAligner(3);
    aligner.barrier(0, 1);
    aligner.barrier(1, 1);
    const reports = aligner.barrier(2, 2);
    expect(reports.map((report) => report.kind)).toEqual(['aborted']);
    expect(blockedChannels(aligner, 3)).toEqual([2]);
  });

  it('aligns without a channel that ended, and unblocks on an external abort', () => {
    const aligner = new ExactlyOnceBarrierAligner(2);
    aligner.barrier(0, 1);
    expect(aligner.endOfInput(1)).toEqual([{ kind: 'aligned', checkpointId: 1 }]);
    expect(aligner.barrier(0, 2)).toEqual([{ kind: 'aligned', checkpointId: 2 }]);

    const other = new ExactlyOnceBarrierAligner(2);
    other.barrier(1, 4);
    expect(other.isBlocked(1)).toBe(true);
    expect(other.abort(4)).toEqual([]);
    expect(other.isBlocked(1)).toBe(false);
    expect(other.barrier(0, 4)).toEqual([]);
    expect(other.isBlocked(0)).toBe(false);
  });

  it('rejects protocol violations: unknown channel, bad id, barrier or end after the end', () => {
    const aligner = new ExactlyOnceBarrierAligner(2);
    expect(() => aligner.barrier(2, 1)).toThrow(EddyError);
    expect(() => aligner.barrier(0, 0)).toThrow(/whole numbers ≥ 1/);
    aligner.endOfInput(0);
    expect(() => aligner.barrier(0, 1)).toThrow(/after its end-of-input/);
    expect(() => aligner.endOfInput(0)).toThrow(/after its end-of-input/);
    expect(() => new ExactlyOnceBarrierAligner(0)).toThrow(/at least one input channel/);
  });
});

describe('AtLeastOnceBarrierTracker', () => {
  it('never blocks, and reports when every open channel delivered the barrier', () => {
    const tracker = new AtLeastOnceBarrierTracker(3);
    expect(tracker.barrier(0, 1)).toEqual([]);
    expect(tracker.barrier(2, 1)).toEqual([]);
    expect(blockedChannels(tracker, 3)).toEqual([]);
    expect(tracker.barrier(1, 1)).toEqual([{ kind: 'aligned', checkpointId: 1 }]);
  });

  it('reports on the first barrier with a single channel', () => {
    expect(new AtLeastOnceBarrierTracker(1).barrier(0, 9)).toEqual([{ kind: 'aligned', checkpointId: 9 }]);
  });

  it('aborts n when a channel that is ahead delivers m > n, and counts m', () => {
    const tracker = new AtLeastOnceBarrierTracker(2);
    tracker.barrier(0, 1);
    expect(tracker.barrier(0, 2).map((report) => `${report.kind} ${report.checkpointId}`)).toEqual(['aborted 1']);
    expect(tracker.barrier(1, 1)).toEqual([]);
    expect(tracker.barrier(1, 2)).toEqual([{ kind: 'aligned', checkpointId: 2 }]);
  });

  it('counts a channel that delivered the barrier and then ended', () => {
    const tracker = new AtLeastOnceBarrierTracker(2);
    tracker.barrier(0, 1);
    expect(tracker.endOfInput(0)).toEqual([]);
    expect(tracker.barrier(1, 1)).toEqual([{ kind: 'aligned', checkpointId: 1 }]);
  });
});

describe('barrier handling laws', () => {
  type Event = { kind: 'barrier'; channel: number; checkpointId: number } | { kind: 'end'; channel: number } | { kind: 'abort'; checkpointId: number };
  const event = (n: number): fc.Arbitrary<Event> =>
    fc.oneof(
      { weight: 6, arbitrary: fc.record({ kind: fc.constant('barrier' as const), channel: fc.nat(n - 1), checkpointId: fc.integer({ min: 1, max: 6 }) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('end' as const), channel: fc.nat(n - 1) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('abort' as const), checkpointId: fc.integer({ min: 1, max: 6 }) }) },
    );

  it('whatever the events: every checkpoint ends at most once, ids go forward, and only delivered channels are blocked', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }).chain((n) => fc.tuple(fc.constant(n), fc.array(event(n), { maxLength: 40 }), fc.boolean())),
        ([n, events, isExactlyOnce]) => {
          const handler = createBarrierHandler(isExactlyOnce ? 'exactly-once' : 'at-least-once', n);
          const ended = new Set<number>();
          const finished: number[] = [];
          const delivered = new Map<number, Set<number>>();
          for (const e of events) {
            if (e.kind !== 'abort' && ended.has(e.channel)) continue;
            if (e.kind === 'barrier' && delivered.get(e.checkpointId)?.has(e.channel)) continue;
            let reports;
            if (e.kind === 'barrier') {
              reports = handler.barrier(e.channel, e.checkpointId);
              delivered.set(e.checkpointId, (delivered.get(e.checkpointId) ?? new Set()).add(e.channel));
            } else if (e.kind === 'end') {
              ended.add(e.channel);
              reports = handler.endOfInput(e.channel);
            } else {
              reports = handler.abort(e.checkpointId);
            }
            for (const report of reports) {
              expect(finished).not.toContain(report.checkpointId);
              if (finished.length > 0) expect(report.checkpointId).toBeGreaterThan(finished[finished.length - 1]!);
              finished.push(report.checkpointId);
              if (report.kind === 'aligned') {
                // Every open channel delivered the barrier.
                for (let c = 0; c < n; c++) if (!ended.has(c)) expect(delivered.get(report.checkpointId)?.has(c)).toBe(true);
              }
            }
            const state = handler.state;
            for (let c = 0; c < n; c++) {
              const shouldBlock = isExactlyOnce && state.kind === 'collecting-barriers' && state.hasDelivered[c] === true;
              expect(handler.isBlocked(c)).toBe(shouldBlock);
            }
            if (state.kind === 'collecting-barriers') {
              let missing = 0;
              for (let c = 0; c < n; c++) if (!ended.has(c) && !state.hasDelivered[c]) missing++;
              expect(state.missing).toBe(missing);
              expect(missing).toBeGreaterThan(0);
            }
          }
        },
      ),
    );
  });
});

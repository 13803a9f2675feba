import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { OperatorContext, OperatorSnapshot, StreamOperator } from '../../src/operators/operator.ts';
import type { BarrierHandlingMode } from '../../src/runtime/barrier-handler.ts';
import { InputChannel } from '../../src/runtime/input-channel.ts';
import { InputGate } from '../../src/runtime/input-gate.ts';
import { ACTIVE_STATUS, END_OF_INPUT, RecordBatch, type ChannelMessage } from '../../src/runtime/stream-element.ts';

/** What the head and the gate's callbacks saw, in order. */
type Seen =
  | { readonly kind: 'record'; readonly value: unknown; readonly input: number }
  | { readonly kind: 'end-input'; readonly input: number }
  | { readonly kind: 'aligned'; readonly checkpointId: number }
  | { readonly kind: 'aborted'; readonly checkpointId: number };

class RecordingHead implements StreamOperator<unknown> {
  readonly seen: Seen[] = [];
  /** Called before a record is logged: the property checks run here. */
  onRecord: (value: unknown) => void = () => {};
  setup(_context: OperatorContext<unknown>): void {}
  restoreState(_snapshot: OperatorSnapshot): void {}
  open(): void {}
  processRecord(value: unknown, _timestampMs: number, input: number): void {
    this.onRecord(value);
    this.seen.push({ kind: 'record', value, input });
  }
  processWatermark(): void {}
  processWatermarkStatus(): void {}
  endInput(input: number): void {
    this.seen.push({ kind: 'end-input', input });
  }
  finish(): void {}
  snapshotState(): OperatorSnapshot {
    return { keyed: undefined, operatorState: {} };
  }
  notifyCheckpointComplete(): void {}
  close(): void {}
}

/** An input channel that remembers the newest barrier and the end it handed out. */
class TracingChannel extends InputChannel {
  lastBarrier = 0;
  hasEnded = false;
  override poll(): ChannelMessage | undefined {
    const message = super.poll();
    if (message !== undefined && !(message instanceof RecordBatch)) {
      if (message.kind === 'barrier') this.lastBarrier = message.checkpointId;
      if (message.kind === 'end-of-input') this.hasEnded = true;
    }
    return message;
  }
}

const barrier = (checkpointId: number): ChannelMessage => ({ kind: 'barrier', checkpointId });
const batch = (...values: unknown[]): RecordBatch => new RecordBatch(values, new Float64Array(values.length).fill(Number.NaN), values.length);

function setUp(channelsByInput: number[], mode: BarrierHandlingMode) {
  let id = 0;
  const channels = channelsByInput.map((count) => Array.from({ length: count }, () => new TracingChannel(id++, () => {})));
  const head = new RecordingHead();
  const gate = new InputGate(channels, head, 'head', 0, { checkpointingMode: mode });
  gate.onBarrierAligned((checkpointId) => head.seen.push({ kind: 'aligned', checkpointId }));
  gate.onCheckpointAborted((checkpointId) => head.seen.push({ kind: 'aborted', checkpointId }));
  return { channels, flat: channels.flat(), head, gate };
}

function drain(gate: InputGate): void {
  while (gate.processNext() === 'processed') {}
}

const records = (head: RecordingHead): unknown[] => head.seen.flatMap((entry) => (entry.kind === 'record' ? [entry.value] : []));
const reports = (head: RecordingHead): string[] =>
  head.seen.flatMap((entry) => (entry.kind === 'aligned' || entry.kind === 'aborted' ? [`${entry.kind} ${entry.checkpointId}`] : []));

describe('InputGate barriers, exactly-once', () => {
  it('reads nothing after a barrier on a channel until every channel delivered it, then snapshots before going on', () => {
    const { flat, head, gate } = setUp([1, 1], 'exactly-once');
    const [a, b] = flat as [TracingChannel, TracingChannel];
    a.enqueue(ACTIVE_STATUS);
    b.enqueue(ACTIVE_STATUS);
    a.enqueue(batch('a1'));
    a.enqueue(barrier(1));
    a.enqueue(batch('a2'));
    a.enqueue({ kind: 'watermark', watermarkMs: 5 });
    b.enqueue(batch('b1'));
    drain(gate);
    expect(records(head)).toEqual(['a1', 'b1']);
    expect(gate.alignment).toMatchObject({ kind: 'collecting-barriers', checkpointId: 1 });
    // Only the blocked channel has data: the task may sleep.
    expect(gate.hasData).toBe(false);
    b.enqueue(batch('b2'));
    expect(gate.hasData).toBe(true);
    b.enqueue(barrier(1));
    b.enqueue(batch('b3'));
    drain(gate);
    expect(head.seen.map((entry) => (entry.kind === 'record' ? entry.value : entry.kind))).toEqual(['a1', 'b1', 'b2', 'aligned', 'a2', 'b3']);
    expect(gate.alignment).toEqual({ kind: 'waiting-for-first-barrier', lastCheckpointId: 1 });
  });

  it('aligns over the channels of every logical input, and without a channel that ended', () => {
    const { flat, head, gate } = setUp([2, 1], 'exactly-once');
    const [a, b, c] = flat as [TracingChannel, TracingChannel, TracingChannel];
    for (const channel of flat) channel.enqueue(ACTIVE_STATUS);
    a.enqueue(barrier(1));
    a.enqueue(batch('a-after'));
    c.enqueue(barrier(1));
    c.enqueue(batch('c-after'));
    drain(gate);
    expect(reports(head)).toEqual([]);
    b.enqueue(batch('b-last'));
    b.enqueue(END_OF_INPUT);
    drain(gate);
    const order = head.seen.map((entry) => (entry.kind === 'record' ? entry.value : entry.kind));
    expect(order.slice(0, 2)).toEqual(['b-last', 'aligned']);
    expect(order.slice(2).sort()).toEqual(['a-after', 'c-after']);
    // Next checkpoint: the ended channel is not waited for.
    a.enqueue(barrier(2));
    c.enqueue(barrier(2));
    drain(gate);
    expect(reports(head)).toEqual(['aligned 1', 'aligned 2']);
  });

  it('aborts a checkpoint when a newer barrier overtakes it, reports it, and ignores its stragglers', () => {
    const { flat, head, gate } = setUp([2], 'exactly-once');
    const [a, b] = flat as [TracingChannel, TracingChannel];
    a.enqueue(ACTIVE_STATUS);
    b.enqueue(ACTIVE_STATUS);
    a.enqueue(barrier(1));
    a.enqueue(batch('a-after-1'));
    drain(gate);
    // Checkpoint 1 was declined elsewhere: channel b's producer already moved on to 2.
    b.enqueue(barrier(2));
    drain(gate);
    expect(reports(head)).toEqual(['aborted 1']);
    expect(records(head)).toEqual(['a-after-1']);
    a.enqueue(barrier(2));
    drain(gate);
    expect(reports(head)).toEqual(['aborted 1', 'aligned 2']);
    b.enqueue(barrier(1));
    drain(gate);
    expect(reports(head)).toEqual(['aborted 1', 'aligned 2']);
  });

  it('unblocks on the coordinator abort and ignores the aborted checkpoint afterwards', () => {
    const { flat, head, gate } = setUp([2], 'exactly-once');
    const [a, b] = flat as [TracingChannel, TracingChannel];
    a.enqueue(ACTIVE_STATUS);
    b.enqueue(ACTIVE_STATUS);
    a.enqueue(barrier(3));
    a.enqueue(batch('a-after'));
    drain(gate);
    expect(records(head)).toEqual([]);
    gate.abortCheckpoint(3);
    drain(gate);
    expect(records(head)).toEqual(['a-after']);
    b.enqueue(barrier(3));
    b.enqueue(batch('b-after'));
    drain(gate);
    expect(records(head)).toEqual(['a-after', 'b-after']);
    expect(reports(head)).toEqual([]);
  });

  it('handles barriers while announcements are missing, and still holds records until all announced', () => {
    const { flat, head, gate } = setUp([2], 'exactly-once');
    const [a, b] = flat as [TracingChannel, TracingChannel];
    let isIdleAnnounced: boolean | undefined;
    gate.onStatusKnown((isIdle) => {
      isIdleAnnounced = isIdle;
    });
    a.enqueue(ACTIVE_STATUS);
    a.enqueue(barrier(1));
    a.enqueue(batch('a-after'));
    drain(gate);
    expect(gate.isAwaitingAnnouncements).toBe(true);
    expect(gate.alignment).toMatchObject({ kind: 'collecting-barriers', checkpointId: 1 });
    b.enqueue(batch('b-early')); // Would be a protocol error in production (announcement first); held here.
    drain(gate);
    expect(records(head)).toEqual([]);

    const fresh = setUp([2], 'exactly-once');
    const [c, d] = fresh.flat as [TracingChannel, TracingChannel];
    c.enqueue(ACTIVE_STATUS);
    c.enqueue(barrier(1));
    c.enqueue(batch('c-after'));
    drain(fresh.gate);
    d.enqueue(ACTIVE_STATUS);
    d.enqueue(batch('d-before'));
    d.enqueue(barrier(1));
    drain(fresh.gate);
    expect(fresh.head.seen.map((entry) => (entry.kind === 'record' ? entry.value : entry.kind))).toEqual(['d-before', 'aligned', 'c-after']);
    expect(isIdleAnnounced).toBeUndefined(); // The first gate's b never announced.
  });

  it('a single-channel task completes on the barrier itself', () => {
    const { flat, head, gate } = setUp([1], 'exactly-once');
    const [a] = flat as [TracingChannel];
    a.enqueue(ACTIVE_STATUS);
    a.enqueue(batch('x'));
    a.enqueue(barrier(1));
    a.enqueue(batch('y'));
    drain(gate);
    expect(head.seen.map((entry) => (entry.kind === 'record' ? entry.value : entry.kind))).toEqual(['x', 'aligned', 'y']);
  });

  it('changes mode only before its input starts', () => {
    const { flat, gate } = setUp([2], 'exactly-once');
    gate.setCheckpointingMode('at-least-once');
    expect(gate.checkpointingMode).toBe('at-least-once');
    flat[0]!.enqueue(ACTIVE_STATUS);
    flat[0]!.enqueue(barrier(1));
    drain(gate);
    expect(() => gate.setCheckpointingMode('exactly-once')).toThrow(/only before its input starts/);
  });
});

describe('InputGate barriers, at-least-once', () => {
  it('keeps reading a channel after its barrier, and reports once every channel delivered it', () => {
    const { flat, head, gate } = setUp([1, 1], 'at-least-once');
    const [a, b] = flat as [TracingChannel, TracingChannel];
    a.enqueue(ACTIVE_STATUS);
    b.enqueue(ACTIVE_STATUS);
    a.enqueue(barrier(1));
    a.enqueue(batch('a-after'));
    drain(gate);
    expect(records(head)).toEqual(['a-after']);
    b.enqueue(barrier(1));
    drain(gate);
    expect(head.seen.map((entry) => (entry.kind === 'record' ? entry.value : entry.kind))).toEqual(['a-after', 'aligned']);
  });

  it('reports at once with a single channel', () => {
    const { flat, head, gate } = setUp([1], 'at-least-once');
    flat[0]!.enqueue(ACTIVE_STATUS);
    flat[0]!.enqueue(barrier(4));
    drain(gate);
    expect(reports(head)).toEqual(['aligned 4']);
  });
});

/**
 * The law under any interleaving: per-channel sequences of records and barriers 1..k (some channels
 * ending early, some never ending), arriving in any order relative to the gate's reads.
 */
describe('InputGate barrier alignment under any interleaving', () => {
  interface ChannelPlan {
    /** Record counts before barrier 1, between barriers 1 and 2, …, after barrier k (length k + 1). */
    readonly segments: readonly number[];
    /** Barriers 1..endsAfter are sent; then end-of-input (always when endsAfter < k). */
    readonly endsAfter: number;
    readonly sendsEnd: boolean;
  }
  interface Record_ {
    readonly channel: number;
    /** How many barriers preceded this record on its channel. */
    readonly epoch: number;
  }

  const plan = fc.integer({ min: 1, max: 4 }).chain((k) =>
    fc.record({
      k: fc.constant(k),
      inputs: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 2 }),
      channels: fc.array(
        fc.record({
          segments: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: k + 1, maxLength: k + 1 }),
          endsAfter: fc.oneof(fc.constant(k), fc.integer({ min: 0, max: k })),
          sendsEnd: fc.boolean(),
        }),
        { minLength: 6, maxLength: 6 },
      ),
      schedule: fc.array(fc.nat(), { maxLength: 120 }),
    }),
  );

  function messagesOf(channel: number, { segments, endsAfter, sendsEnd }: ChannelPlan): ChannelMessage[] {
    const messages: ChannelMessage[] = [ACTIVE_STATUS];
    for (let epoch = 0; epoch <= endsAfter; epoch++) {
      const values: Record_[] = Array.from({ length: segments[epoch]! }, () => ({ channel, epoch }));
      // Batches of one or two records.
      for (let i = 0; i < values.length; i += 2) messages.push(batch(...values.slice(i, i + 2)));
      if (epoch < endsAfter) messages.push(barrier(epoch + 1));
    }
    if (sendsEnd || endsAfter < segments.length - 1) messages.push(END_OF_INPUT);
    return messages;
  }

  function check(mode: BarrierHandlingMode, k: number, inputs: number[], plans: ChannelPlan[], schedule: number[]): void {
    const { flat, head, gate } = setUp(inputs, mode);
    const n = flat.length;
    const pending = flat.map((_, c) => messagesOf(c, plans[c]!));
    const outcomes = new Map<number, 'aligned' | 'aborted'>();
    let lastAligned = 0;
    let lastOutcome = 0;
    /** Every channel delivered barrier j or ended: the moment checkpoint j must be decided. */
    const isComplete = (j: number): boolean => flat.every((channel) => channel.lastBarrier >= j || channel.hasEnded);
    const isStarted = (j: number): boolean => flat.some((channel) => channel.lastBarrier >= j);

    gate.onBarrierAligned((checkpointId) => {
      expect(outcomes.has(checkpointId)).toBe(false);
      expect(checkpointId).toBeGreaterThan(lastOutcome);
      expect(isComplete(checkpointId)).toBe(true);
      outcomes.set(checkpointId, 'aligned');
      lastAligned = lastOutcome = checkpointId;
    });
    gate.onCheckpointAborted((checkpointId) => {
      // Exactly-once blocks every channel that is ahead, so nothing can overtake a checkpoint.
      expect(mode).toBe('at-least-once');
      expect(outcomes.has(checkpointId)).toBe(false);
      expect(checkpointId).toBeGreaterThan(lastOutcome);
      expect(flat.some((channel) => channel.lastBarrier > checkpointId)).toBe(true);
      outcomes.set(checkpointId, 'aborted');
      lastOutcome = checkpointId;
    });
    head.onRecord = (value) => {
      const { epoch } = value as Record_;
      // Every record before barrier j on its channel is processed before checkpoint j's snapshot.
      expect(lastAligned).toBeLessThanOrEqual(epoch);
      // Exactly-once: a record after barrier j waits for checkpoint j's snapshot.
      if (mode === 'exactly-once') expect(lastAligned).toBe(epoch);
    };
    const afterStep = (): void => {
      for (let j = 1; j <= k; j++) if (isStarted(j) && isComplete(j)) expect(outcomes.has(j)).toBe(true);
      if (!gate.isAwaitingAnnouncements) {
        const readable = flat.some((channel, c) => channel.hasData && (mode === 'at-least-once' || !isBlockedByAlignment(c)));
        expect(gate.hasData).toBe(readable);
      }
    };
    const isBlockedByAlignment = (c: number): boolean => {
      const state = gate.alignment;
      return state.kind === 'collecting-barriers' && state.hasDelivered[c] === true;
    };

    for (const choice of schedule) {
      const target = choice % (n + 1);
      if (target === n) {
        gate.processNext();
        afterStep();
      } else {
        const message = pending[target]!.shift();
        if (message !== undefined) flat[target]!.enqueue(message);
      }
    }
    pending.forEach((messages, c) => {
      for (const message of messages) flat[c]!.enqueue(message);
    });
    for (let guard = 0; guard < 10_000; guard++) {
      const step = gate.processNext();
      afterStep();
      if (step !== 'processed') break;
    }

    // Nothing stuck: every message was read.
    expect(flat.every((channel) => !channel.hasData)).toBe(true);
    const expectedRecords = plans
      .slice(0, n)
      .reduce((sum, { segments, endsAfter }) => sum + segments.slice(0, endsAfter + 1).reduce((a, b) => a + b, 0), 0);
    expect(records(head)).toHaveLength(expectedRecords);
    // Every checkpoint whose barrier some channel sent is decided exactly once, in order; the newest is aligned.
    const sent = Math.max(...plans.slice(0, n).map((channelPlan) => channelPlan.endsAfter));
    expect([...outcomes.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: sent }, (_, i) => i + 1));
    if (sent > 0) expect(outcomes.get(sent)).toBe('aligned');
    if (mode === 'exactly-once') expect([...outcomes.values()].every((outcome) => outcome === 'aligned')).toBe(true);
  }

  it('exactly-once: one snapshot per checkpoint, right after the last barrier, and nothing after a barrier before it', () => {
    fc.assert(
      fc.property(plan, ({ k, inputs, channels, schedule }) => check('exactly-once', k, inputs, channels, schedule)),
      { numRuns: 300 },
    );
  });

  it('at-least-once: never blocks, decides every checkpoint exactly once, aligning it unless a newer barrier overtook it', () => {
    fc.assert(
      fc.property(plan, ({ k, inputs, channels, schedule }) => check('at-least-once', k, inputs, channels, schedule)),
      { numRuns: 300 },
    );
  });

  it('at-least-once: records after a barrier are read while a slower channel has not delivered it', () => {
    const { flat, head, gate } = setUp([3], 'at-least-once');
    const [a, b, c] = flat as [TracingChannel, TracingChannel, TracingChannel];
    for (const channel of flat) channel.enqueue(ACTIVE_STATUS);
    for (let j = 1; j <= 3; j++) {
      for (const channel of [a, b]) {
        channel.enqueue(barrier(j));
        channel.enqueue(batch(`after ${j}`));
      }
      drain(gate);
      expect(records(head).filter((value) => value === `after ${j}`)).toHaveLength(2);
      expect(reports(head)).toHaveLength(j - 1);
      c.enqueue(barrier(j));
      drain(gate);
      expect(reports(head)).toHaveLength(j);
    }
    expect(reports(head)).toEqual(['aligned 1', 'aligned 2', 'aligned 3']);
  });
});

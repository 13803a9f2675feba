import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MIN_WATERMARK } from '../../src/core/time.ts';
import type { OperatorContext, OperatorSnapshot, StreamOperator } from '../../src/operators/operator.ts';
import { InputChannel } from '../../src/runtime/input-channel.ts';
import { InputGate } from '../../src/runtime/input-gate.ts';
import { ACTIVE_STATUS, IDLE_STATUS, RecordBatch, type ChannelMessage } from '../../src/runtime/stream-element.ts';

/** A head operator that records, for every record, the watermark in force when it arrived. */
class RecordingHead implements StreamOperator<unknown> {
  watermarkMs = MIN_WATERMARK;
  readonly seen: Array<{ value: unknown; watermarkMs: number }> = [];
  setup(_context: OperatorContext<unknown>): void {}
  restoreState(_snapshot: OperatorSnapshot): void {}
  open(): void {}
  processRecord(value: unknown): void {
    this.seen.push({ value, watermarkMs: this.watermarkMs });
  }
  processWatermark(watermarkMs: number): void {
    this.watermarkMs = watermarkMs;
  }
  processWatermarkStatus(): void {}
  endInput(): void {}
  finish(): void {}
  snapshotState(): OperatorSnapshot {
    return { keyed: undefined, operatorState: {} };
  }
  notifyCheckpointComplete(): void {}
  close(): void {}
}

function batch(...values: number[]): RecordBatch {
  return new RecordBatch(values, Float64Array.from(values), values.length);
}

function drain(gate: InputGate): void {
  while (gate.processNext() === 'processed') {}
}

describe('InputGate status announcements', () => {
  it('holds records until every channel announced its status, so an idle producer never lowers the watermark', () => {
    const channels = [new InputChannel(0, () => {}), new InputChannel(1, () => {})];
    const head = new RecordingHead();
    const gate = new InputGate([channels], head, 'head', 0);
    let announced: boolean | undefined;
    gate.onStatusKnown((isIdle) => {
      announced = isIdle;
    });

    channels[0]!.enqueue(ACTIVE_STATUS);
    channels[0]!.enqueue(batch(1, 2));
    channels[0]!.enqueue({ kind: 'watermark', watermarkMs: 100 });
    channels[0]!.enqueue(batch(50, 150));
    drain(gate);
    expect(head.seen).toEqual([]);
    expect(gate.hasData).toBe(false);
    expect(announced).toBeUndefined();

    // The second producer turns out idle (a source subtask without splits).
    channels[1]!.enqueue(IDLE_STATUS);
    drain(gate);
    expect(announced).toBe(false);
    expect(head.seen).toEqual([
      { value: 1, watermarkMs: MIN_WATERMARK },
      { value: 2, watermarkMs: MIN_WATERMARK },
      { value: 50, watermarkMs: 100 },
      { value: 150, watermarkMs: 100 },
    ]);
  });

  it('judges every record against the same watermark whatever the interleaving of the idle channel', () => {
    // Property: the watermark each record of channel 0 sees does not depend on when channel 1's
    // (idle) announcement arrives relative to channel 0's messages.
    const messages: ChannelMessage[] = [ACTIVE_STATUS];
    for (let i = 0; i < 20; i++) {
      messages.push(batch(i * 10, i * 10 + 5), { kind: 'watermark', watermarkMs: i * 10 + 1 });
    }
    const run = (announceAfter: number, pollEvery: number) => {
      const channels = [new InputChannel(0, () => {}), new InputChannel(1, () => {})];
      const head = new RecordingHead();
      const gate = new InputGate([channels], head, 'head', 0);
      messages.forEach((message, index) => {
        channels[0]!.enqueue(message);
        if (index === announceAfter) channels[1]!.enqueue(IDLE_STATUS);
        if (index % pollEvery === 0) drain(gate);
      });
      if (announceAfter >= messages.length) channels[1]!.enqueue(IDLE_STATUS);
      drain(gate);
      return head.seen;
    };
    const reference = run(0, 1);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: messages.length }), fc.integer({ min: 1, max: 7 }), (announceAfter, pollEvery) => {
        expect(run(announceAfter, pollEvery)).toEqual(reference);
      }),
    );
  });
});

describe('InputGate batch preparation (state prefetch)', () => {
  it('prepares each batch once before processing it, the same batch first, and in channel order otherwise', async () => {
    const channels = [new InputChannel(0, () => {}), new InputChannel(1, () => {})];
    const head = new RecordingHead();
    const gate = new InputGate([channels], head, 'head', 0);
    const prepared: number[][] = [];
    const pending: Array<() => void> = [];
    gate.prepareBatch = (next) => {
      prepared.push([...next.values.slice(0, next.length)] as number[]);
      // Every other batch needs loading; the others are already cached.
      if (prepared.length % 2 === 0) return undefined;
      return new Promise<void>((resolve) => pending.push(resolve));
    };
    for (const channel of channels) channel.enqueue(ACTIVE_STATUS);
    channels[0]!.enqueue(batch(1, 2));
    channels[1]!.enqueue(batch(10));
    channels[0]!.enqueue(batch(3));

    const steps: string[] = [];
    const run = async (): Promise<void> => {
      for (;;) {
        const step = gate.processNext();
        steps.push(step);
        if (step === 'nothing-available') return;
        if (step === 'preparing') {
          const preparation = gate.takePreparation()!;
          expect(gate.takePreparation()).toBeUndefined();
          pending.shift()!();
          await preparation;
        }
      }
    };
    await run();
    expect(head.seen.map((seen) => seen.value)).toEqual([1, 2, 10, 3]);
    // Prepared once each, in the order processed; a batch waiting for its preparation is processed next.
    expect(prepared).toEqual([[1, 2], [10], [3]]);
    expect(steps.filter((step) => step === 'preparing')).toHaveLength(2);
  });
});

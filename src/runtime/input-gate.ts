import { EddyError, assertNever } from '../core/errors.ts';
import type { StreamOperator } from '../operators/operator.ts';
import { WatermarkValve } from '../time/watermark-valve.ts';
import { attributeError } from './operator-chain.ts';
import type { InputChannel } from './input-channel.ts';
import { RecordBatch, type ChannelEvent } from './stream-element.ts';

/** One channel of the gate with its place: logical input and index among that input's channels. */
interface GateChannel {
  readonly channel: InputChannel;
  readonly input: number;
  readonly indexInInput: number;
  /** True once end-of-input arrived. */
  hasEnded: boolean;
}

/**
 * Barrier handling as a state machine (Flink's `WaitingForFirstBarrier` ▶ `CollectingBarriers`).
 * Only the first state exists yet: checkpoints come with the next issue, and a barrier before then
 * is an internal error. Alignment will block channels via {@link GateChannel} flags that
 * {@link InputGate.processNext} already skips.
 */
export type BarrierAlignment = { readonly kind: 'waiting-for-first-barrier' };

export type GateStep = 'processed' | 'nothing-available' | 'all-ended';

/**
 * The input side of a task whose head reads from channels: polls the channels round-robin (one message
 * per step, so no channel starves), feeds batches to the head operator synchronously, and runs
 * watermarks and idleness through one {@link WatermarkValve} per logical input. When the last channel
 * of an input ends, the valve emits MAX_WATERMARK and the head gets `endInput(input)`.
 */
export class InputGate {
  private readonly channels: GateChannel[] = [];
  private readonly valves: WatermarkValve[] = [];
  private readonly openChannelsPerInput: number[];
  private openChannels: number;
  private nextChannel = 0;
  alignment: BarrierAlignment = { kind: 'waiting-for-first-barrier' };

  constructor(
    channelsByInput: readonly (readonly InputChannel[])[],
    private readonly head: StreamOperator<unknown>,
    private readonly headUid: string,
    private readonly subtask: number,
  ) {
    this.openChannelsPerInput = channelsByInput.map((list) => list.length);
    this.openChannels = 0;
    channelsByInput.forEach((list, input) => {
      if (list.length === 0) {
        throw new EddyError(`input ${input} of operator '${headUid}' has no channel`, { operatorUid: headUid, subtask });
      }
      list.forEach((channel, indexInInput) => {
        this.channels.push({ channel, input, indexInInput, hasEnded: false });
        this.openChannels++;
      });
      this.valves.push(
        new WatermarkValve(list.length, {
          emitWatermark: (watermarkMs: number) => this.head.processWatermark(watermarkMs, input),
          emitWatermarkStatus: (isIdle: boolean) => this.head.processWatermarkStatus(isIdle, input),
        }),
      );
    });
  }

  get hasData(): boolean {
    for (let i = 0; i < this.channels.length; i++) if (this.channels[i]!.channel.hasData) return true;
    return false;
  }

  /** Sets the callback that wakes the task when any channel receives a message. */
  onData(wake: () => void): void {
    for (const entry of this.channels) entry.channel.onData = wake;
  }

  /** Processes one message from the next channel that has one. */
  processNext(): GateStep {
    const count = this.channels.length;
    for (let attempt = 0; attempt < count; attempt++) {
      const entry = this.channels[this.nextChannel]!;
      this.nextChannel = this.nextChannel + 1 === count ? 0 : this.nextChannel + 1;
      const message = entry.channel.poll();
      if (message === undefined) continue;
      if (message instanceof RecordBatch) {
        this.processBatch(message, entry.input);
        entry.channel.releaseBatch();
        return 'processed';
      }
      return this.processEvent(message, entry);
    }
    return 'nothing-available';
  }

  private processBatch(batch: RecordBatch, input: number): void {
    const head = this.head;
    const values = batch.values;
    const timestamps = batch.timestamps;
    const length = batch.length;
    try {
      for (let i = 0; i < length; i++) head.processRecord(values[i], timestamps[i]!, input);
    } catch (error) {
      throw attributeError(error, this.headUid, this.subtask);
    }
  }

  private processEvent(event: ChannelEvent, entry: GateChannel): GateStep {
    const valve = this.valves[entry.input]!;
    try {
      switch (event.kind) {
        case 'watermark':
          valve.inputWatermark(entry.indexInInput, event.watermarkMs);
          return 'processed';
        case 'watermark-status':
          valve.inputWatermarkStatus(entry.indexInInput, event.isIdle);
          return 'processed';
        case 'barrier':
          throw new EddyError(
            `checkpoint barrier ${event.checkpointId} arrived in state ${this.alignment.kind}, but checkpoints are not supported yet`,
          );
        case 'end-of-input':
          if (entry.hasEnded) throw new EddyError('a channel sent end-of-input twice');
          entry.hasEnded = true;
          valve.endOfInput(entry.indexInInput);
          this.openChannels--;
          if (--this.openChannelsPerInput[entry.input]! === 0) this.head.endInput(entry.input);
          return this.openChannels === 0 ? 'all-ended' : 'processed';
        default:
          return assertNever(event, 'channel event');
      }
    } catch (error) {
      throw attributeError(error, this.headUid, this.subtask);
    }
  }
}

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
  /** True once the producer announced its status (the first message of every channel). */
  hasAnnounced: boolean;
}

/**
 * Barrier handling as a state machine (Flink's `WaitingForFirstBarrier` ▶ `CollectingBarriers`).
 * Only the first state exists yet: checkpoints come with the next issue, and a barrier before then
 * is an internal error. Alignment will block channels via {@link GateChannel} flags that
 * {@link InputGate.processNext} already skips.
 */
export type BarrierAlignment = { readonly kind: 'waiting-for-first-barrier' };

/** What one {@link InputGate} step did: handled a message, found none ready, or saw every input end. */
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
  private unannouncedChannels = 0;
  private nextChannel = 0;
  private onAllAnnounced: (isIdle: boolean) => void = () => {};
  alignment: BarrierAlignment = { kind: 'waiting-for-first-barrier' };

  constructor(
    channelsByInput: readonly (readonly InputChannel[])[],
    private readonly head: StreamOperator<unknown>,
    private readonly headUid: string,
    private readonly subtask: number,
  ) {
    this.openChannelsPerInput = channelsByInput.map((list) => list.length);
    this.openChannels = 0;
    for (const list of channelsByInput) this.unannouncedChannels += list.length;
    channelsByInput.forEach((list, input) => {
      if (list.length === 0) {
        throw new EddyError(`input ${input} of operator '${headUid}' has no channel`, { operatorUid: headUid, subtask });
      }
      list.forEach((channel, indexInInput) => {
        this.channels.push({ channel, input, indexInInput, hasEnded: false, hasAnnounced: false });
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

  /** True when {@link processNext} can make progress (records wait while announcements are missing). */
  get hasData(): boolean {
    for (let i = 0; i < this.channels.length; i++) {
      const next = this.channels[i]!.channel.peek();
      if (next !== undefined && (this.unannouncedChannels === 0 || !(next instanceof RecordBatch))) return true;
    }
    return false;
  }

  /**
   * Called once every channel has announced its producer's status, with whether all inputs are idle:
   * the task then announces its own status downstream before it emits anything else.
   */
  onStatusKnown(callback: (isIdle: boolean) => void): void {
    this.onAllAnnounced = callback;
  }

  /** True while some channel has not announced its status: records are held back until then. */
  get isAwaitingAnnouncements(): boolean {
    return this.unannouncedChannels > 0;
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
      const next = entry.channel.peek();
      if (next === undefined) continue;
      // Until every producer has announced whether it is active, a record could be judged against a
      // watermark held back by a producer that will turn out idle: keep records waiting.
      if (next instanceof RecordBatch && this.unannouncedChannels > 0) continue;
      const message = entry.channel.poll()!;
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
    const step = this.applyEvent(event, entry, valve);
    if (!entry.hasAnnounced) {
      entry.hasAnnounced = true;
      if (--this.unannouncedChannels === 0) {
        let isIdle = true;
        for (const inputValve of this.valves) if (!inputValve.isIdle) isIdle = false;
        this.onAllAnnounced(isIdle);
      }
    }
    return step;
  }

  private applyEvent(event: ChannelEvent, entry: GateChannel, valve: WatermarkValve): GateStep {
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

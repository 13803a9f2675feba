import { EddyError, assertNever } from '../core/errors.ts';
import type { StreamOperator } from '../operators/operator.ts';
import { WatermarkValve } from '../time/watermark-valve.ts';
import { attributeError } from './operator-chain.ts';
import {
  createBarrierHandler,
  type BarrierAlignment,
  type BarrierHandler,
  type BarrierHandlingMode,
  type BarrierReport,
} from './barrier-handler.ts';
import type { InputChannel } from './input-channel.ts';
import { RecordBatch, type ChannelEvent } from './stream-element.ts';

/** One channel of the gate with its place: logical input and index among that input's channels. */
interface GateChannel {
  readonly channel: InputChannel;
  /** Index over all channels of the gate (the barrier handler's channel number). */
  readonly index: number;
  readonly input: number;
  readonly indexInInput: number;
  /** True once end-of-input arrived. */
  hasEnded: boolean;
  /** True once the producer announced its status (the first message of every channel). */
  hasAnnounced: boolean;
}

export type { BarrierAlignment } from './barrier-handler.ts';

/** Options of an {@link InputGate}. */
export interface InputGateOptions {
  /** How checkpoint barriers are handled; default `exactly-once` (align). */
  readonly checkpointingMode?: BarrierHandlingMode;
}

/** What one {@link InputGate} step did: handled a message, found none ready, or saw every input end. */
/** `preparing`: the next batch first needs the promise of {@link InputGate.takePreparation}. */
export type GateStep = 'processed' | 'nothing-available' | 'all-ended' | 'preparing';

/**
 * The input side of a task whose head reads from channels: polls the channels round-robin (one message
 * per step, so no channel starves), feeds batches to the head operator synchronously, and runs
 * watermarks and idleness through one {@link WatermarkValve} per logical input. When the last channel
 * of an input ends, the valve emits MAX_WATERMARK and the head gets `endInput(input)`.
 *
 * Checkpoint barriers go to one {@link BarrierHandler} over all channels (barrier-handler.ts): in
 * exactly-once mode a channel that delivered barrier n is not read (its later records and events stay
 * queued) until n is aligned. The task learns of an aligned checkpoint through
 * {@link onBarrierAligned} (snapshot, then forward the barrier) and of one given up through
 * {@link onCheckpointAborted} (decline it); both fire synchronously inside {@link processNext}.
 */
export class InputGate {
  private readonly channels: GateChannel[] = [];
  private readonly valves: WatermarkValve[] = [];
  private readonly openChannelsPerInput: number[];
  private openChannels: number;
  private unannouncedChannels = 0;
  private nextChannel = 0;
  private onAllAnnounced: (isIdle: boolean) => void = () => {};
  private barriers: BarrierHandler;
  private onAligned: (checkpointId: number) => void = () => {};
  private onAborted: (checkpointId: number, reason: string) => void = () => {};

  constructor(
    channelsByInput: readonly (readonly InputChannel[])[],
    private readonly head: StreamOperator<unknown>,
    private readonly headUid: string,
    private readonly subtask: number,
    options: InputGateOptions = {},
  ) {
    this.openChannelsPerInput = channelsByInput.map((list) => list.length);
    this.openChannels = 0;
    for (const list of channelsByInput) this.unannouncedChannels += list.length;
    channelsByInput.forEach((list, input) => {
      if (list.length === 0) {
        throw new EddyError(`input ${input} of operator '${headUid}' has no channel`, { operatorUid: headUid, subtask });
      }
      list.forEach((channel, indexInInput) => {
        this.channels.push({ channel, index: this.channels.length, input, indexInInput, hasEnded: false, hasAnnounced: false });
        this.openChannels++;
      });
      this.valves.push(
        new WatermarkValve(list.length, {
          emitWatermark: (watermarkMs: number) => this.head.processWatermark(watermarkMs, input),
          emitWatermarkStatus: (isIdle: boolean) => this.head.processWatermarkStatus(isIdle, input),
        }),
      );
    });
    this.barriers = createBarrierHandler(options.checkpointingMode ?? 'exactly-once', this.channels.length);
  }

  /** Where barrier handling stands (waiting, or collecting barriers of one checkpoint). */
  get alignment(): BarrierAlignment {
    return this.barriers.state;
  }

  get checkpointingMode(): BarrierHandlingMode {
    return this.barriers.mode;
  }

  /**
   * Switches between aligning and only counting barriers. Only before the first barrier: a handler
   * in the middle of a checkpoint cannot change its mind about what it has blocked.
   */
  setCheckpointingMode(mode: BarrierHandlingMode): void {
    if (mode === this.barriers.mode) return;
    const state = this.barriers.state;
    const hasStarted = state.kind !== 'waiting-for-first-barrier' || state.lastCheckpointId !== 0;
    if (hasStarted || this.openChannels < this.channels.length) {
      throw new EddyError(`the checkpointing mode of operator '${this.headUid}' can change only before its input starts`, {
        operatorUid: this.headUid,
        subtask: this.subtask,
      });
    }
    this.barriers = createBarrierHandler(mode, this.channels.length);
  }

  /**
   * Called when every open channel delivered barrier n (exactly-once: with the later input of every
   * channel still queued): the task snapshots its operators and forwards barrier n, synchronously;
   * the gate resumes reading all channels after the callback returns.
   */
  onBarrierAligned(callback: (checkpointId: number) => void): void {
    this.onAligned = callback;
  }

  /** Called when the gate gives up checkpoint n (a newer barrier came first): the task declines n. */
  onCheckpointAborted(callback: (checkpointId: number, reason: string) => void): void {
    this.onAborted = callback;
  }

  /**
   * The coordinator aborted checkpoint n (timeout, another task declined): stop aligning it, unblock,
   * and ignore its barriers from now on. Not reported back through {@link onCheckpointAborted}.
   */
  abortCheckpoint(checkpointId: number): void {
    this.barriers.abort(checkpointId);
  }

  /** True when {@link processNext} can make progress (records wait while announcements are missing). */
  get hasData(): boolean {
    const barriers = this.barriers;
    for (let i = 0; i < this.channels.length; i++) {
      if (barriers.isBlocked(i)) continue;
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

  /**
   * Asynchronous work a batch needs before it is processed (the chain head's state prefetch); set by
   * the task. When it returns a promise, {@link processNext} answers `preparing` and processes that same
   * batch on the next call, without preparing it again.
   */
  prepareBatch: ((batch: RecordBatch, input: number) => Promise<void> | undefined) | undefined = undefined;
  private preparedBatch: RecordBatch | undefined = undefined;
  private preparation: Promise<void> | undefined = undefined;

  /** The promise of the last `preparing` step (once). */
  takePreparation(): Promise<void> | undefined {
    const preparation = this.preparation;
    this.preparation = undefined;
    return preparation;
  }

  /** Processes one message from the next channel that has one. */
  processNext(): GateStep {
    const count = this.channels.length;
    for (let attempt = 0; attempt < count; attempt++) {
      const entry = this.channels[this.nextChannel]!;
      this.nextChannel = this.nextChannel + 1 === count ? 0 : this.nextChannel + 1;
      // Exactly-once: what follows this channel's barrier waits for the checkpoint's alignment.
      if (this.barriers.isBlocked(entry.index)) continue;
      const next = entry.channel.peek();
      if (next === undefined) continue;
      // Until every producer has announced whether it is active, a record could be judged against a
      // watermark held back by a producer that will turn out idle: keep records waiting.
      if (next instanceof RecordBatch && this.unannouncedChannels > 0) continue;
      if (next instanceof RecordBatch && this.prepareBatch !== undefined && this.preparedBatch !== next) {
        this.preparedBatch = next;
        const preparation = this.prepareBatch(next, entry.input);
        if (preparation !== undefined) {
          this.preparation = preparation;
          this.nextChannel = entry.index; // this channel's batch goes first once prepared
          return 'preparing';
        }
      }
      const message = entry.channel.poll()!;
      if (message instanceof RecordBatch) {
        if (message === this.preparedBatch) this.preparedBatch = undefined; // batch objects may be reused
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
    let reports: readonly BarrierReport[];
    try {
      switch (event.kind) {
        case 'watermark':
          valve.inputWatermark(entry.indexInInput, event.watermarkMs);
          return 'processed';
        case 'watermark-status':
          valve.inputWatermarkStatus(entry.indexInInput, event.isIdle);
          return 'processed';
        case 'barrier':
          reports = this.barriers.barrier(entry.index, event.checkpointId);
          break;
        case 'end-of-input':
          if (entry.hasEnded) throw new EddyError('a channel sent end-of-input twice');
          entry.hasEnded = true;
          valve.endOfInput(entry.indexInInput);
          this.openChannels--;
          if (--this.openChannelsPerInput[entry.input]! === 0) this.head.endInput(entry.input);
          // After endInput: the input's final output precedes any snapshot this end completes.
          reports = this.barriers.endOfInput(entry.index);
          break;
        default:
          return assertNever(event, 'channel event');
      }
    } catch (error) {
      throw attributeError(error, this.headUid, this.subtask);
    }
    // Outside the attribution above: the callbacks run the task's snapshot, whose errors it attributes.
    for (const report of reports) {
      if (report.kind === 'aligned') this.onAligned(report.checkpointId);
      else this.onAborted(report.checkpointId, report.reason);
    }
    return this.openChannels === 0 ? 'all-ended' : 'processed';
  }
}

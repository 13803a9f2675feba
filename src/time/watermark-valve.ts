import { EddyError } from '../core/errors.ts';
import { MAX_WATERMARK, MIN_WATERMARK } from '../core/time.ts';

/** Where a {@link WatermarkValve} sends its combined watermark and status. */
export interface WatermarkValveOutput {
  emitWatermark(watermarkMs: number): void;
  emitWatermarkStatus(isIdle: boolean): void;
}

/**
 * Combines the watermarks and idle/active statuses of n input channels into one output watermark and
 * status — Flink's StatusWatermarkValve.
 *
 * Invariants:
 * - The output watermark never decreases, and is emitted only when it increases.
 * - A channel's watermark never decreases: a lower watermark on a channel is ignored.
 * - Output watermark = min over *aligned* channels. A channel is aligned while it is active and its
 *   watermark has reached the last output watermark; an idle channel is not aligned; a channel that
 *   becomes active again below the last output watermark becomes aligned only once it catches up, so
 *   it never pulls the output back.
 * - Watermarks that arrive on an idle channel, or while the whole valve is idle, are ignored (Flink).
 * - The output is idle exactly when every channel is idle; on the way to all-idle the valve flushes
 *   the max watermark over all channels (if the channel that went idle last was holding the output
 *   back), since no channel will advance any more. Any channel turning active makes the output active.
 * - After `endOfInput(c)`, channel c is active at MAX_WATERMARK forever: status changes on it are
 *   ignored, so the valve can no longer go all-idle.
 *
 * Cost: O(n) per watermark or status change (a scan over the channels; fine for n ≤ a few hundred,
 * where a heap would not pay for itself); O(1) when the input changes nothing.
 */
export class WatermarkValve {
  private readonly watermarks: number[];
  private readonly isChannelIdle: boolean[];
  private readonly isChannelAligned: boolean[];
  private readonly hasChannelEnded: boolean[];
  private lastOutputWatermarkMs = MIN_WATERMARK;
  private isOutputIdle = false;

  constructor(
    readonly numChannels: number,
    private readonly output: WatermarkValveOutput,
  ) {
    if (!Number.isInteger(numChannels) || numChannels < 1) {
      throw new EddyError(`a watermark valve needs at least one input channel, got ${numChannels}`);
    }
    this.watermarks = new Array<number>(numChannels).fill(MIN_WATERMARK);
    this.isChannelIdle = new Array<boolean>(numChannels).fill(false);
    this.isChannelAligned = new Array<boolean>(numChannels).fill(true);
    this.hasChannelEnded = new Array<boolean>(numChannels).fill(false);
  }

  /** The last emitted watermark (MIN_WATERMARK before the first). */
  get outputWatermark(): number {
    return this.lastOutputWatermarkMs;
  }

  get isIdle(): boolean {
    return this.isOutputIdle;
  }

  inputWatermark(channel: number, watermarkMs: number): void {
    this.checkChannel(channel);
    if (this.isOutputIdle || this.isChannelIdle[channel]) return;
    if (watermarkMs <= this.watermarks[channel]!) return;
    this.watermarks[channel] = watermarkMs;
    if (!this.isChannelAligned[channel] && watermarkMs >= this.lastOutputWatermarkMs) {
      this.isChannelAligned[channel] = true;
    }
    this.emitMinOverAlignedChannels();
  }

  inputWatermarkStatus(channel: number, isIdle: boolean): void {
    this.checkChannel(channel);
    if (this.hasChannelEnded[channel] || isIdle === this.isChannelIdle[channel]) return;
    if (isIdle) {
      this.isChannelIdle[channel] = true;
      this.isChannelAligned[channel] = false;
      const wasHoldingOutput = this.watermarks[channel] === this.lastOutputWatermarkMs;
      if (!this.hasActiveChannel()) {
        if (wasHoldingOutput) this.emitMaxOverAllChannels();
        this.isOutputIdle = true;
        this.output.emitWatermarkStatus(true);
      } else if (wasHoldingOutput) {
        this.emitMinOverAlignedChannels();
      }
      return;
    }
    this.isChannelIdle[channel] = false;
    if (this.watermarks[channel]! >= this.lastOutputWatermarkMs) this.isChannelAligned[channel] = true;
    if (this.isOutputIdle) {
      this.isOutputIdle = false;
      this.output.emitWatermarkStatus(false);
    }
  }

  /** Channel `channel` has ended: it no longer holds the watermark back, and can no longer go idle. */
  endOfInput(channel: number): void {
    this.checkChannel(channel);
    if (this.hasChannelEnded[channel]) return;
    this.inputWatermarkStatus(channel, false);
    this.hasChannelEnded[channel] = true;
    this.inputWatermark(channel, MAX_WATERMARK);
  }

  private emitMinOverAlignedChannels(): void {
    let min = Number.POSITIVE_INFINITY;
    for (let i = 0; i < this.numChannels; i++) {
      if (this.isChannelAligned[i] && this.watermarks[i]! < min) min = this.watermarks[i]!;
    }
    if (min !== Number.POSITIVE_INFINITY && min > this.lastOutputWatermarkMs) {
      this.lastOutputWatermarkMs = min;
      this.output.emitWatermark(min);
    }
  }

  private emitMaxOverAllChannels(): void {
    let max = MIN_WATERMARK;
    for (let i = 0; i < this.numChannels; i++) if (this.watermarks[i]! > max) max = this.watermarks[i]!;
    if (max > this.lastOutputWatermarkMs) {
      this.lastOutputWatermarkMs = max;
      this.output.emitWatermark(max);
    }
  }

  private hasActiveChannel(): boolean {
    for (let i = 0; i < this.numChannels; i++) if (!this.isChannelIdle[i]) return true;
    return false;
  }

  private checkChannel(channel: number): void {
    if (!Number.isInteger(channel) || channel < 0 || channel >= this.numChannels) {
      throw new EddyError(`watermark valve has channels 0..${this.numChannels - 1}, got channel ${channel}`);
    }
  }
}

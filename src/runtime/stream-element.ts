/**
 * What travels on a channel between two tasks: batches of records and, between batches, in-band
 * control events. Records never travel one by one, and an event is never inside a batch: a watermark,
 * a watermark status, a checkpoint barrier or the end of input applies to everything before it on the
 * same channel.
 */

/**
 * A batch of records. `timestamps[i]` is the event time of `values[i]` (NaN when it has none). Only
 * the first `length` entries are meaningful. Never mutated once sent.
 */
export class RecordBatch {
  constructor(
    readonly values: readonly unknown[],
    readonly timestamps: Float64Array,
    readonly length: number,
  ) {}
}

/** In-band control events of a channel; they travel in order with the record batches. */
export type ChannelEvent =
  | { readonly kind: 'watermark'; readonly watermarkMs: number }
  | { readonly kind: 'watermark-status'; readonly isIdle: boolean }
  /** Checkpoint barrier n; aligned (exactly-once) or counted (at-least-once) by the consumer's BarrierHandler. */
  | { readonly kind: 'barrier'; readonly checkpointId: number }
  /** The producer subtask will send nothing more on this channel. */
  | { readonly kind: 'end-of-input' };

/** A batch or an event; tell them apart with `instanceof RecordBatch` (no wrapper object per batch). */
export type ChannelMessage = RecordBatch | ChannelEvent;

/** The last event of every channel. Shared: never mutate. */
export const END_OF_INPUT: ChannelEvent = { kind: 'end-of-input' };

/** The channel's producer has data again: it holds back the watermark. */
export const ACTIVE_STATUS: ChannelEvent = { kind: 'watermark-status', isIdle: false };
/** The channel's producer is idle: its watermark is ignored until it becomes active. */
export const IDLE_STATUS: ChannelEvent = { kind: 'watermark-status', isIdle: true };

/** True for the events that tell a consumer whether this channel is active: a status or the end of input. */
export function isStatusAnnouncement(message: ChannelMessage): boolean {
  return !(message instanceof RecordBatch) && (message.kind === 'watermark-status' || message.kind === 'end-of-input');
}

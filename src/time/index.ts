/**
 * Event time and timers.
 *
 * - {@link WatermarkStrategy}: how a source assigns timestamps and generates watermarks per split
 *   (bounded out-of-orderness: watermark = max timestamp − d − 1; monotonous; custom; idleness).
 * - {@link WatermarkValve}: combines n input channels into one watermark — the min over active,
 *   aligned channels, never decreasing; idle when all channels are idle.
 * - Timers: {@link TimerService} (what user functions see, scoped to the current key) and
 *   {@link KeyedTimerService} (per key and namespace, over the keyed backend's timer queues, so timers
 *   are checkpointed with keyed state). Event-time timers fire in timestamp order when the watermark
 *   reaches them; processing-time timers when the injectable clock does.
 *
 * All times are integer epoch milliseconds; MIN_WATERMARK / MAX_WATERMARK bound them (src/core/time.ts).
 */
export {
  BoundedOutOfOrdernessGenerator,
  IdlenessDetectingGenerator,
  WatermarkStrategy,
} from './watermark-strategy.ts';
export type {
  TimestampAssigner,
  WatermarkGenerator,
  WatermarkGeneratorContext,
  WatermarkOutput,
} from './watermark-strategy.ts';
export type { InternalTimerService, TimerService, Triggerable } from './timer-service.ts';
export { WatermarkValve } from './watermark-valve.ts';
export type { WatermarkValveOutput } from './watermark-valve.ts';
export { KeyedTimerService } from './keyed-timer-service.ts';
export type { KeyedTimerServiceOptions } from './keyed-timer-service.ts';

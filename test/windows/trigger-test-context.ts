import { computeKeyGroupRangeForOperatorIndex } from '../../src/core/key-group.ts';
import { ManualClock, MIN_WATERMARK } from '../../src/core/time.ts';
import { MemoryStateBackend } from '../../src/state/memory/memory-state-backend.ts';
import type { InternalTimerService } from '../../src/time/timer-service.ts';
import { TimeWindow, timeWindowCodec } from '../../src/windows/time-window.ts';
import { WindowTriggerContext } from '../../src/windows/window-trigger-context.ts';

/** Records timers as `e@ts[window]` / `p@ts[window]` strings; time is set by the test. */
export class RecordingTimers implements InternalTimerService<TimeWindow> {
  readonly timers = new Set<string>();
  watermarkMs = MIN_WATERMARK;
  readonly clock = new ManualClock(0);

  get size(): number {
    return this.timers.size;
  }
  currentProcessingTime(): number {
    return this.clock.now();
  }
  currentWatermark(): number {
    return this.watermarkMs;
  }
  registerEventTimeTimer(window: TimeWindow, timestampMs: number): void {
    this.timers.add(`e@${timestampMs}${String(window)}`);
  }
  deleteEventTimeTimer(window: TimeWindow, timestampMs: number): void {
    this.timers.delete(`e@${timestampMs}${String(window)}`);
  }
  registerProcessingTimeTimer(window: TimeWindow, timestampMs: number): void {
    this.timers.add(`p@${timestampMs}${String(window)}`);
  }
  deleteProcessingTimeTimer(window: TimeWindow, timestampMs: number): void {
    this.timers.delete(`p@${timestampMs}${String(window)}`);
  }
  advanceWatermark(watermarkMs: number): void {
    this.watermarkMs = watermarkMs;
  }
}

/** A trigger context over a real memory backend (key 'k') and recording timers. */
export function createTriggerContext(window: TimeWindow): { ctx: WindowTriggerContext<TimeWindow>; timers: RecordingTimers } {
  const timers = new RecordingTimers();
  const backend = new MemoryStateBackend({
    operatorUid: 'trigger-test',
    subtask: 0,
    maxParallelism: 128,
    keyGroupRange: computeKeyGroupRangeForOperatorIndex(128, 1, 0),
    clock: timers.clock,
    currentWatermark: () => timers.watermarkMs,
  });
  backend.setCurrentKey('k');
  const ctx = new WindowTriggerContext<TimeWindow>(backend, timeWindowCodec, timers);
  ctx.window = window;
  return { ctx, timers };
}

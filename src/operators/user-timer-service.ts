import { VOID_NAMESPACE, type VoidNamespace } from '../state/keyed-state-backend.ts';
import type { InternalTimerService, TimerService } from '../time/timer-service.ts';

/** The user-facing TimerService of process functions: the internal service in the void namespace. */
export class UserTimerService implements TimerService {
  constructor(private readonly internal: InternalTimerService<VoidNamespace>) {}

  currentProcessingTime(): number {
    return this.internal.currentProcessingTime();
  }

  currentWatermark(): number {
    return this.internal.currentWatermark();
  }

  registerEventTimeTimer(timestampMs: number): void {
    this.internal.registerEventTimeTimer(VOID_NAMESPACE, checkTimerTimestamp(timestampMs));
  }

  registerProcessingTimeTimer(timestampMs: number): void {
    this.internal.registerProcessingTimeTimer(VOID_NAMESPACE, checkTimerTimestamp(timestampMs));
  }

  deleteEventTimeTimer(timestampMs: number): void {
    this.internal.deleteEventTimeTimer(VOID_NAMESPACE, timestampMs);
  }

  deleteProcessingTimeTimer(timestampMs: number): void {
    this.internal.deleteProcessingTimeTimer(VOID_NAMESPACE, timestampMs);
  }
}

function checkTimerTimestamp(timestampMs: number): number {
  if (!Number.isSafeInteger(timestampMs)) {
    throw new TypeError(`a timer timestamp must be an integer epoch-ms, got ${timestampMs}`);
  }
  return timestampMs;
}

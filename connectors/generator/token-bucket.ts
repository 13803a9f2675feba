import type { Clock } from '../../src/core/time.ts';

/**
 * A token bucket on a (processing-time) clock: tokens accrue at `ratePerSecond` up to `capacity`;
 * taking n tokens succeeds only when n are there. Over any interval of t ms at most
 * `capacity + ratePerSecond · t / 1000` tokens are taken.
 */
export class TokenBucket {
  private readonly ratePerSecond: number;
  private readonly capacity: number;
  private readonly clock: Clock;
  private tokens: number;
  private lastRefillMs: number;

  constructor(ratePerSecond: number, capacity: number, clock: Clock, initialTokens = capacity) {
    this.ratePerSecond = ratePerSecond;
    this.capacity = capacity;
    this.clock = clock;
    this.tokens = Math.min(initialTokens, capacity);
    this.lastRefillMs = clock.now();
  }

  /** Takes `count` tokens if available. `count` must be ≤ capacity, or it never succeeds. */
  tryAcquire(count: number): boolean {
    this.refill();
    if (this.tokens < count) return false;
    this.tokens -= count;
    return true;
  }

  /** Milliseconds until `count` tokens are available (0 if they are now). */
  msUntilAvailable(count: number): number {
    this.refill();
    if (this.tokens >= count) return 0;
    return Math.ceil(((count - this.tokens) * 1000) / this.ratePerSecond);
  }

  private refill(): void {
    const nowMs = this.clock.now();
    if (nowMs <= this.lastRefillMs) return;
    this.tokens = Math.min(this.capacity, this.tokens + ((nowMs - this.lastRefillMs) * this.ratePerSecond) / 1000);
    this.lastRefillMs = nowMs;
  }
}

/**
 * A one-shot-per-wait wake-up: `wait()` returns a promise that the next `notify()` resolves. Readers use
 * it for {@link SourceReader.isAvailable} and their background fetchers use it to sleep until there is
 * room or work. Everything runs on one thread, so "check, then wait" cannot miss a notify that happens
 * in between: a notify can only run after the waiter's synchronous code returned.
 */
export class AvailabilitySignal {
  private pending: Promise<void> | undefined = undefined;
  private resolvePending: (() => void) | undefined = undefined;

  /** A promise resolved by the next {@link notify}; callers waiting at the same time share it. */
  wait(): Promise<void> {
    if (this.pending === undefined) {
      this.pending = new Promise<void>((resolve) => {
        this.resolvePending = resolve;
      });
    }
    return this.pending;
  }

  /** Wakes every current waiter. A notify with no waiter is a no-op (it is not remembered). */
  notify(): void {
    const resolve = this.resolvePending;
    this.pending = undefined;
    this.resolvePending = undefined;
    if (resolve !== undefined) resolve();
  }
}

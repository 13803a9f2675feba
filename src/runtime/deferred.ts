/** A promise with its resolve/reject at hand; settles once (later calls are ignored). */
export class Deferred<T> {
  readonly promise: Promise<T>;
  isSettled = false;
  private resolveFn!: (value: T) => void;
  private rejectFn!: (error: unknown) => void;

  constructor() {
    this.promise = new Promise<T>((resolve, reject) => {
      this.resolveFn = resolve;
      this.rejectFn = reject;
    });
    // Whoever awaits it handles the rejection; this keeps an unawaited failure from crashing the process.
    this.promise.then(undefined, () => {});
  }

  resolve(value: T): void {
    if (this.isSettled) return;
    this.isSettled = true;
    this.resolveFn(value);
  }

  reject(error: unknown): void {
    if (this.isSettled) return;
    this.isSettled = true;
    this.rejectFn(error);
  }
}

/** Where a user function emits its results. Synchronous; inside a chain it calls the next operator. */
export interface Collector<T> {
  collect(value: T): void;
}

/** Receives the results of a user function; the operator stamps them (windows: with `window.maxTimestamp()`). */
export interface Collector<T> {
  collect(value: T): void;
}

/**
 * The state objects user functions see. Each is scoped: it reads and writes the entry of the
 * operator's *current key* (and, inside windows, the current window). Values are held by reference in
 * the memory backend and by copy in RocksDB: always write back with `update`/`add`/`put` after
 * changing a value, never rely on mutating what was read.
 */
export interface State {
  /** Removes the entry of the current key (and namespace). */
  clear(): void;
}

/** One value per key (and namespace). */
export interface ValueState<T> extends State {
  /** The value, or the descriptor's default (undefined if none) when unset or expired. */
  value(): T | undefined;
  update(value: T): void;
}

/** An ordered list per key. `add` is cheap; `get` copies the whole list, O(n). */
export interface ListState<T> extends State {
  /** A copy of the elements in insertion order; empty when unset. */
  get(): T[];
  add(value: T): void;
  addAll(values: readonly T[]): void;
  /** Replaces the whole list. */
  update(values: readonly T[]): void;
}

/** A map per key. User keys are compared by canonical encoding (like stream keys), not identity. */
export interface MapState<K, V> extends State {
  get(key: K): V | undefined;
  put(key: K, value: V): void;
  putAll(entries: Iterable<readonly [K, V]>): void;
  remove(key: K): void;
  contains(key: K): boolean;
  /** A snapshot of the entries; safe to modify the state while iterating it. */
  entries(): Array<[K, V]>;
  keys(): K[];
  values(): V[];
  isEmpty(): boolean;
}

/** Values are combined as they are added; `get` returns the combination (undefined when empty). */
export interface ReducingState<T> extends State {
  get(): T | undefined;
  add(value: T): void;
}

/**
 * Inputs are folded into an accumulator as they are added; `get` returns the result of the accumulator
 * (undefined when empty).
 */
export interface AggregatingState<IN, OUT> extends State {
  get(): OUT | undefined;
  add(value: IN): void;
}

import type { ZodType } from 'zod';
import { ConfigurationError } from '../core/errors.ts';

/**
 * State descriptors name a piece of keyed (or operator) state, its kind, and how it behaves:
 * an optional TTL, an optional zod schema with a version (checked on restore, for schema evolution).
 * A descriptor is plain configuration; the backend creates the state object it describes.
 */
export type StateKind = 'value' | 'list' | 'map' | 'reducing' | 'aggregating';

/** When a TTL'd entry's timestamp is refreshed. */
export type TtlUpdateType = 'on-create-and-write' | 'on-read-and-write';
/** Whether an expired entry that has not been cleaned up yet may still be returned. */
export type TtlVisibility = 'never-return-expired' | 'return-expired-if-not-cleaned-up';
/** Which clock TTL is measured on. Event time uses the operator's current watermark. */
export type TtlTimeCharacteristic = 'processing-time' | 'event-time';

/** A validated TTL setting, built by {@link stateTtl}; all fields resolved to their defaults. */
export interface StateTtlConfig {
  readonly ttlMs: number;
  readonly updateType: TtlUpdateType;
  readonly visibility: TtlVisibility;
  readonly timeCharacteristic: TtlTimeCharacteristic;
}

/**
 * What {@link stateTtl} accepts. `ttlMs` is required (milliseconds, > 0); the rest default to refresh on
 * create and write, never return expired entries, and processing time.
 */
export interface StateTtlOptions {
  readonly ttlMs: number;
  readonly updateType?: TtlUpdateType;
  readonly visibility?: TtlVisibility;
  readonly timeCharacteristic?: TtlTimeCharacteristic;
}

/**
 * Builds a TTL for a state descriptor: an entry expires `ttlMs` after its last refresh. Throws
 * ConfigurationError unless `ttlMs` is a whole number > 0.
 */
export function stateTtl(options: StateTtlOptions): StateTtlConfig {
  if (!Number.isInteger(options.ttlMs) || options.ttlMs <= 0) {
    throw new ConfigurationError(`state TTL must be a whole number of milliseconds > 0, got ${options.ttlMs}`);
  }
  return {
    ttlMs: options.ttlMs,
    updateType: options.updateType ?? 'on-create-and-write',
    visibility: options.visibility ?? 'never-return-expired',
    timeCharacteristic: options.timeCharacteristic ?? 'processing-time',
  };
}

/** Options shared by every state descriptor. */
export interface StateDescriptorOptions<T> {
  /** Expiry of entries; built by {@link stateTtl}. Default: entries never expire. */
  readonly ttl?: StateTtlConfig;
  /** Validates values when a snapshot is restored; stored values that fail it make the restore fail. */
  readonly schema?: ZodType<T>;
  /** Version of the schema; recorded in snapshots so a later build can migrate. Default 1. */
  readonly version?: number;
}

interface DescriptorBase<T> {
  readonly name: string;
  readonly ttl: StateTtlConfig | undefined;
  readonly schema: ZodType<T> | undefined;
  readonly version: number;
}

/** Describes a {@link ValueState}: one value per key (and namespace). */
export interface ValueStateDescriptor<T> extends DescriptorBase<T> {
  readonly kind: 'value';
  readonly defaultValue: T | undefined;
}

/** Describes a {@link ListState}: an ordered list of values per key. */
export interface ListStateDescriptor<T> extends DescriptorBase<T> {
  readonly kind: 'list';
}

/**
 * Describes a {@link MapState}: a map of user keys to values per key. `schema`, `ttl` and `version` apply to
 * the values; with TTL each user key expires on its own.
 */
export interface MapStateDescriptor<K, V> extends DescriptorBase<V> {
  readonly kind: 'map';
  /** Phantom: the user-key type. */
  readonly __keyType?: K;
}

/**
 * Describes a {@link ReducingState}: values are combined by `reduce` as they are added, so one value is
 * stored per key.
 */
export interface ReducingStateDescriptor<T> extends DescriptorBase<T> {
  readonly kind: 'reducing';
  reduce(a: T, b: T): T;
}

/** An incremental aggregation: add values to an accumulator, merge accumulators (session windows), read a result. */
export interface AggregateFunction<IN, ACC, OUT> {
  createAccumulator(): ACC;
  add(value: IN, accumulator: ACC): ACC;
  getResult(accumulator: ACC): OUT;
  /** Required where windows merge (session windows). */
  merge?(a: ACC, b: ACC): ACC;
}

/** Describes an {@link AggregatingState}: one accumulator per key, updated by `aggregate`. */
export interface AggregatingStateDescriptor<IN, ACC, OUT> extends DescriptorBase<ACC> {
  readonly kind: 'aggregating';
  readonly aggregate: AggregateFunction<IN, ACC, OUT>;
}

/** Any state descriptor, discriminated by `kind`. */
export type StateDescriptor =
  | ValueStateDescriptor<unknown>
  | ListStateDescriptor<unknown>
  | MapStateDescriptor<unknown, unknown>
  | ReducingStateDescriptor<unknown>
  | AggregatingStateDescriptor<unknown, unknown, unknown>;

function checkName(name: string): void {
  if (typeof name !== 'string' || name.trim() === '') {
    throw new ConfigurationError('a state descriptor needs a non-empty name, e.g. valueState<number>("count")');
  }
}

function base<T>(name: string, options: StateDescriptorOptions<T> | undefined): DescriptorBase<T> {
  checkName(name);
  const version = options?.version ?? 1;
  if (!Number.isInteger(version) || version < 1) {
    throw new ConfigurationError(`state '${name}': version must be a whole number ≥ 1, got ${version}`);
  }
  return { name, ttl: options?.ttl, schema: options?.schema, version };
}

/**
 * A value-state descriptor. `defaultValue` is what `value()` returns when the entry is unset or expired
 * (shared by reference, so keep it immutable). Throws ConfigurationError on an empty name or a version < 1.
 */
export function valueState<T>(
  name: string,
  options?: StateDescriptorOptions<T> & { readonly defaultValue?: T },
): ValueStateDescriptor<T> {
  return { kind: 'value', ...base(name, options), defaultValue: options?.defaultValue };
}

/** A list-state descriptor. Throws ConfigurationError on an empty name or a version < 1. */
export function listState<T>(name: string, options?: StateDescriptorOptions<T>): ListStateDescriptor<T> {
  return { kind: 'list', ...base(name, options) };
}

/**
 * A map-state descriptor; options apply to the values. Throws ConfigurationError on an empty name or a
 * version < 1.
 */
export function mapState<K, V>(name: string, options?: StateDescriptorOptions<V>): MapStateDescriptor<K, V> {
  return { kind: 'map', ...base(name, options) };
}

/**
 * A reducing-state descriptor. Throws ConfigurationError on an empty name, a version < 1 or a missing reduce
 * function.
 */
export function reducingState<T>(
  name: string,
  reduce: (a: T, b: T) => T,
  options?: StateDescriptorOptions<T>,
): ReducingStateDescriptor<T> {
  if (typeof reduce !== 'function') throw new ConfigurationError(`reducing state '${name}' needs a reduce function`);
  return { kind: 'reducing', ...base(name, options), reduce };
}

/**
 * An aggregating-state descriptor; the accumulator is what is stored and checked against `schema`. Throws
 * ConfigurationError on an empty name, a version < 1 or a missing AggregateFunction.
 */
export function aggregatingState<IN, ACC, OUT>(
  name: string,
  aggregate: AggregateFunction<IN, ACC, OUT>,
  options?: StateDescriptorOptions<ACC>,
): AggregatingStateDescriptor<IN, ACC, OUT> {
  if (aggregate === null || typeof aggregate !== 'object' || typeof aggregate.add !== 'function') {
    throw new ConfigurationError(`aggregating state '${name}' needs an AggregateFunction`);
  }
  return { kind: 'aggregating', ...base(name, options), aggregate };
}

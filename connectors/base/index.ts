/**
 * Building blocks shared by Eddy's connectors, written against the public connector SPI only.
 *
 * - {@link StaticSplitEnumerator}: assigns a split set known up front once, at start — split i to
 *   subtask i mod parallelism — then signals "no more splits" to every subtask. Deterministic: the same
 *   split list and parallelism always give the same assignment.
 * - {@link AvailabilitySignal}: the promise behind `isAvailable()` and behind background fetchers
 *   waiting for room.
 */
export { StaticSplitEnumerator } from './static-split-enumerator.ts';
export { AvailabilitySignal } from './availability-signal.ts';

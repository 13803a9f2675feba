/**
 * A source that generates records from their index: `generatorSource({ count, splits, ratePerSecond,
 * seed, generate: (index, random) => record })`.
 *
 * Invariants:
 * - Record i is `generate(i, random)` with `random` a {@link SeededRandom} derived from (seed, i) alone,
 *   so the multiset of records — and each split's sequence — is the same at any parallelism and after a
 *   restore from any checkpoint.
 * - Split k of n generates the indices i ≡ k (mod n) in increasing order; its position is the next index.
 *   Splits are assigned statically (split k to subtask k mod parallelism).
 * - Batches end at split ordinals that are multiples of the batch size (1000, or ~100 ms of the split's
 *   rate when rate-limited), so watermarks emitted after batches are deterministic too.
 * - Bounded when `count` is given, unbounded otherwise. `ratePerSecond` paces output on processing time
 *   (a token bucket per split); it never changes what is generated.
 */
export { generatorSource, GeneratorSource } from './generator-source.ts';
export type { GeneratorSourceOptions } from './generator-source.ts';
export type { GeneratorSplit } from './generator-split.ts';
export { GeneratorSourceReader, MAX_RECORDS_PER_BATCH, batchSizeFor } from './generator-source-reader.ts';
export { SeededRandom, recordSeed } from './seeded-random.ts';
export { TokenBucket } from './token-bucket.ts';

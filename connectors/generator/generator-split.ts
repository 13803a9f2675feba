import type { SourceSplit } from '../../src/connector/source.ts';

/**
 * Split `splitIndex` of `splitCount`: the record indices i ≡ splitIndex (mod splitCount), in increasing
 * order. Plain msgpack-safe data; `nextIndex` is the index of the next record to generate.
 */
export interface GeneratorSplit extends SourceSplit {
  /** `generator-<splitIndex>-of-<splitCount>`. */
  readonly splitId: string;
  /** This split's index, 0 ≤ splitIndex < splitCount. */
  readonly splitIndex: number;
  /** Total number of splits of the source. */
  readonly splitCount: number;
  /** The index of the next record to generate; advances by `splitCount`. */
  readonly nextIndex: number;
}

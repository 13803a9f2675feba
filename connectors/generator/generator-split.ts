import type { SourceSplit } from '../../src/connector/source.ts';

/**
 * Split `splitIndex` of `splitCount`: the record indices i ≡ splitIndex (mod splitCount), in increasing
 * order. Plain msgpack-safe data; `nextIndex` is the index of the next record to generate.
 */
export interface GeneratorSplit extends SourceSplit {
  /** `generator-<splitIndex>-of-<splitCount>`. */
  readonly splitId: string;
  readonly splitIndex: number;
  readonly splitCount: number;
  readonly nextIndex: number;
}

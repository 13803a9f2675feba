import { ConfigurationError } from '../../src/core/errors.ts';

const TWO_POW_32 = 4294967296;

/** MurmurHash3's 32-bit finalizer: a bijection on 32-bit integers that mixes every input bit. */
function fmix32(value: number): number {
  let h = value | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The 32-bit state of the random stream of record `index` under `seed`. Both are safe integers; each is
 * mixed as two 32-bit halves, so neighbouring indices and seeds give unrelated streams. Pure integer
 * arithmetic: the same on every machine and in every thread.
 */
export function recordSeed(seed: number, index: number): number {
  const seedLow = seed >>> 0;
  const seedHigh = Math.floor(seed / TWO_POW_32) >>> 0;
  const indexLow = index >>> 0;
  const indexHigh = Math.floor(index / TWO_POW_32) >>> 0;
  let h = fmix32(Math.imul(seedLow, 0x9e3779b1) ^ seedHigh ^ 0x85ebca6b);
  h = fmix32(h ^ indexLow);
  return fmix32(h ^ Math.imul(indexHigh, 0xc2b2ae35) ^ 0x27d4eb2f);
}

/**
 * A small, fast, deterministic pseudo-random generator (mulberry32: 32-bit state, period 2^32). Not
 * for cryptography. The generator source hands `generate` one derived from (seed, record index), so a
 * record's content never depends on which subtask produced it or on where the job was restored.
 */
export class SeededRandom {
  private state: number;

  constructor(seed = 0) {
    if (!Number.isSafeInteger(seed)) throw new ConfigurationError(`a random seed must be a safe integer, got ${seed}`);
    this.state = recordSeed(seed, 0);
  }

  /** The stream of record `index` under `seed` (what `generate(index, random)` receives). */
  static forRecord(seed: number, index: number): SeededRandom {
    const random = new SeededRandom(0);
    random.reset(seed, index);
    return random;
  }

  /** Restarts this generator on the stream of record `index` under `seed`; no allocation. */
  reset(seed: number, index: number): void {
    this.state = recordSeed(seed, index);
  }

  /** A float in [0, 1), with 32 bits of randomness. */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / TWO_POW_32;
  }

  /** An integer in [0, n); `n` is a positive safe integer. */
  nextInt(n: number): number {
    if (!Number.isSafeInteger(n) || n <= 0) throw new RangeError(`nextInt(n) needs a positive integer n, got ${n}`);
    if (n <= TWO_POW_32) return Math.floor(this.next() * n);
    // Beyond 32 bits, combine two draws (53 bits of randomness).
    const high = Math.floor(this.next() * 2097152); // 2^21
    return Math.floor(((high * TWO_POW_32 + Math.floor(this.next() * TWO_POW_32)) / 9007199254740992) * n);
  }

  /** One element of a non-empty array, uniformly. */
  pick<E>(items: readonly E[]): E {
    if (items.length === 0) throw new RangeError('pick needs a non-empty array');
    return items[this.nextInt(items.length)]!;
  }
}

import { describe, expect, it } from 'vitest';
import { KEY_GROUP_HASH_SEED, murmur3x86_32 } from '../../src/core/murmur3.ts';

const utf8 = (text: string) => new TextEncoder().encode(text);

/**
 * Reference vectors of MurmurHash3_x86_32 (Austin Appleby's SMHasher implementation), as published
 * with the algorithm's ports and cross-checked against independent implementations. They pin the
 * key-group hash, which is part of the checkpoint format.
 */
describe('murmur3x86_32', () => {
  const vectors: Array<[string, number, number]> = [
    ['', 0, 0],
    ['', 1, 0x514e28b7],
    ['', 0xffffffff, 0x81f16f39],
    ['hello', 0, 0x248bfa47],
    ['abc', 0, 0xb3dd93fa],
    ['aaaa', 0x9747b28c, 0x5a97808a],
    ['a', 0x9747b28c, 0x7fa09ea6],
    ['Hello, world!', 1234, 0xfaf6cdb3],
    ['The quick brown fox jumps over the lazy dog', 0, 0x2e4ff723],
  ];

  for (const [text, seed, expected] of vectors) {
    it(`hashes ${JSON.stringify(text)} with seed 0x${seed.toString(16)} to 0x${expected.toString(16)}`, () => {
      expect(murmur3x86_32(utf8(text), undefined, seed)).toBe(expected);
    });
  }

  it('hashes zero bytes of input', () => {
    expect(murmur3x86_32(Uint8Array.of(0, 0, 0, 0))).toBe(0x2362f9de);
  });

  it('hashes only the first `length` bytes (a reused buffer)', () => {
    const buffer = new Uint8Array(64);
    buffer.set(utf8('hello'));
    buffer[5] = 0xff;
    expect(murmur3x86_32(buffer, 5, 0)).toBe(0x248bfa47);
  });

  it('returns an unsigned 32-bit integer', () => {
    for (let i = 0; i < 200; i++) {
      const hash = murmur3x86_32(utf8(`key-${i}`));
      expect(Number.isInteger(hash) && hash >= 0 && hash < 2 ** 32).toBe(true);
    }
  });

  it('keeps the key-group seed at 0', () => {
    expect(KEY_GROUP_HASH_SEED).toBe(0);
  });
});

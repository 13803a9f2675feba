/**
 * MurmurHash3, x86 32-bit variant (Austin Appleby's public-domain reference), over bytes.
 *
 * This function decides which key group a key lands in, and key groups decide where state lives in
 * checkpoints and savepoints. It must therefore never change: the variant, the seed
 * ({@link KEY_GROUP_HASH_SEED}) and the canonical key bytes it hashes are part of Eddy's on-disk
 * format. The reference test vectors are pinned in `test/core/murmur3.test.ts`.
 */
export function murmur3x86_32(bytes: Uint8Array, length: number = bytes.length, seed = 0): number {
  let h1 = seed | 0;
  const blocks = length & ~3;
  let i = 0;
  for (; i < blocks; i += 4) {
    let k1 = (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24)) | 0;
    k1 = Math.imul(k1, 0xcc9e2d51);
    k1 = (k1 << 15) | (k1 >>> 17);
    k1 = Math.imul(k1, 0x1b873593);
    h1 ^= k1;
    h1 = (h1 << 13) | (h1 >>> 19);
    h1 = (Math.imul(h1, 5) + 0xe6546b64) | 0;
  }
  const tail = length & 3;
  if (tail !== 0) {
    let k1 = 0;
    if (tail === 3) k1 ^= bytes[i + 2]! << 16;
    if (tail >= 2) k1 ^= bytes[i + 1]! << 8;
    k1 ^= bytes[i]!;
    k1 = Math.imul(k1, 0xcc9e2d51);
    k1 = (k1 << 15) | (k1 >>> 17);
    k1 = Math.imul(k1, 0x1b873593);
    h1 ^= k1;
  }
  h1 ^= length;
  h1 ^= h1 >>> 16;
  h1 = Math.imul(h1, 0x85ebca6b);
  h1 ^= h1 >>> 13;
  h1 = Math.imul(h1, 0xc2b2ae35);
  h1 ^= h1 >>> 16;
  return h1 >>> 0;
}

/** The seed of the key-group hash. Part of the checkpoint format: never change it. */
export const KEY_GROUP_HASH_SEED = 0;

/**
 * Micro benchmark of the RocksDB store as the backend sees it: every figure goes through
 * `openRocksStoreSync` and the state I/O thread, so the thread hop is in it. Not part of `npm run bench`.
 *
 * `node --import tsx test/bench/rocks-store-bench.ts [keys]` (default 1 000 000 keys of 16 bytes with
 * 20-byte values, in one column family, in a temporary folder removed afterwards). Prints:
 * write batches of 1000 puts (puts/s), blocking single-key get round trip (µs), multi-get of 1000
 * random keys (keys/s, asynchronous and blocking), full scan in pages (rows/s), checkpoint time.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { openRocksStoreSync } from '../../src/state/rocksdb/store/rocks-store-client.ts';
import type { RocksWrite } from '../../src/state/rocksdb/rocks-store.ts';

const KEY_BYTES = 16;
const VALUE_BYTES = 20;
const BATCH = 1000;
const SCAN_PAGE = 10_000;
const FAMILY = 'bench';

const keyCount = Number(process.argv[2] ?? 1_000_000);

/** 16-byte key: [key group u16][u32 id][10 bytes filler]; random-looking key group spreads ids. */
function keyOf(id: number): Uint8Array {
  const key = new Uint8Array(KEY_BYTES);
  const view = new DataView(key.buffer);
  view.setUint16(0, (Math.imul(id, 0x9e3779b1) >>> 0) % 128);
  view.setUint32(2, id);
  key.fill(0x5a, 6);
  return key;
}

function valueOf(n: number): Uint8Array {
  const value = new Uint8Array(VALUE_BYTES);
  new DataView(value.buffer).setFloat64(0, n);
  return value;
}

/** xorshift32, deterministic. */
function random(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

const rate = (count: number, ms: number): string => `${Math.round((count / ms) * 1000).toLocaleString('en-US')}`;

async function main(): Promise<void> {
  const folder = mkdtempSync(path.join(tmpdir(), 'eddy-rocks-bench-'));
  try {
    console.log(`rocks-store bench: ${keyCount.toLocaleString('en-US')} keys, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    let startMs = performance.now();
    const store = openRocksStoreSync({ path: path.join(folder, 'db'), columnFamilies: [FAMILY] });
    console.log(`open (starts the I/O thread): ${(performance.now() - startMs).toFixed(1)} ms`);

    // Write batches of 1000, one request each, awaited one after another (as a write-back flush does).
    startMs = performance.now();
    for (let from = 0; from < keyCount; from += BATCH) {
      const writes: RocksWrite[] = [];
      for (let id = from; id < Math.min(keyCount, from + BATCH); id++) writes.push({ kind: 'put', columnFamily: FAMILY, key: keyOf(id), value: valueOf(id) });
      await store.write(writes);
    }
    console.log(`write batches of ${BATCH}: ${rate(keyCount, performance.now() - startMs)} puts/s`);

    const next = random(42);
    // Blocking single-key reads: the round trip of one request.
    for (let i = 0; i < 500; i++) store.multiGetSync(FAMILY, [keyOf(next() % keyCount)]);
    const gets = 5000;
    startMs = performance.now();
    for (let i = 0; i < gets; i++) store.multiGetSync(FAMILY, [keyOf(next() % keyCount)]);
    console.log(`blocking get (1 key) round trip: ${(((performance.now() - startMs) / gets) * 1000).toFixed(0)} µs`);

    // Multi-gets of 1000 random keys.
    const rounds = 200;
    const batches = Array.from({ length: rounds }, () => Array.from({ length: BATCH }, () => keyOf(next() % keyCount)));
    startMs = performance.now();
    let found = 0;
    for (const keys of batches) for (const value of await store.multiGet(FAMILY, keys)) if (value !== null) found++;
    console.log(`multiGet of ${BATCH} random keys: ${rate(rounds * BATCH, performance.now() - startMs)} keys/s (found ${found}/${rounds * BATCH})`);
    startMs = performance.now();
    for (const keys of batches) store.multiGetSync(FAMILY, keys);
    console.log(`multiGetSync of ${BATCH} random keys: ${rate(rounds * BATCH, performance.now() - startMs)} keys/s`);

    // Full scan in pages (each page one request; the next starts after the last key seen).
    startMs = performance.now();
    let rows = 0;
    let gte: Uint8Array = new Uint8Array(0);
    const lt = new Uint8Array(KEY_BYTES).fill(0xff);
    for (;;) {
      const page = await store.scan({ columnFamily: FAMILY, gte, lt, limit: SCAN_PAGE });
      rows += page.keys.length;
      const last = page.keys.at(-1);
      if (last === undefined || page.keys.length < SCAN_PAGE) break;
      gte = new Uint8Array([...last, 0]);
    }
    console.log(`scan in pages of ${SCAN_PAGE}: ${rate(rows, performance.now() - startMs)} rows/s (${rows} rows)`);

    startMs = performance.now();
    const checkpoint = await store.checkpoint(path.join(folder, 'checkpoint'));
    const totalBytes = checkpoint.files.reduce((sum, file) => sum + file.bytes, 0);
    console.log(`checkpoint: ${(performance.now() - startMs).toFixed(0)} ms, ${checkpoint.files.length} files, ${(totalBytes / 1048576).toFixed(1)} MiB`);
    startMs = performance.now();
    await store.close();
    console.log(`close: ${(performance.now() - startMs).toFixed(0)} ms`);
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

await main();

import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { KeyGroupRange, computeKeyGroupRangeForOperatorIndex } from '../../../src/core/key-group.ts';
import type { NativeKeyedStateRestore } from '../../../src/state/keyed-state-backend.ts';
import { captureNative, restoreNative } from '../../../src/state/rocksdb/native-state.ts';
import type { RocksStore, RocksWrite } from '../../../src/state/rocksdb/rocks-store.ts';
import { openRocksStoreSync } from '../../../src/state/rocksdb/store/rocks-store-client.ts';

const root = mkdtempSync(path.join(tmpdir(), 'eddy-native-state-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let folders = 0;
const folder = (): string => path.join(root, `db-${folders++}`);

const MAX_PARALLELISM = 16;
const STATE = 's/count';
const TIMERS = 't/window/event-time';

/** A state row of `key` in `keyGroup` (layout: key group first), and a timer row (timestamp first). */
const stateRow = (keyGroup: number, key: string): Uint8Array => Uint8Array.from([keyGroup >> 8, keyGroup & 0xff, key.length, ...Buffer.from(key)]);
const timerRow = (timestamp: number, keyGroup: number, key: string): Uint8Array => {
  const row = new Uint8Array(10 + 1 + key.length);
  new DataView(row.buffer).setBigUint64(0, BigInt(timestamp));
  row.set([keyGroup >> 8, keyGroup & 0xff, key.length], 8);
  row.set(Buffer.from(key), 11);
  return row;
};

/** Every row of a family as `keyGroup:hex` strings (state) or `keyGroup@timestamp` (timers), sorted. */
function rows(store: RocksStore, family: string): string[] {
  const { keys, values } = store.scanSync({ columnFamily: family, gte: Uint8Array.of(0), lt: Uint8Array.of(0xff, 0xff) });
  return keys
    .map((key, i) =>
      family === TIMERS
        ? `${(key[8]! << 8) | key[9]!}@${new DataView(key.buffer, key.byteOffset).getBigUint64(0)}`
        : `${(key[0]! << 8) | key[1]!}:${Buffer.from(key.subarray(3)).toString()}=${Buffer.from(values[i]!).toString()}`,
    )
    .sort();
}

/** The database of one old subtask, filled with a row and a timer per key group of its range, captured. */
async function oldSubtask(range: KeyGroupRange, checkpointId: number): Promise<NativeKeyedStateRestore> {
  const store = openRocksStoreSync({ path: folder(), columnFamilies: [STATE, TIMERS] });
  const writes: RocksWrite[] = [];
  for (let keyGroup = range.start; keyGroup < range.end; keyGroup++) {
    writes.push({ kind: 'put', columnFamily: STATE, key: stateRow(keyGroup, `k${keyGroup}`), value: Buffer.from(`v${keyGroup}`) });
    writes.push({ kind: 'put', columnFamily: TIMERS, key: timerRow(1000 + keyGroup, keyGroup, `k${keyGroup}`), value: new Uint8Array(0) });
  }
  await store.write(writes);
  const capture = captureNative(store, checkpointId, { maxParallelism: MAX_PARALLELISM, keyGroupRange: range, restoredFiles: new Map(), states: [] });
  // Written after the capture started: not in it.
  void store.write([{ kind: 'put', columnFamily: STATE, key: stateRow(range.start, 'late'), value: Buffer.from('late') }]);
  const snapshot = await capture;
  await store.close();
  return {
    format: 'eddy-rocksdb/1',
    maxParallelism: MAX_PARALLELISM,
    keyGroupRange: snapshot.keyGroupRange,
    columnFamilies: snapshot.columnFamilies,
    states: snapshot.states,
    files: snapshot.files.map((file) => {
      const filePath = path.join(snapshot.dir, file.name);
      return { name: file.name, path: filePath, bytes: file.bytes, sha256: createHash('sha256').update(readFileSync(filePath)).digest('hex') };
    }),
  };
}

const opener = (options: { path: string; columnFamilies: readonly string[]; mustExist: boolean }): RocksStore => openRocksStoreSync(options);

describe('native RocksDB checkpoints: capture and restore by key groups', () => {
  it('captures what was written before the capture, in immutable files (SSTs, log chunks) and copied mutable ones', async () => {
    const range = new KeyGroupRange(0, 4);
    const restore = await oldSubtask(range, 1);
    expect(restore.files.some((file) => /\.sst$|\.log\.\d+-\d+$/.test(file.name))).toBe(true);
    expect(restore.files.map((file) => file.name)).toContain('CURRENT');
    const { store } = restoreNative(folder(), [restore], range, opener);
    expect(rows(store, STATE)).toEqual(['0:k0=v0', '1:k1=v1', '2:k2=v2', '3:k3=v3']);
    expect(rows(store, TIMERS)).toEqual(['0@1000', '1@1001', '2@1002', '3@1003']);
    store.closeSync();
  });

  it('restores exactly the key groups of each new subtask at any rescale (property over old and new parallelism)', async () => {
    const olds = new Map<number, NativeKeyedStateRestore[]>();
    let checkpointId = 1;
    for (const parallelism of [1, 2, 3]) {
      const subtasks: NativeKeyedStateRestore[] = [];
      for (let i = 0; i < parallelism; i++) {
        subtasks.push(await oldSubtask(computeKeyGroupRangeForOperatorIndex(MAX_PARALLELISM, parallelism, i), checkpointId++));
      }
      olds.set(parallelism, subtasks);
    }
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(1, 2, 3), fc.integer({ min: 1, max: 5 }), async (oldParallelism, newParallelism) => {
        const seen: string[] = [];
        for (let i = 0; i < newParallelism; i++) {
          const range = computeKeyGroupRangeForOperatorIndex(MAX_PARALLELISM, newParallelism, i);
          const { store, restoredFiles } = restoreNative(folder(), olds.get(oldParallelism)!, range, opener);
          const state = rows(store, STATE);
          const timers = rows(store, TIMERS);
          store.closeSync();
          const expected = Array.from({ length: range.end - range.start }, (_, j) => range.start + j);
          expect(state).toEqual(expected.map((kg) => `${kg}:k${kg}=v${kg}`).sort());
          expect(timers).toEqual(expected.map((kg) => `${kg}@${1000 + kg}`).sort());
          expect([...restoredFiles.keys()].every((name) => name.endsWith('.sst'))).toBe(true);
          seen.push(...state);
        }
        expect(seen).toHaveLength(MAX_PARALLELISM);
      }),
      { numRuns: 12 },
    );
  });

  it('refuses to restore into a folder that already holds something', async () => {
    const restore = await oldSubtask(new KeyGroupRange(0, 16), 1);
    const target = folder();
    restoreNative(target, [restore], new KeyGroupRange(0, 16), opener).store.closeSync();
    expect(() => restoreNative(target, [restore], new KeyGroupRange(0, 16), opener)).toThrow(/the folder exists/);
  });
});

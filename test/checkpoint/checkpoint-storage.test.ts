import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import {
  bytesOfStateHandle,
  CHECKPOINT_FORMAT,
  writtenBytesOfStateHandle,
  type CanonicalKeyedStateHandle,
  type RocksDBStateHandle,
  type CheckpointMetadata,
  type EnumeratorStateMetadata,
  type StateHandle,
} from '../../src/checkpoint/checkpoint-metadata.ts';
import {
  CHECKPOINT_DIR_FORMAT,
  CheckpointStorage,
  checkpointFolderName,
  loadCheckpoint,
  pathSegmentOf,
  type CheckpointStorageOptions,
  type OperatorSnapshot,
} from '../../src/checkpoint/checkpoint-storage.ts';
import { ConfigurationError, EddyError } from '../../src/core/errors.ts';
import type { NativeKeyedStateSnapshot } from '../../src/state/keyed-state-backend.ts';
import { FaultyFileSystem } from './faulty-file-system.ts';

const createdDirs: string[] = [];
afterEach(() => {
  for (const dir of createdDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'eddy-checkpoint-'));
  createdDirs.push(dir);
  return dir;
}

interface Opened {
  readonly storage: CheckpointStorage;
  readonly lines: string[];
}

async function openStorage(dir: string, overrides: Partial<CheckpointStorageOptions> = {}): Promise<Opened> {
  const lines: string[] = [];
  const storage = await CheckpointStorage.open({
    dir,
    jobName: 'wordcount',
    graphFingerprint: 'fp-1',
    retained: 3,
    log: (line) => lines.push(line),
    ...overrides,
  });
  return { storage, lines };
}

const MAX_PARALLELISM = 8;

/** Keyed state of one subtask: one value state entry per key group, holding `tag`. */
function keyedSnapshot(range: readonly [number, number], tag: unknown): OperatorSnapshot {
  const keyGroups = [];
  for (let keyGroup = range[0]; keyGroup < range[1]; keyGroup++) {
    keyGroups.push({
      keyGroup,
      states: [{ name: 'count', kind: 'value' as const, version: 0, entries: [[`key-${keyGroup}`, 0, tag] as const] }],
      timerQueues: [{ name: 'event', timers: [[1000 + keyGroup, `key-${keyGroup}`, 0] as const] }],
    });
  }
  return { keyed: { format: 'eddy-keyed-state/1', maxParallelism: MAX_PARALLELISM, keyGroups }, operatorState: {} };
}

const RANGES: ReadonlyArray<readonly [number, number]> = [
  [0, 4],
  [4, 8],
];

/** Writes a two-operator checkpoint (keyed 'counts' at parallelism 2, source 'lines' with an enumerator) and completes it. */
async function takeCheckpoint(storage: CheckpointStorage, id: number, tag: unknown = id): Promise<CheckpointMetadata> {
  const metadata = await writeCheckpoint(storage, id, tag);
  await storage.completeCheckpoint(metadata);
  return metadata;
}

async function writeCheckpoint(storage: CheckpointStorage, id: number, tag: unknown = id): Promise<CheckpointMetadata> {
  const counts: StateHandle[] = [];
  for (let subtask = 0; subtask < RANGES.length; subtask++) {
    counts.push(await storage.writeOperatorState(id, 'counts', subtask, RANGES[subtask]!, false, keyedSnapshot(RANGES[subtask]!, tag)));
  }
  const source = await storage.writeOperatorState(id, 'lines', 0, [0, 0], id % 2 === 0, {
    keyed: undefined,
    operatorState: { splits: [{ file: 'a.txt', offset: id * 10 }] },
  });
  const enumerator = await storage.writeEnumeratorState(id, 'lines', { unassigned: ['b.txt'], checkpoint: id });
  return metadataFor(id, [
    { uid: 'counts', parallelism: 2, handles: counts },
    { uid: 'lines', parallelism: 1, handles: [source] },
  ], [enumerator]);
}

function metadataFor(
  id: number,
  operators: ReadonlyArray<{ uid: string; parallelism: number; handles: readonly StateHandle[] }>,
  enumerators: readonly EnumeratorStateMetadata[] = [],
): CheckpointMetadata {
  const totalBytes =
    operators.reduce((sum, op) => sum + op.handles.reduce((s, h) => s + bytesOfStateHandle(h), 0), 0) +
    enumerators.reduce((sum, e) => sum + e.bytes, 0);
  const writtenBytes =
    operators.reduce((sum, op) => sum + op.handles.reduce((s, h) => s + writtenBytesOfStateHandle(h), 0), 0) +
    enumerators.reduce((sum, e) => sum + e.bytes, 0);
  return {
    format: CHECKPOINT_FORMAT,
    checkpointId: id,
    jobName: 'wordcount',
    graphFingerprint: 'fp-1',
    mode: 'exactly-once',
    triggeredAtMs: 1_700_000_000_000 + id,
    durationMs: 5,
    totalBytes,
    writtenBytes,
    operators: operators.map((op) => ({
      uid: op.uid,
      name: op.uid,
      kind: 'process',
      parallelism: op.parallelism,
      maxParallelism: MAX_PARALLELISM,
      subtasks: op.handles,
    })),
    enumerators,
  };
}

function checkpointFolders(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => name.startsWith('chk-'))
    .sort();
}

/** Flips one byte in the middle of a file, keeping its size. */
function corruptFile(file: string): void {
  const bytes = readFileSync(file);
  const middle = Math.floor(bytes.length / 2);
  bytes[middle] = bytes[middle]! ^ 0xff;
  writeFileSync(file, bytes);
}

async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject');
}

describe('CheckpointStorage: write ▶ complete ▶ restore', () => {
  it('round-trips operator and enumerator state through a completed checkpoint, in the documented layout', async () => {
    const dir = tempDir();
    const { storage, lines } = await openStorage(dir);
    expect(storage.dir).toBe(dir);
    const id = storage.nextCheckpointId();
    expect(id).toBe(1);
    const rich = { map: new Map<unknown, unknown>([[1, 'one'], ['k', { nested: [1, 2] }]]), set: new Set([3]), big: 2n ** 70n, when: new Date(42) };
    const metadata = await takeCheckpoint(storage, id, rich);

    expect(JSON.parse(readFileSync(path.join(dir, '_eddy-job.json'), 'utf8'))).toEqual({ format: CHECKPOINT_DIR_FORMAT, jobName: 'wordcount' });
    expect(readdirSync(path.join(dir, 'chk-000001')).sort()).toEqual(['_metadata', 'counts', 'enumerators', 'lines']);
    expect(readdirSync(path.join(dir, 'chk-000001', 'counts')).sort()).toEqual(['subtask-0.keyed', 'subtask-1.keyed']);
    expect(readdirSync(path.join(dir, 'chk-000001', 'enumerators'))).toEqual(['lines.state']);
    expect(JSON.parse(readFileSync(path.join(dir, 'chk-000001', '_metadata'), 'utf8'))).toEqual(metadata);

    const restored = await storage.latestCompleted();
    expect(restored?.path).toBe(path.join(dir, 'chk-000001'));
    expect(restored?.metadata).toEqual(metadata);
    expect(await restored!.readState('counts', 1)).toEqual(keyedSnapshot(RANGES[1]!, rich));
    expect(await restored!.readState('lines', 0)).toEqual({ keyed: undefined, operatorState: { splits: [{ file: 'a.txt', offset: 10 }] } });
    expect(await restored!.readEnumeratorState('lines')).toEqual({ unassigned: ['b.txt'], checkpoint: 1 });
    expect(await restored!.readEnumeratorState('other')).toBeUndefined();
    await expect(restored!.readState('counts', 5)).rejects.toThrow(/holds no state for operator 'counts' subtask 5/);
    expect(lines).toEqual([]);
  });

  it('records size, checksum, key-group range and finished flag in each state handle', async () => {
    const { storage } = await openStorage(tempDir());
    const snapshot: OperatorSnapshot = { ...keyedSnapshot([4, 8], 'x'), operatorState: { watermarks: [7] }, unionStateNames: ['watermarks'] };
    const handle = await storage.writeOperatorState(1, 'counts', 1, [4, 8], true, snapshot);
    expect(handle).toMatchObject({
      subtask: 1,
      keyGroupRange: [4, 8],
      isFinished: true,
      keyed: { kind: 'canonical', file: 'counts/subtask-1.keyed' },
      operatorState: { file: 'counts/subtask-1.operator' },
    });
    const { createHash } = await import('node:crypto');
    expect(handle.keyed?.kind).toBe('canonical');
    const keyedFile = handle.keyed as CanonicalKeyedStateHandle;
    for (const file of [keyedFile, handle.operatorState!]) {
      const bytes = readFileSync(path.join(storage.dir, 'chk-000001', file.file));
      expect(file.bytes).toBe(bytes.length);
      expect(file.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    }
    expect(bytesOfStateHandle(handle)).toBe(keyedFile.bytes + handle.operatorState!.bytes);
  });

  it('writes no file for a part a snapshot lacks, and reads the parts apart', async () => {
    const { storage } = await openStorage(tempDir());
    const keyedOnly = await storage.writeOperatorState(1, 'counts', 0, [0, 4], false, keyedSnapshot([0, 4], 'k'));
    expect(keyedOnly.operatorState).toBeUndefined();
    const operatorOnly = await storage.writeOperatorState(1, 'lines', 0, [0, 0], false, { keyed: undefined, operatorState: { splits: [1] } });
    expect(operatorOnly.keyed).toBeUndefined();
    await storage.completeCheckpoint(
      metadataFor(1, [
        { uid: 'counts', parallelism: 1, handles: [keyedOnly] },
        { uid: 'lines', parallelism: 1, handles: [operatorOnly] },
      ]),
    );
    const restored = (await storage.latestCompleted())!;
    expect(await restored.readOperatorState('counts', 0)).toEqual({ operatorState: {} });
    expect(await restored.readKeyedState('counts', 0)).toEqual({ keyed: keyedSnapshot([0, 4], 'k').keyed });
    expect(await restored.readKeyedState('lines', 0)).toEqual({ keyed: undefined });
    expect(await restored.readOperatorState('lines', 0)).toEqual({ operatorState: { splits: [1] } });
  });

  it('refuses a checkpoint of another format version as such, not as corrupt', async () => {
    const dir = tempDir();
    const { storage } = await openStorage(dir);
    const handle = await storage.writeOperatorState(1, 'lines', 0, [0, 0], false, { keyed: undefined, operatorState: { x: [1] } });
    await storage.completeCheckpoint(metadataFor(1, [{ uid: 'lines', parallelism: 1, handles: [handle] }]));
    const metadataPath = path.join(dir, 'chk-000001', '_metadata');
    const json = JSON.parse(readFileSync(metadataPath, 'utf8')) as { format: string };
    json.format = 'eddy-checkpoint/1';
    writeFileSync(metadataPath, JSON.stringify(json));
    await expect(loadCheckpoint(dir, { log: () => undefined })).rejects.toThrow(
      /has format 'eddy-checkpoint\/1', which this version of Eddy cannot read \(it reads 'eddy-checkpoint\/2'\)/,
    );
  });

  it('round-trips any operator-state lists and union names (property)', async () => {
    const scalar = fc.oneof(fc.integer(), fc.string(), fc.boolean(), fc.constant(null));
    const element = fc.oneof(scalar, fc.array(scalar, { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 4 }), scalar, { maxKeys: 3 }));
    const snapshotArb = fc.record({
      operatorState: fc.dictionary(fc.string({ minLength: 1, maxLength: 6 }), fc.array(element, { maxLength: 5 }), { maxKeys: 4 }),
      isUnion: fc.boolean(),
      uid: fc.string({ minLength: 1, maxLength: 12 }),
    });
    const dir = tempDir();
    const { storage } = await openStorage(dir, { retained: 1 });
    await fc.assert(
      fc.asyncProperty(snapshotArb, async ({ operatorState, isUnion, uid }) => {
        const snapshot: OperatorSnapshot = isUnion
          ? { keyed: undefined, operatorState, unionStateNames: Object.keys(operatorState) }
          : { keyed: undefined, operatorState };
        const id = storage.nextCheckpointId();
        const handle = await storage.writeOperatorState(id, uid, 0, [0, 0], false, snapshot);
        await storage.completeCheckpoint(metadataFor(id, [{ uid, parallelism: 1, handles: [handle] }]));
        const restored = await storage.latestCompleted();
        expect(restored?.metadata.checkpointId).toBe(id);
        // An empty snapshot writes no file and reads back as plain empty operator state.
        const expected = Object.keys(operatorState).length === 0 ? { keyed: undefined, operatorState: {} } : snapshot;
        expect(await restored!.readState(uid, 0)).toEqual(expected);
      }),
      { numRuns: 25 },
    );
    expect(checkpointFolders(dir)).toHaveLength(1);
  });

  it('writes _metadata last: state files fsynced, then temp file, rename, fsync of the chk folder and of the directory', async () => {
    const dir = tempDir();
    const fs = new FaultyFileSystem();
    const { storage } = await openStorage(dir, { fs });
    const handle = await storage.writeOperatorState(1, 'op', 0, [0, 0], false, { keyed: undefined, operatorState: { x: [1] } });
    fs.calls.length = 0;
    await storage.completeCheckpoint(metadataFor(1, [{ uid: 'op', parallelism: 1, handles: [handle] }]));
    expect(fs.callsUnder(dir).slice(0, 7)).toEqual([
      'syncDirectory chk-000001/op',
      'mkdir chk-000001',
      'writeFileDurably chk-000001/_metadata.tmp',
      'rename chk-000001/_metadata.tmp',
      'syncDirectory chk-000001',
      'syncDirectory .',
      'readdir .',
    ]);
  });
});

describe('CheckpointStorage: ids', () => {
  it('continues ids after a reopen, counting partial checkpoints, and never hands out one id twice', async () => {
    const dir = tempDir();
    const first = await openStorage(dir);
    await takeCheckpoint(first.storage, first.storage.nextCheckpointId());
    await takeCheckpoint(first.storage, first.storage.nextCheckpointId());
    await writeCheckpoint(first.storage, first.storage.nextCheckpointId());
    expect(checkpointFolders(dir)).toEqual(['chk-000001', 'chk-000002', 'chk-000003']);

    const second = await openStorage(dir);
    expect(second.storage.nextCheckpointId()).toBe(4);
    expect(second.storage.nextCheckpointId()).toBe(5);
    await second.storage.writeOperatorState(9, 'op', 0, [0, 0], false, { keyed: undefined, operatorState: {} });
    expect(second.storage.nextCheckpointId()).toBe(10);
  });

  it('pads folder names to 6 digits and widens them past 999999, ordering by number', async () => {
    expect(checkpointFolderName(7)).toBe('chk-000007');
    expect(checkpointFolderName(1_234_567)).toBe('chk-1234567');
    const dir = tempDir();
    const { storage } = await openStorage(dir);
    await takeCheckpoint(storage, 999_999);
    await takeCheckpoint(storage, 1_000_000);
    expect((await storage.latestCompleted())?.metadata.checkpointId).toBe(1_000_000);
    expect((await openStorage(dir)).storage.nextCheckpointId()).toBe(1_000_001);
  });
});

describe('CheckpointStorage: retention and clean-up', () => {
  it('keeps the newest K completed checkpoints (property over K and interleaved aborts and partial checkpoints)', async () => {
    const step = fc.constantFrom('complete', 'abort', 'partial');
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 4 }), fc.array(step, { minLength: 1, maxLength: 10 }), async (retained, steps) => {
        const dir = tempDir();
        const { storage } = await openStorage(dir, { retained });
        const completed: number[] = [];
        let lastPartial = 0;
        for (const action of steps) {
          const id = storage.nextCheckpointId();
          const metadata = await writeCheckpoint(storage, id);
          if (action === 'complete') {
            await storage.completeCheckpoint(metadata);
            completed.push(id);
            const expected = completed.slice(-retained).map(checkpointFolderName);
            const onDisk = checkpointFolders(dir).filter((name) => existsSync(path.join(dir, name, '_metadata')));
            expect(onDisk).toEqual(expected);
            // Partial folders older than the completed one are gone; none is newer.
            expect(checkpointFolders(dir)).toEqual(expected);
          } else if (action === 'abort') {
            await storage.abortCheckpoint(id);
            expect(existsSync(path.join(dir, checkpointFolderName(id)))).toBe(false);
          } else {
            lastPartial = id;
          }
        }
        if (completed.length > 0) {
          expect((await storage.latestCompleted())?.metadata.checkpointId).toBe(completed.at(-1));
        }
        if (lastPartial > (completed.at(-1) ?? 0)) expect(existsSync(path.join(dir, checkpointFolderName(lastPartial)))).toBe(true);
        rmSync(dir, { recursive: true, force: true });
      }),
      { numRuns: 20 },
    );
  });

  it('ignores a partial checkpoint (no _metadata) on restore, saying so, and removes it on the next completion', async () => {
    const dir = tempDir();
    const { storage, lines } = await openStorage(dir);
    await takeCheckpoint(storage, 1);
    await writeCheckpoint(storage, 2);
    writeFileSync(path.join(dir, 'chk-000002', '_metadata.tmp'), '{"half": ');

    const restored = await storage.latestCompleted();
    expect(restored?.metadata.checkpointId).toBe(1);
    expect(lines).toEqual(['checkpoint chk-000002 never completed (it was in progress when the job stopped); using chk-000001']);

    await takeCheckpoint(storage, 3);
    expect(checkpointFolders(dir)).toEqual(['chk-000001', 'chk-000003']);
  });

  it('keeps a completed checkpoint when it is aborted late, and refuses writes for aborted or subsumed checkpoints', async () => {
    const dir = tempDir();
    const { storage, lines } = await openStorage(dir);
    await takeCheckpoint(storage, 1);
    await storage.abortCheckpoint(1);
    expect(existsSync(path.join(dir, 'chk-000001', '_metadata'))).toBe(true);
    expect(lines).toEqual(['checkpoint chk-000001 is complete; keeping it despite the abort']);

    await storage.abortCheckpoint(2);
    await expect(storage.writeOperatorState(2, 'op', 0, [0, 0], false, { keyed: undefined, operatorState: {} })).rejects.toThrow(
      /checkpoint 2 was aborted/,
    );
    await takeCheckpoint(storage, 4);
    await expect(storage.writeEnumeratorState(3, 'lines', [])).rejects.toThrow(/subsumed by the completed checkpoint 4/);
    expect(existsSync(path.join(dir, 'chk-000003'))).toBe(false);
  });

  it('reports a completed checkpoint as complete even when removing old ones fails', async () => {
    const dir = tempDir();
    const fs = new FaultyFileSystem();
    const { storage, lines } = await openStorage(dir, { fs, retained: 1 });
    await takeCheckpoint(storage, 1);
    fs.inject({ operation: 'rm', code: 'EACCES' });
    await takeCheckpoint(storage, 2);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^could not delete retired checkpoint folder '.*chk-000001': EACCES/);
    expect((await storage.latestCompleted())?.metadata.checkpointId).toBe(2);
  });
});

describe('CheckpointStorage: corruption', () => {
  it('falls back from a corrupt newest checkpoint to the previous one, with a log line saying why', async () => {
    const dir = tempDir();
    const { storage, lines } = await openStorage(dir);
    await takeCheckpoint(storage, 6);
    await takeCheckpoint(storage, 7);
    const before = await storage.latestCompleted();
    corruptFile(path.join(dir, 'chk-000007', 'counts', 'subtask-0.keyed'));

    const restored = await storage.latestCompleted();
    expect(restored?.metadata.checkpointId).toBe(6);
    expect(await restored!.readState('counts', 0)).toEqual(keyedSnapshot(RANGES[0]!, 6));
    expect(lines).toEqual(['checkpoint chk-000007 is corrupt (counts/subtask-0.keyed: checksum mismatch); using chk-000006']);

    // A handle obtained before the corruption verifies again on read.
    const late = await rejectionOf(before!.readState('counts', 0));
    expect(late).toBeInstanceOf(EddyError);
    expect(String(late)).toMatch(/chk-000007\/counts\/subtask-0.keyed' is corrupt: checksum mismatch/);

    const explicit = await rejectionOf(loadCheckpoint(path.join(dir, 'chk-000007'), { log: () => {} }));
    expect(explicit).toBeInstanceOf(ConfigurationError);
    expect(String(explicit)).toContain(`checkpoint '${path.join(dir, 'chk-000007')}' cannot be restored: it is corrupt (counts/subtask-0.keyed: checksum mismatch)`);
    expect((await loadCheckpoint(dir, { log: () => {} })).metadata.checkpointId).toBe(6);
  });

  it.each([
    ['a truncated state file', (chk: string) => writeFileSync(path.join(chk, 'lines', 'subtask-0.operator'), 'x'), /lines\/subtask-0.operator: 1 bytes, expected \d+/],
    ['a missing enumerator file', (chk: string) => rmSync(path.join(chk, 'enumerators', 'lines.state')), /enumerators\/lines\.state: missing/],
    ['a _metadata that is not JSON', (chk: string) => writeFileSync(path.join(chk, '_metadata'), '{"format": '), /_metadata: not valid JSON/],
    [
      'a _metadata with a bad field',
      (chk: string) => {
        const json = JSON.parse(readFileSync(path.join(chk, '_metadata'), 'utf8')) as { operators: Array<{ subtasks: Array<{ keyed: { sha256: string } }> }> };
        json.operators[0]!.subtasks[0]!.keyed.sha256 = 'nope';
        writeFileSync(path.join(chk, '_metadata'), JSON.stringify(json));
      },
      /_metadata: invalid at operators\.0\.subtasks\.0\.keyed\.sha256/,
    ],
    [
      'a _metadata pointing outside its folder',
      (chk: string) => {
        const json = JSON.parse(readFileSync(path.join(chk, '_metadata'), 'utf8')) as { enumerators: Array<{ file: string }> };
        json.enumerators[0]!.file = '../chk-000001/enumerators/lines.state';
        writeFileSync(path.join(chk, '_metadata'), JSON.stringify(json));
      },
      /_metadata: invalid at enumerators\.0\.file: expected a relative path inside the checkpoint folder/,
    ],
  ])('detects %s and falls back', async (_what, damage, reason) => {
    const dir = tempDir();
    const { storage, lines } = await openStorage(dir);
    await takeCheckpoint(storage, 1);
    await takeCheckpoint(storage, 2);
    damage(path.join(dir, 'chk-000002'));
    expect((await storage.latestCompleted())?.metadata.checkpointId).toBe(1);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^checkpoint chk-000002 is corrupt \(/);
    expect(lines[0]).toMatch(reason);
    expect(lines[0]).toMatch(/; using chk-000001$/);
  });

  it('refuses to start over silently when every completed checkpoint is corrupt', async () => {
    const dir = tempDir();
    const { storage } = await openStorage(dir);
    await takeCheckpoint(storage, 1);
    corruptFile(path.join(dir, 'chk-000001', 'counts', 'subtask-1.keyed'));
    const error = await rejectionOf(storage.latestCompleted());
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(String(error)).toContain(`no usable checkpoint in '${dir}': chk-000001 is corrupt (counts/subtask-1.keyed: checksum mismatch)`);
  });

  it('has no checkpoint to restore in a fresh directory', async () => {
    const { storage } = await openStorage(tempDir());
    expect(await storage.latestCompleted()).toBeUndefined();
  });
});

describe('CheckpointStorage: failing disks lose nothing', () => {
  it('rejects a state write on ENOSPC with a retriable external error naming the file; the previous checkpoint stays', async () => {
    const dir = tempDir();
    const fs = new FaultyFileSystem();
    const { storage } = await openStorage(dir, { fs });
    await takeCheckpoint(storage, 1);

    fs.inject({ operation: 'writeFileDurably', code: 'ENOSPC', pathMatches: (file) => file.endsWith('subtask-1.keyed'), times: 1 });
    const id = storage.nextCheckpointId();
    const error = await rejectionOf(writeCheckpoint(storage, id));
    expect(error).toBeInstanceOf(EddyError);
    expect(error).toMatchObject({ domain: 'external', isRetriable: true });
    expect(String(error)).toContain(`could not write checkpoint file '${path.join(dir, 'chk-000002', 'counts', 'subtask-1.keyed')}': the disk is full (ENOSPC`);
    await storage.abortCheckpoint(id);

    const restored = await storage.latestCompleted();
    expect(restored?.metadata.checkpointId).toBe(1);
    expect(await restored!.readState('counts', 1)).toEqual(keyedSnapshot(RANGES[1]!, 1));
    await takeCheckpoint(storage, storage.nextCheckpointId());
    expect(checkpointFolders(dir)).toEqual(['chk-000001', 'chk-000003']);
  });

  it.each([
    ['the metadata write', 'writeFileDurably', (file: string) => file.endsWith('_metadata.tmp')],
    ['the rename', 'rename', undefined],
    ['a folder fsync', 'syncDirectory', undefined],
  ] as const)('rejects completion when %s fails (ENOSPC); the checkpoint does not count and the previous one is used', async (_what, operation, pathMatches) => {
    const dir = tempDir();
    const fs = new FaultyFileSystem();
    const { storage } = await openStorage(dir, { fs });
    await takeCheckpoint(storage, 1);
    const metadata = await writeCheckpoint(storage, 2);
    fs.inject({ operation, code: 'ENOSPC', times: 1, ...(pathMatches === undefined ? {} : { pathMatches }) });
    const error = await rejectionOf(storage.completeCheckpoint(metadata));
    expect(error).toMatchObject({ domain: 'external', isRetriable: true });
    expect(String(error)).toContain(`'${path.join(dir, 'chk-000002', '_metadata')}'`);
    await storage.abortCheckpoint(2);
    expect(checkpointFolders(dir)).toEqual(['chk-000001']);
    expect((await storage.latestCompleted())?.metadata.checkpointId).toBe(1);
  });

  it('classifies EACCES during a write the same way (the checkpoint is declined, not the job)', async () => {
    const fs = new FaultyFileSystem();
    const { storage } = await openStorage(tempDir(), { fs });
    fs.inject({ operation: 'mkdir', code: 'EACCES' });
    const error = await rejectionOf(storage.writeEnumeratorState(1, 'lines', []));
    expect(error).toMatchObject({ domain: 'external', isRetriable: true });
    expect(String(error)).toMatch(/enumerators\/lines\.state': EACCES: permission denied/);
  });

  it('refuses an unwritable directory at open with a sentence naming it and the fix', async () => {
    const dir = path.join(tempDir(), 'checkpoints');
    for (const operation of ['mkdir', 'writeFileDurably'] as const) {
      const fs = new FaultyFileSystem().inject({ operation, code: 'EACCES' });
      const error = await rejectionOf(openStorage(dir, { fs }));
      expect(error).toBeInstanceOf(ConfigurationError);
      expect(String(error)).toContain(`checkpoint directory '${dir}' is not writable: EACCES: permission denied`);
      expect(String(error)).toMatch(/; choose another --checkpoint-dir$/);
    }
  });

  it('reports a full directory at open as a retriable external error', async () => {
    const dir = tempDir();
    const fs = new FaultyFileSystem().inject({ operation: 'writeFileDurably', code: 'ENOSPC' });
    const error = await rejectionOf(openStorage(dir, { fs }));
    expect(error).toMatchObject({ domain: 'external', isRetriable: true });
    expect(String(error)).toContain(`checkpoint directory '${dir}' is full: ENOSPC`);
  });

  it('refuses a path that is a file', async () => {
    const file = path.join(tempDir(), 'plain-file');
    writeFileSync(file, 'x');
    const error = await rejectionOf(openStorage(file));
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(String(error)).toContain(`checkpoint directory '${file}' is not a folder`);
  });
});

describe('CheckpointStorage: ownership', () => {
  it("refuses another job's checkpoint directory", async () => {
    const dir = tempDir();
    await openStorage(dir, { jobName: 'a' });
    const error = await rejectionOf(openStorage(dir, { jobName: 'b' }));
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(String(error)).toContain(`checkpoint directory '${dir}' holds checkpoints of job 'a', not 'b'; choose another --checkpoint-dir`);
  });

  it('refuses a non-empty folder that is not a checkpoint directory, naming what it found', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'notes.txt'), 'mine');
    mkdirSync(path.join(dir, 'photos'));
    const error = await rejectionOf(openStorage(dir));
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(String(error)).toMatch(/checkpoint directory '.*' is not an Eddy checkpoint directory: it has no _eddy-job\.json/);
    expect(String(error)).toMatch(/'notes\.txt'/);
    expect(readdirSync(dir).sort()).toEqual(['notes.txt', 'photos']);
  });

  it('refuses a directory whose marker is unreadable', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, '_eddy-job.json'), 'not json');
    await expect(openStorage(dir)).rejects.toThrow(/has an unreadable ownership marker/);
  });

  it('accepts an empty existing folder and a folder it creates, and reopens its own directory', async () => {
    const empty = tempDir();
    await openStorage(empty);
    const nested = path.join(tempDir(), 'a', 'b');
    await openStorage(nested);
    expect(readdirSync(nested)).toEqual(['_eddy-job.json']);
    await openStorage(nested);
  });

  it('rejects metadata of another job and a retained count below 1', async () => {
    const { storage } = await openStorage(tempDir());
    await expect(storage.completeCheckpoint({ ...metadataFor(1, []), jobName: 'other' })).rejects.toThrow(/serves job 'wordcount'/);
    await expect(openStorage(tempDir(), { retained: 0 })).rejects.toThrow(/retained checkpoints must be a whole number ≥ 1, got 0/);
  });
});

describe('loadCheckpoint', () => {
  it('loads a chk folder or a checkpoint directory (its latest completed)', async () => {
    const dir = tempDir();
    const { storage } = await openStorage(dir);
    await takeCheckpoint(storage, 1);
    await takeCheckpoint(storage, 2);
    expect((await loadCheckpoint(path.join(dir, 'chk-000001'))).metadata.checkpointId).toBe(1);
    expect((await loadCheckpoint(dir)).path).toBe(path.join(dir, 'chk-000002'));
  });

  it('explains what is wrong with a path that is not a usable checkpoint', async () => {
    const dir = tempDir();
    const { storage } = await openStorage(dir);
    await writeCheckpoint(storage, 1);
    const cases: Array<[string, RegExp]> = [
      [path.join(dir, 'missing'), /checkpoint '.*missing' does not exist/],
      [path.join(dir, 'chk-000001'), /checkpoint '.*chk-000001' is incomplete \(no _metadata\): it never completed/],
      [dir, /checkpoint directory '.*' holds no completed checkpoint to restore from/],
      [path.join(dir, 'chk-000001', 'counts'), /'.*counts' is not an Eddy checkpoint: it holds neither _metadata .* nor _eddy-job\.json/],
      [path.join(dir, '_eddy-job.json'), /is not an Eddy checkpoint/],
    ];
    for (const [target, message] of cases) {
      const error = await rejectionOf(loadCheckpoint(target, { log: () => {} }));
      expect(error).toBeInstanceOf(ConfigurationError);
      expect(String(error)).toMatch(message);
    }
  });
});

describe('pathSegmentOf', () => {
  it('keeps readable uids and escapes what is not a portable, unreserved file name', () => {
    expect(pathSegmentOf('word-counts_v2.1')).toBe('word-counts_v2.1');
    expect(pathSegmentOf('a/b c')).toBe('a%2Fb%20c');
    expect(pathSegmentOf('..')).toBe('%2E.');
    expect(pathSegmentOf('_metadata')).toBe('%5Fmetadata');
    expect(pathSegmentOf('enumerators')).toBe('%65numerators');
    expect(pathSegmentOf('x*(y)')).toBe('x%2A%28y%29');
  });

  it('is injective and yields only safe characters (property)', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 12, unit: 'grapheme' }), fc.string({ minLength: 1, maxLength: 12, unit: 'grapheme' }), (a, b) => {
        const segment = pathSegmentOf(a);
        expect(segment).toMatch(/^[A-Za-z0-9%-][A-Za-z0-9%._-]*$/);
        expect(segment).not.toBe('enumerators');
        if (a !== b) expect(pathSegmentOf(b)).not.toBe(segment);
      }),
    );
  });

  it('stores state of a uid with slashes under one folder and reads it back', async () => {
    const { storage } = await openStorage(tempDir());
    const handle = await storage.writeOperatorState(1, 'team/a b', 0, [0, 0], false, { keyed: undefined, operatorState: { x: [1] } });
    expect(handle.operatorState?.file).toBe('team%2Fa%20b/subtask-0.operator');
    await storage.completeCheckpoint(metadataFor(1, [{ uid: 'team/a b', parallelism: 1, handles: [handle] }]));
    expect(await (await storage.latestCompleted())!.readState('team/a b', 0)).toEqual({ keyed: undefined, operatorState: { x: [1] } });
  });
});

describe('CheckpointStorage: native (RocksDB) keyed state, incremental', () => {
  /** A database checkpoint as the RocksDB store leaves it: files in a local folder. */
  function nativeCapture(
    files: Record<string, string>,
    databaseId = '/state/db-0',
    restoredFrom: Record<string, { path: string; sha256: string }> = {},
  ): NativeKeyedStateSnapshot {
    const dir = mkdtempSync(path.join(tmpdir(), 'eddy-native-'));
    createdDirs.push(dir);
    for (const [name, content] of Object.entries(files)) writeFileSync(path.join(dir, name), content);
    return {
      format: 'eddy-rocksdb/1',
      maxParallelism: 128,
      keyGroupRange: [0, 64],
      databaseId,
      dir,
      columnFamilies: ['s/counts'],
      states: [{ name: 'counts', kind: 'value' }],
      files: Object.entries(files).map(([name, content]) => ({
        name,
        bytes: Buffer.byteLength(content),
        isImmutable: name.endsWith('.sst'),
        ...(restoredFrom[name] === undefined ? {} : { restoredFrom: restoredFrom[name] }),
      })),
    };
  }

  async function checkpointNative(storage: CheckpointStorage, id: number, native: NativeKeyedStateSnapshot): Promise<StateHandle> {
    const handle = await storage.writeOperatorState(id, 'counts', 0, [0, 64], false, {
      keyed: undefined,
      nativeKeyed: native,
      operatorState: {},
    });
    await storage.completeCheckpoint(metadataFor(id, [{ uid: 'counts', parallelism: 1, handles: [handle] }]));
    return handle;
  }

  const sharedFilesIn = (dir: string): string[] =>
    existsSync(path.join(dir, 'shared', 'counts')) ? readdirSync(path.join(dir, 'shared', 'counts')).sort() : [];

  it('stores each immutable file once, references it from later checkpoints, and counts only what it wrote', async () => {
    const dir = tempDir();
    const { storage } = await openStorage(dir, { retained: 1 });
    const first = await checkpointNative(storage, 1, nativeCapture({ '000007.sst': 'a'.repeat(1000), '000008.sst': 'b'.repeat(500), CURRENT: 'MANIFEST-000005\n', 'MANIFEST-000005': 'm1' }));
    const firstKeyed = first.keyed as RocksDBStateHandle;
    expect(firstKeyed.kind).toBe('rocksdb');
    expect(firstKeyed.sharedFiles.map((f) => f.name).sort()).toEqual(['000007.sst', '000008.sst']);
    expect(firstKeyed.privateFiles.map((f) => f.file).sort()).toEqual(['counts/subtask-0.rocksdb/CURRENT', 'counts/subtask-0.rocksdb/MANIFEST-000005']);
    expect(bytesOfStateHandle(first)).toBe(1000 + 500 + 16 + 2);
    expect(first.writtenBytes).toBeUndefined(); // everything was written

    // Compaction replaced 000008 by 000009; 000007 is unchanged.
    const second = await checkpointNative(storage, 2, nativeCapture({ '000007.sst': 'a'.repeat(1000), '000009.sst': 'c'.repeat(300), CURRENT: 'MANIFEST-000005\n', 'MANIFEST-000005': 'm2' }));
    const secondKeyed = second.keyed as RocksDBStateHandle;
    const shared007 = firstKeyed.sharedFiles.find((f) => f.name === '000007.sst')!;
    expect(secondKeyed.sharedFiles.find((f) => f.name === '000007.sst')).toEqual(shared007);
    expect(second.writtenBytes).toBe(300 + 16 + 2);

    // Retention (1 kept) retired checkpoint 1: 000008 is referenced by nothing any more, 000007 still is.
    expect(checkpointFolders(dir)).toEqual(['chk-000002']);
    expect(sharedFilesIn(dir)).toEqual([path.basename(shared007.file), path.basename(secondKeyed.sharedFiles.find((f) => f.name === '000009.sst')!.file)].sort());

    const restored = (await storage.latestCompleted())!;
    expect(restored.metadata.writtenBytes).toBe(300 + 16 + 2);
    expect(restored.metadata.totalBytes).toBe(1000 + 300 + 16 + 2);
    const part = await restored.readKeyedState('counts', 0);
    expect(part.keyed).toBeUndefined();
    expect(part.native).toMatchObject({ format: 'eddy-rocksdb/1', keyGroupRange: [0, 64], columnFamilies: ['s/counts'] });
    const byName = new Map(part.native!.files.map((file) => [file.name, file]));
    expect(readFileSync(byName.get('000007.sst')!.path, 'utf8')).toBe('a'.repeat(1000));
    expect(readFileSync(byName.get('MANIFEST-000005')!.path, 'utf8')).toBe('m2');
  });

  it('references files a restored database got from this directory instead of storing them again', async () => {
    const dir = tempDir();
    const { storage } = await openStorage(dir, { retained: 2 });
    const first = await checkpointNative(storage, 1, nativeCapture({ '000007.sst': 'x'.repeat(800), CURRENT: 'M\n' }));
    const shared = (first.keyed as RocksDBStateHandle).sharedFiles[0]!;
    // A new attempt's database (another id) restored 000007 from the shared file.
    const restoredFrom = { '000007.sst': { path: path.join(dir, shared.file), sha256: shared.sha256 } };
    const second = await checkpointNative(storage, 2, nativeCapture({ '000007.sst': 'x'.repeat(800), CURRENT: 'M\n' }, '/state/db-attempt-2', restoredFrom));
    expect((second.keyed as RocksDBStateHandle).sharedFiles).toEqual([shared]);
    expect(second.writtenBytes).toBe(2);
    expect(sharedFilesIn(dir)).toHaveLength(1);
  });

  it('falls back from a checkpoint whose shared file is corrupt', async () => {
    const dir = tempDir();
    const { storage, lines } = await openStorage(dir, { retained: 2 });
    await checkpointNative(storage, 1, nativeCapture({ '000001.sst': 'one', CURRENT: 'M\n' }));
    const second = await checkpointNative(storage, 2, nativeCapture({ '000002.sst': 'two', CURRENT: 'M\n' }, '/state/db-1'));
    corruptFile(path.join(dir, (second.keyed as RocksDBStateHandle).sharedFiles[0]!.file));
    expect((await storage.latestCompleted())?.metadata.checkpointId).toBe(1);
    expect(lines.at(-1)).toMatch(/^checkpoint chk-000002 is corrupt \(shared\/counts\/.*-000002\.sst: checksum mismatch\); using chk-000001$/);
  });

  it('deletes the uploads of an aborted checkpoint at the next completion, and stores them again when needed', async () => {
    const dir = tempDir();
    const { storage } = await openStorage(dir, { retained: 1 });
    await storage.writeOperatorState(1, 'counts', 0, [0, 64], false, {
      keyed: undefined,
      nativeKeyed: nativeCapture({ '000003.sst': 'three', CURRENT: 'M\n' }),
      operatorState: {},
    });
    await storage.abortCheckpoint(1);
    expect(sharedFilesIn(dir)).toHaveLength(1); // not yet: deleted by the next retention pass
    const second = await checkpointNative(storage, 2, nativeCapture({ '000004.sst': 'four', CURRENT: 'M\n' }));
    expect(sharedFilesIn(dir)).toEqual([path.basename((second.keyed as RocksDBStateHandle).sharedFiles[0]!.file)]);
    // 000003 of the same database again: its earlier upload is gone, so it is stored anew.
    const third = await checkpointNative(storage, 3, nativeCapture({ '000003.sst': 'three', '000004.sst': 'four', CURRENT: 'M\n' }));
    const third003 = (third.keyed as RocksDBStateHandle).sharedFiles.find((f) => f.name === '000003.sst')!;
    expect(existsSync(path.join(dir, third003.file))).toBe(true);
    expect(await (await storage.latestCompleted())!.readKeyedState('counts', 0)).toMatchObject({ native: { columnFamilies: ['s/counts'] } });
  });

  it('removes the local capture folder once stored, and when the checkpoint is no longer wanted', async () => {
    const dir = tempDir();
    const { storage } = await openStorage(dir);
    const stored = nativeCapture({ '000001.sst': 'one', CURRENT: 'M\n' });
    await checkpointNative(storage, 1, stored);
    expect(existsSync(stored.dir)).toBe(false);
    await storage.abortCheckpoint(2);
    const unwanted = nativeCapture({ '000001.sst': 'one', CURRENT: 'M\n' });
    await expect(storage.writeOperatorState(2, 'counts', 0, [0, 64], false, { keyed: undefined, nativeKeyed: unwanted, operatorState: {} })).rejects.toThrow(
      /checkpoint 2 was aborted/,
    );
    expect(existsSync(unwanted.dir)).toBe(false);
  });
});

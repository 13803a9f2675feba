import type {
  OpenRocksStoreSync,
  RocksCheckpoint,
  RocksEntries,
  RocksRange,
  RocksStore,
  RocksStoreOptions,
  RocksWrite,
} from '../../../src/state/rocksdb/rocks-store.ts';

const latin1 = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');
const fromLatin1 = (key: string): Uint8Array => new Uint8Array(Buffer.from(key, 'latin1'));

/**
 * A {@link RocksStore} in memory, for fast unit tests of the backend's logic: column families are maps
 * from latin1 keys (which compare like the bytes) to values, sorted on scans. Every request takes
 * effect when it is made — what the real store's in-order I/O thread guarantees: a read sees exactly
 * the writes made before it. Asynchronous answers can be held back and released in any order
 * ({@link holdAnswers}, {@link releaseAnswer}), to test what the task does while they are in flight.
 */
export class InMemoryRocksStore implements RocksStore {
  readonly path: string;
  private readonly families = new Map<string, Map<string, Uint8Array>>();
  private held: Array<() => void> | undefined = undefined;
  /** Requests made, by kind (for tests that count I/O). */
  readonly requests = { multiGet: 0, multiGetSync: 0, scan: 0, scanSync: 0, write: 0 };
  isClosed = false;

  constructor(options: RocksStoreOptions) {
    this.path = options.path;
    for (const name of options.columnFamilies) this.families.set(name, new Map());
  }

  get columnFamilies(): readonly string[] {
    return [...this.families.keys()];
  }

  /** From now on, asynchronous answers wait until released. */
  holdAnswers(): void {
    this.held ??= [];
  }

  /** Answers waiting for release. */
  get heldCount(): number {
    return this.held?.length ?? 0;
  }

  /** Releases the held answer at `index` (0: the oldest). */
  releaseAnswer(index: number): void {
    const [release] = this.held!.splice(index, 1);
    release!();
  }

  releaseAll(): void {
    while (this.heldCount > 0) this.releaseAnswer(0);
  }

  addColumnFamiliesSync(names: readonly string[]): void {
    for (const name of names) if (!this.families.has(name)) this.families.set(name, new Map());
  }

  multiGet(columnFamily: string, keys: readonly Uint8Array[]): Promise<Array<Uint8Array | null>> {
    this.requests.multiGet++;
    return this.answer(this.get(columnFamily, keys));
  }

  multiGetSync(columnFamily: string, keys: readonly Uint8Array[]): Array<Uint8Array | null> {
    this.requests.multiGetSync++;
    return this.get(columnFamily, keys);
  }

  scanSync(range: RocksRange): RocksEntries {
    this.requests.scanSync++;
    return this.range(range);
  }

  scan(range: RocksRange): Promise<RocksEntries> {
    this.requests.scan++;
    return this.answer(this.range(range));
  }

  write(writes: readonly RocksWrite[]): Promise<void> {
    this.writeSync(writes);
    return this.answer(undefined);
  }

  writeSync(writes: readonly RocksWrite[]): void {
    this.requests.write++;
    for (const write of writes) {
      const family = this.family(write.columnFamily);
      switch (write.kind) {
        case 'put':
          family.set(latin1(write.key), write.value.slice());
          break;
        case 'delete':
          family.delete(latin1(write.key));
          break;
        case 'delete-range': {
          const from = latin1(write.key);
          const to = latin1(write.end);
          for (const key of [...family.keys()]) if (key >= from && key < to) family.delete(key);
          break;
        }
      }
    }
  }

  checkpoint(_targetDir: string): Promise<RocksCheckpoint> {
    return Promise.reject(new Error('the in-memory store takes no native checkpoints'));
  }

  close(): Promise<void> {
    this.closeSync();
    return Promise.resolve();
  }

  closeSync(): void {
    this.isClosed = true;
  }

  /** Rows of a column family (tests inspect them). */
  rows(columnFamily: string): number {
    return this.family(columnFamily).size;
  }

  private get(columnFamily: string, keys: readonly Uint8Array[]): Array<Uint8Array | null> {
    const family = this.family(columnFamily);
    return keys.map((key) => family.get(latin1(key))?.slice() ?? null);
  }

  private range({ columnFamily, gte, lt, limit }: RocksRange): RocksEntries {
    const from = latin1(gte);
    const to = latin1(lt);
    const family = this.family(columnFamily);
    const keys = [...family.keys()].filter((key) => key >= from && key < to).sort();
    const selected = limit === undefined ? keys : keys.slice(0, limit);
    return { keys: selected.map(fromLatin1), values: selected.map((key) => family.get(key)!.slice()) };
  }

  private family(name: string): Map<string, Uint8Array> {
    const family = this.families.get(name);
    if (family === undefined) throw new Error(`in-memory store '${this.path}': column family '${name}' is not open`);
    return family;
  }

  private answer<T>(value: T): Promise<T> {
    const held = this.held;
    if (held === undefined) return Promise.resolve(value);
    return new Promise((resolve) => held.push(() => resolve(value)));
  }
}

/** An {@link OpenRocksStoreSync} that opens in-memory stores and remembers the last one. */
export function inMemoryStores(): { readonly open: OpenRocksStoreSync; readonly last: () => InMemoryRocksStore } {
  let last: InMemoryRocksStore | undefined;
  return {
    open: (options) => {
      last = new InMemoryRocksStore(options);
      return last;
    },
    last: () => last!,
  };
}

/**
 * The {@link RocksStore} of a thread: a handle on a database that lives in this thread's state I/O
 * thread (`rocks-io-thread.js`, started on the first open, shared by every store of this thread,
 * terminated when the last one closes). Asynchronous requests are answered on the worker's message
 * channel; blocking ones on a second port that this thread reads with `receiveMessageOnPort` after
 * sleeping in `Atomics.wait` — the two never mix, so an asynchronous answer arriving while this thread
 * blocks stays queued, in order, for the event loop. All requests of a store travel on one channel and
 * run in the I/O thread one after another, which gives the ordering {@link RocksStore} promises.
 *
 * Cost: a blocking request is one thread hop each way (≈ 0.1–0.2 ms); keys and values travel packed in
 * one transferred buffer per request, never cloned one by one. Values handed out are views into the
 * answer's buffer: a caller that keeps a few of them for long should copy them (`slice()`) so that the
 * whole answer can be collected.
 *
 * The I/O thread never keeps the process alive by itself (it is unref'd), except while an asynchronous
 * request is outstanding: awaiting a write must not end in a process exit.
 *
 * One exception no code can lift: a write RocksDB holds back on a full disk (a write stall while it
 * waits for space to flush its memtables) stays inside RocksDB until space returns. The store fails at
 * once (the I/O thread answers for it), but the native call cannot be cancelled, and Node cannot end a
 * thread, nor the process, while such a call runs: closing the last store stops waiting for the thread
 * after {@link THREAD_STOP_WAIT_MS}, and the thread ends once space is freed (RocksDB checks every few
 * seconds) or the process is killed.
 */
import { receiveMessageOnPort, MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import path from 'node:path';
import { ConfigurationError, EddyError, type ErrorDomain } from '../../../core/errors.ts';
import type {
  OpenRocksStoreSync,
  RocksCheckpoint,
  RocksEntries,
  RocksRange,
  RocksStore,
  RocksStoreOptions,
  RocksWrite,
} from '../rocks-store.ts';

/** How long a blocking request may wait for its answer before the store is given up. */
const BLOCKING_REQUEST_TIMEOUT_MS = 60_000;
const DEFAULT_WRITE_BUFFER_BYTES = 4 * 1024 * 1024;
/** How long closing the last store waits for its I/O thread to end (see the module comment). */
const THREAD_STOP_WAIT_MS = 2_000;
/** RocksDB's own family, always open, not for the backend's use. */
const DEFAULT_FAMILY = 'default';
const WRITE_KINDS = { put: 0, delete: 1, 'delete-range': 2 } as const;
const EMPTY = new Uint8Array(0);

/** Many byte strings in one buffer: `lengths[i]` bytes each, in order; -1 is an absent value. */
interface Packed {
  readonly bytes: ArrayBuffer;
  readonly lengths: Int32Array;
}

/** What the I/O thread reports about a failed request. */
interface WireFailure {
  readonly code: string | undefined;
  readonly message: string;
  /** This failure left the database unusable: later requests are refused. */
  readonly isStoreFailed: boolean;
  /** The request was refused because of an earlier failure (this one). */
  readonly isEarlierFailure: boolean;
}

type Answer = { readonly id: number; readonly isOk: true; readonly result: unknown } | { readonly id: number; readonly isOk: false; readonly failure: WireFailure };

type RequestBody =
  | { readonly kind: 'open'; readonly path: string; readonly columnFamilies: readonly string[]; readonly mustExist: boolean; readonly writeBufferBytes: number }
  | { readonly kind: 'add-column-families'; readonly names: readonly string[] }
  | { readonly kind: 'multi-get'; readonly columnFamily: string; readonly keys: Packed }
  | { readonly kind: 'scan'; readonly columnFamily: string; readonly bounds: Packed; readonly limit: number | null }
  | {
      readonly kind: 'write';
      readonly families: readonly string[];
      readonly familyIndexes: Uint16Array;
      readonly kinds: Uint8Array;
      readonly payload: Packed;
    }
  | { readonly kind: 'checkpoint'; readonly targetDir: string }
  | { readonly kind: 'close' };

/** A request as it travels, and what the answer means for errors. */
interface Request {
  readonly body: RequestBody;
  readonly transfer: readonly ArrayBuffer[];
  /** The operation as the caller named it, for error messages. */
  readonly what: string;
}

interface PendingRequest {
  readonly store: RocksStoreClient;
  readonly what: string;
  readonly resolve: (result: unknown) => void;
  readonly reject: (error: EddyError) => void;
}

/**
 * This thread's state I/O thread. `Atomics.wait` is allowed on Node's main thread too, so blocking
 * requests work from the main thread and from worker threads alike.
 */
class StateIoThread {
  private readonly worker: Worker;
  private readonly syncPort: MessagePort;
  /** `[0]`: incremented by the I/O thread after each blocking answer it posted. */
  private readonly signal: Int32Array;
  private readonly pending = new Map<number, PendingRequest>();
  private nextRequestId = 1;
  private nextStoreId = 1;
  /** Stores opened and not yet closed; the thread is terminated when it drops to 0. */
  private storeCount = 0;
  /** Set when the thread died: every request fails with it. */
  private failure: EddyError | undefined;

  constructor() {
    const channel = new MessageChannel();
    this.syncPort = channel.port1;
    this.signal = new Int32Array(new SharedArrayBuffer(4));
    // No inherited execArgv: the thread is plain JavaScript and needs no loader (tsx) hooks.
    this.worker = new Worker(new URL('./rocks-io-thread.js', import.meta.url), {
      workerData: { syncPort: channel.port2, signal: this.signal },
      transferList: [channel.port2],
      execArgv: [],
    });
    this.worker.unref();
    this.worker.on('message', (answer: Answer) => this.onAsyncAnswer(answer));
    this.worker.on('error', (error) => this.onExit(error));
    this.worker.on('exit', (code) => this.onExit(new Error(`it exited with code ${code}`)));
  }

  get threadId(): number {
    return this.worker.threadId;
  }

  newStoreId(): number {
    return this.nextStoreId++;
  }

  storeOpened(): void {
    this.storeCount++;
  }

  /** Terminates the thread after its last store closed (a later open starts a new one). */
  async storeClosed(): Promise<void> {
    this.storeCount--;
    if (this.storeCount > 0 || this.failure !== undefined) return;
    this.failure = new EddyError('the state I/O thread was stopped after its last store closed');
    if (currentThread === this) currentThread = undefined;
    let timer: NodeJS.Timeout | undefined;
    const waitedEnough = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, THREAD_STOP_WAIT_MS);
      timer.unref();
    });
    // Resolves at once unless a native call is stuck in RocksDB (a full disk): the thread then ends later.
    await Promise.race([this.worker.terminate(), waitedEnough]);
    clearTimeout(timer);
  }

  /** Stops a thread that has no store (its first open failed). */
  retireIfUnused(): void {
    if (this.storeCount > 0 || this.failure !== undefined) return;
    this.failure = new EddyError('the state I/O thread was stopped: no store uses it');
    if (currentThread === this) currentThread = undefined;
    // Nothing can go wrong that anyone could act on: terminating only ends the thread.
    this.worker.terminate().then(
      () => undefined,
      () => undefined,
    );
  }

  /** Sends a request and blocks until its answer; throws an EddyError for a failed request. */
  requestSync(store: RocksStoreClient, request: Request): unknown {
    if (this.failure !== undefined) throw this.failure;
    const id = this.nextRequestId++;
    let seen = Atomics.load(this.signal, 0);
    this.worker.postMessage({ ...request.body, id, storeId: store.id, isSync: true }, request.transfer);
    const deadline = performance.now() + BLOCKING_REQUEST_TIMEOUT_MS;
    for (;;) {
      const answer = this.takeSyncAnswer(id);
      if (answer !== undefined) {
        if (answer.isOk) return answer.result;
        throw store.failed(request.what, answer.failure);
      }
      const remainingMs = deadline - performance.now();
      if (remainingMs <= 0) throw store.timedOut(request.what);
      Atomics.wait(this.signal, 0, seen, remainingMs);
      seen = Atomics.load(this.signal, 0);
    }
  }

  /** Sends a request; the promise settles with its answer (an EddyError for a failed request). */
  request(store: RocksStoreClient, request: Request): Promise<unknown> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const id = this.nextRequestId++;
    return new Promise((resolve, reject) => {
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(id, { store, what: request.what, resolve, reject });
      this.worker.postMessage({ ...request.body, id, storeId: store.id, isSync: false }, request.transfer);
    });
  }

  /** The answer to blocking request `id` if it arrived; drops answers of requests that timed out. */
  private takeSyncAnswer(id: number): Answer | undefined {
    for (;;) {
      const received = receiveMessageOnPort(this.syncPort);
      if (received === undefined) return undefined;
      const answer = received.message as Answer;
      if (answer.id === id) return answer;
    }
  }

  private onAsyncAnswer(answer: Answer): void {
    const pending = this.pending.get(answer.id);
    if (pending === undefined) return;
    this.pending.delete(answer.id);
    if (this.pending.size === 0) this.worker.unref();
    if (answer.isOk) pending.resolve(answer.result);
    else pending.reject(pending.store.failed(pending.what, answer.failure));
  }

  private onExit(cause: Error): void {
    if (this.failure === undefined) {
      this.failure = new EddyError(`the state I/O thread failed: ${cause.message}; its RocksDB stores are unusable`, { cause });
    }
    if (currentThread === this) currentThread = undefined;
    for (const pending of this.pending.values()) pending.reject(this.failure);
    this.pending.clear();
  }
}

/** This thread's state I/O thread, if one is running. */
let currentThread: StateIoThread | undefined;

/** The id (`worker.threadId`) of this thread's state I/O thread, if one is running: for diagnostics and tests. */
export function stateIoThreadId(): number | undefined {
  return currentThread?.threadId;
}

/**
 * Opens a RocksDB store in this thread's state I/O thread (starting it if needed), blocking. The path
 * is made absolute. Throws an EddyError naming the path and what to do.
 */
export const openRocksStoreSync: OpenRocksStoreSync = (options: RocksStoreOptions): RocksStore => {
  const dbPath = path.resolve(options.path);
  const families = checkedFamilies(dbPath, options.columnFamilies);
  const writeBufferBytes = options.writeBufferBytes ?? DEFAULT_WRITE_BUFFER_BYTES;
  if (!Number.isInteger(writeBufferBytes) || writeBufferBytes < 64 * 1024) {
    throw new EddyError(`RocksDB store '${dbPath}': writeBufferBytes must be an integer >= 65536, got ${writeBufferBytes}`);
  }
  currentThread ??= new StateIoThread();
  const thread = currentThread;
  const store = new RocksStoreClient(thread, thread.newStoreId(), dbPath);
  try {
    const opened = thread.requestSync(store, {
      body: { kind: 'open', path: dbPath, columnFamilies: families, mustExist: options.mustExist ?? false, writeBufferBytes },
      transfer: [],
      what: 'open',
    });
    store.setColumnFamilies(opened as string[]);
  } catch (error) {
    thread.retireIfUnused();
    throw error;
  }
  thread.storeOpened();
  return store;
};

/**
 * A store's handle in the thread that opened it. Refuses requests locally once closed or failed, so a
 * dead store answers at once, without a hop to the I/O thread.
 */
class RocksStoreClient implements RocksStore {
  readonly path: string;
  readonly id: number;
  private readonly thread: StateIoThread;
  private families: readonly string[] = [];
  /** Set by the first `close()`: later requests are refused, later calls get the same promise. */
  private closing: Promise<void> | undefined;
  /** The failure that left the database unusable; later requests fail with it at once. */
  private failure: EddyError | undefined;

  constructor(thread: StateIoThread, id: number, dbPath: string) {
    this.thread = thread;
    this.id = id;
    this.path = dbPath;
  }

  get columnFamilies(): readonly string[] {
    return this.families;
  }

  setColumnFamilies(families: readonly string[]): void {
    this.families = Object.freeze([...families]);
  }

  addColumnFamiliesSync(names: readonly string[]): void {
    const families = checkedFamilies(this.path, names);
    if (families.every((name) => this.families.includes(name))) return;
    const opened = this.requestSync({ body: { kind: 'add-column-families', names: families }, transfer: [], what: 'addColumnFamiliesSync' });
    this.setColumnFamilies(opened as string[]);
  }

  multiGet(columnFamily: string, keys: readonly Uint8Array[]): Promise<Array<Uint8Array | null>> {
    return this.request(multiGetRequest(columnFamily, keys, 'multiGet')).then(unpackValues);
  }

  multiGetSync(columnFamily: string, keys: readonly Uint8Array[]): Array<Uint8Array | null> {
    return unpackValues(this.requestSync(multiGetRequest(columnFamily, keys, 'multiGetSync')));
  }

  scanSync(range: RocksRange): RocksEntries {
    return unpackEntries(this.requestSync(scanRequest(range, 'scanSync')));
  }

  scan(range: RocksRange): Promise<RocksEntries> {
    return this.request(scanRequest(range, 'scan')).then(unpackEntries);
  }

  write(writes: readonly RocksWrite[]): Promise<void> {
    return this.request(writeRequest(writes)).then(() => undefined);
  }

  writeSync(writes: readonly RocksWrite[]): void {
    this.requestSync(writeRequest(writes));
  }

  closeSync(): void {
    if (this.closing !== undefined) return;
    this.closing = Promise.resolve();
    try {
      this.thread.requestSync(this, { body: { kind: 'close' }, transfer: [], what: 'closeSync' });
    } finally {
      // Only ends the I/O thread once no store is left; nothing anyone could act on can fail there.
      this.thread.storeClosed().catch(() => undefined);
    }
  }

  checkpoint(targetDir: string): Promise<RocksCheckpoint> {
    const body = { kind: 'checkpoint', targetDir: path.resolve(targetDir) } as const;
    return this.request({ body, transfer: [], what: `checkpoint into '${body.targetDir}'` }) as Promise<RocksCheckpoint>;
  }

  close(): Promise<void> {
    this.closing ??= this.closeOnce();
    return this.closing;
  }

  /** The EddyError for a failed request; remembers failures that leave the store unusable. */
  failed(what: string, failure: WireFailure): EddyError {
    const error = rocksError(this.path, what, failure);
    if (failure.isStoreFailed) this.failure ??= error;
    // A refusal wraps the original failure, which later refusals should wrap in turn (not the refusal).
    if (failure.isEarlierFailure) this.failure ??= error.cause as EddyError;
    return error;
  }

  /** The EddyError for a blocking request that got no answer in time; the store is given up. */
  timedOut(what: string): EddyError {
    const error = new EddyError(
      `RocksDB store '${this.path}': ${what} got no answer from the state I/O thread within ${BLOCKING_REQUEST_TIMEOUT_MS / 1000} s ` +
        '(is the disk stuck?); the store is unusable, restart from the last checkpoint',
      { domain: 'external', isRetriable: true },
    );
    this.failure ??= error;
    return error;
  }

  private async closeOnce(): Promise<void> {
    try {
      await this.thread.request(this, { body: { kind: 'close' }, transfer: [], what: 'close' });
    } finally {
      await this.thread.storeClosed();
    }
  }

  private requestSync(request: Request): unknown {
    this.checkUsable(request.what);
    return this.thread.requestSync(this, request);
  }

  private request(request: Request): Promise<unknown> {
    try {
      this.checkUsable(request.what);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.thread.request(this, request);
  }

  private checkUsable(what: string): void {
    if (this.closing !== undefined) throw new EddyError(`RocksDB store '${this.path}' is closed: ${what} is not possible`);
    if (this.failure !== undefined) throw refusedAfter(this.failure, this.path, what);
  }
}

// ---- requests and answers ----------------------------------------------------------------------

function multiGetRequest(columnFamily: string, keys: readonly Uint8Array[], what: string): Request {
  const keysPacked = pack(keys);
  return { body: { kind: 'multi-get', columnFamily, keys: keysPacked }, transfer: transferOf(keysPacked), what };
}

function scanRequest(range: RocksRange, what: string): Request {
  const bounds = pack([range.gte, range.lt]);
  const limit = range.limit ?? null;
  return { body: { kind: 'scan', columnFamily: range.columnFamily, bounds, limit }, transfer: transferOf(bounds), what };
}

function writeRequest(writes: readonly RocksWrite[]): Request {
  const families: string[] = [];
  const familyIndexes = new Uint16Array(writes.length);
  const kinds = new Uint8Array(writes.length);
  const parts = new Array<Uint8Array>(2 * writes.length);
  for (let i = 0; i < writes.length; i++) {
    const write = writes[i] as RocksWrite;
    let family = families.indexOf(write.columnFamily);
    if (family < 0) family = families.push(write.columnFamily) - 1;
    familyIndexes[i] = family;
    kinds[i] = WRITE_KINDS[write.kind];
    parts[2 * i] = write.key;
    parts[2 * i + 1] = write.kind === 'put' ? write.value : write.kind === 'delete-range' ? write.end : EMPTY;
  }
  const payload = pack(parts);
  return {
    body: { kind: 'write', families, familyIndexes, kinds, payload },
    transfer: [...transferOf(payload), familyIndexes.buffer, kinds.buffer],
    what: 'write',
  };
}

/** Copies byte strings into one fresh buffer (so that exactly it travels, never a pooled slab). */
function pack(parts: readonly Uint8Array[]): Packed {
  const lengths = new Int32Array(parts.length);
  let total = 0;
  for (let i = 0; i < parts.length; i++) {
    const length = (parts[i] as Uint8Array).length;
    lengths[i] = length;
    total += length;
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.length;
  }
  return { bytes: bytes.buffer, lengths };
}

function transferOf(packed: Packed): ArrayBuffer[] {
  return [packed.bytes, packed.lengths.buffer as ArrayBuffer];
}

/** Views (no copies) of the byte strings of a packed answer. */
function unpackValues(result: unknown): Array<Uint8Array | null> {
  const { bytes, lengths } = result as Packed;
  const out = new Array<Uint8Array | null>(lengths.length);
  let offset = 0;
  for (let i = 0; i < lengths.length; i++) {
    const length = lengths[i] as number;
    if (length < 0) {
      out[i] = null;
    } else {
      out[i] = new Uint8Array(bytes, offset, length);
      offset += length;
    }
  }
  return out;
}

function unpackEntries(result: unknown): RocksEntries {
  const parts = unpackValues(result) as Uint8Array[];
  const count = parts.length / 2;
  const keys = new Array<Uint8Array>(count);
  const values = new Array<Uint8Array>(count);
  for (let i = 0; i < count; i++) {
    keys[i] = parts[2 * i] as Uint8Array;
    values[i] = parts[2 * i + 1] as Uint8Array;
  }
  return { keys, values };
}

function checkedFamilies(dbPath: string, names: readonly string[]): string[] {
  const out: string[] = [];
  for (const name of names) {
    if (name === DEFAULT_FAMILY || name.length === 0) {
      throw new EddyError(`RocksDB store '${dbPath}': '${name}' cannot be a column family name (empty and 'default' are reserved)`);
    }
    if (!out.includes(name)) out.push(name);
  }
  return out;
}

// ---- errors ------------------------------------------------------------------------------------

type FailureKind = 'missing' | 'not-a-folder' | 'unwritable' | 'locked' | 'open-in-this-process' | 'corrupt' | 'disk-full' | 'internal' | 'other';

/** Why a request failed, from the error code and RocksDB's message. */
function classify(what: string, failure: WireFailure): FailureKind {
  const { code, message } = failure;
  const isOpening = what === 'open' || what === 'addColumnFamiliesSync';
  if (code === 'ENOSPC' || /No space left on device/.test(message)) return 'disk-full';
  if (/While lock file: .*LOCK: Resource temporarily unavailable/.test(message)) return 'locked';
  if (/lock hold by current process/.test(message)) return 'open-in-this-process';
  if (code === 'EDDY_NO_DATABASE' || /does not exist \(create_if_missing is false\)/.test(message)) return 'missing';
  if (code === 'ENOTDIR' || code === 'EEXIST' || /exists but is not a directory/.test(message)) return 'not-a-folder';
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS' || /Permission denied|Read-only file system/.test(message)) return 'unwritable';
  if (
    code === 'EDDY_CORRUPT' ||
    /Corruption|corrupt|Bad table magic number|checksum mismatch|truncated/i.test(message) ||
    (isOpening && /No such file or directory/.test(message))
  ) {
    return 'corrupt';
  }
  if (code === 'EDDY_INTERNAL' || code === 'EDDY_UNKNOWN_FAMILY') return 'internal';
  return 'other';
}

/** An EddyError naming the store, the problem and the fix. */
function rocksError(dbPath: string, requested: string, failure: WireFailure): EddyError {
  // A refused request reports the failure of an earlier one, which is what the message describes.
  const what = failure.isEarlierFailure ? 'an earlier request' : requested;
  const cause = Object.assign(new Error(failure.message), { code: failure.code });
  const detail = failure.message;
  if (what.startsWith('checkpoint') && !failure.isStoreFailed && !failure.isEarlierFailure) return checkpointError(dbPath, what, failure, cause);
  const kind = classify(what, failure);
  let error: EddyError;
  switch (kind) {
    case 'missing':
      error = new EddyError(
        `RocksDB state folder '${dbPath}' holds no database but must (restoring): ${detail}; copy the checkpoint's files there first`,
        { domain: 'external', cause },
      );
      break;
    case 'not-a-folder':
      error = new ConfigurationError(`RocksDB state folder '${dbPath}' is not a folder (${detail}); remove what is there or choose another --state-dir`, { cause });
      break;
    case 'unwritable':
      error = new ConfigurationError(`RocksDB state folder '${dbPath}' is not writable (${detail}); fix its permissions or choose another --state-dir`, { cause });
      break;
    case 'locked':
      error = new EddyError(
        `RocksDB state folder '${dbPath}' is locked: another Eddy process (or RocksDB user) holds ${path.join(dbPath, 'LOCK')}; ` +
          'stop it or choose another --state-dir',
        { domain: 'external', isRetriable: true, cause },
      );
      break;
    case 'open-in-this-process':
      error = new EddyError(`RocksDB state folder '${dbPath}' is already open in this process; every store needs a folder of its own`, { cause });
      break;
    case 'corrupt':
      error = new EddyError(
        `RocksDB database in '${dbPath}' is corrupt or incomplete (${what}: ${detail}); delete the folder and restore from a checkpoint`,
        { domain: 'external', cause },
      );
      break;
    case 'disk-full':
      error = new EddyError(
        `the disk holding RocksDB state '${dbPath}' is full (${what}: ${detail}); RocksDB accepts no more writes, so the store ` +
          'is unusable: free some space (or choose another --state-dir) and restart from the last checkpoint',
        { domain: 'external', isRetriable: true, cause },
      );
      break;
    case 'internal':
      error = new EddyError(`RocksDB store '${dbPath}': ${what} failed: ${detail}`, { domain: 'internal', cause });
      break;
    case 'other':
      error = new EddyError(`RocksDB store '${dbPath}': ${what} failed: ${detail}`, { domain: 'external', cause });
      break;
  }
  return failure.isEarlierFailure ? refusedAfter(error, dbPath, requested) : error;
}

/**
 * A checkpoint that failed without harming the database (it wrote nothing that stays): declined, the
 * job may go on and retry with the next one.
 */
function checkpointError(dbPath: string, what: string, failure: WireFailure, cause: Error): EddyError {
  if (failure.code === 'EEXIST') {
    return new EddyError(`RocksDB store '${dbPath}': ${what} failed: the target folder exists already (${failure.message})`, { cause });
  }
  const reason = failure.code === 'ENOSPC' ? `the disk is full (${failure.message})` : failure.message;
  return new EddyError(`RocksDB store '${dbPath}': ${what} failed: ${reason}; the checkpoint is declined`, {
    domain: 'external',
    isRetriable: true,
    cause,
  });
}

/** The error for a request refused because an earlier one left the store unusable. */
function refusedAfter(original: EddyError, dbPath: string, what: string): EddyError {
  const domain: ErrorDomain = original.domain;
  return new EddyError(`RocksDB store '${dbPath}' failed earlier and is unusable (${what} refused): ${original.message}`, {
    domain,
    isRetriable: original.isRetriable,
    cause: original,
  });
}

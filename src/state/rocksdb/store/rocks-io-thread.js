// The state I/O thread (plain JavaScript ESM, so that Node starts it without a loader). One runs per
// thread that hosts RocksDB stores (see rocks-store-client.ts); it owns the rocksdb-native databases of
// all of them (a database belongs to the thread that opened it, and the binding is asynchronous only).
//
// Protocol. Requests arrive on `parentPort`, each `{ id, storeId, kind, isSync, ... }`. Requests of one
// store run strictly one after another in arrival order (a promise chain per store), so a blocking read
// sees every earlier asynchronous write. Stores are independent: their chains interleave freely.
// Answers are `{ id, isOk: true, result }` or `{ id, isOk: false, failure }`. Asynchronous requests are
// answered on `parentPort`; blocking ones on the dedicated `syncPort`, after which the counter
// `signal[0]` is incremented and notified: the requesting thread sleeps in `Atomics.wait` on it and
// then takes the answer with `receiveMessageOnPort`. The answer is posted *before* the counter moves,
// so a counter change always means the answer is already in the port.
//
// Bytes travel packed: many byte strings are one ArrayBuffer plus an Int32Array of lengths (-1 for an
// absent value), both transferred, never cloned key by key.
//
// A write or flush that fails (a full disk above all: RocksDB then refuses every later write) makes
// the store *failed*: every later request of it is refused at once with the original failure, and its
// close only tries, within a short bound, to release the database (rocksdb-native's close never
// settles after ENOSPC).
//
// Full disks, and write stalls. RocksDB holds back a write (a write stall) while its memtables wait to
// be flushed; if that flush then fails for want of space, RocksDB keeps the write waiting until space
// returns — a native call that cannot be cancelled, and while it runs Node can end neither this
// thread nor the process. Two defences. (1) Low on space (less than LOW_SPACE_BYTES free, checked at
// most every SPACE_CHECK_INTERVAL_MS), writes switch to *flush-ahead*: before a family's memtable could
// fill, the I/O thread flushes it itself and waits, so RocksDB never has a second memtable to wait
// for; a full disk then fails that flush, and the store fails cleanly. (2) Should a write still be held
// back (the disk filled within one check interval), after STALLED_WRITE_CHECK_MS the free space is
// checked; with less than a memtable free the store fails as disk-full at once, though RocksDB keeps
// the native write until space is freed.

import { copyFile, link, mkdir, open, readdir, readFile, rename, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import RocksDB from 'rocksdb-native';

/**
 * The list of column families of a database (RocksDB's own list cannot be read through the binding,
 * and a database opens only with all of them): JSON `{ "version": 1, "columnFamilies": [...] }`,
 * excluding `default`, replaced atomically before the database is opened with new families.
 */
const COLUMN_FAMILY_LIST_FILE = 'EDDY-COLUMN-FAMILIES.json';
/** Open SST files per database: bounds file descriptors and table-reader memory (index and filter blocks live in the open readers since the block cache is off). */
const MAX_OPEN_FILES = 256;
/** Entries per native iterator read (the binding's default of 8 makes scans ~2.5x slower). */
const SCAN_CAPACITY = 1024;
/** How long a healthy store may take to flush its memtables and close. */
const CLOSE_TIMEOUT_MS = 10_000;
/** How long closing a failed store is tried (its native close may never settle). */
const FAILED_CLOSE_TIMEOUT_MS = 1_000;
/** How long a write may be pending before the free space of its disk is checked, and how often after. */
const STALLED_WRITE_CHECK_MS = 1_000;
/** Free space below which writes flush ahead (see the top of the file). */
const LOW_SPACE_BYTES = 256 * 1024 * 1024;
/** How often a store that writes checks the free space of its disk. */
const SPACE_CHECK_INTERVAL_MS = 100;
/** RocksDB's open error when families of the database are not listed (it names them). */
const MISSING_FAMILIES = /Column families not opened: (.+)$/;

/** Write kinds, as packed by the client. */
const PUT = 0;
const DELETE = 1;
const DELETE_RANGE = 2;

/**
 * @typedef {{ readonly bytes: ArrayBuffer, readonly lengths: Int32Array }} Packed
 * @typedef {{ code: string | undefined, message: string, isStoreFailed: boolean, isEarlierFailure: boolean }} Failure
 * @typedef {{ readonly id: number, readonly storeId: number, readonly kind: string, readonly isSync: boolean, readonly [field: string]: any }} Request
 *   the fields besides these depend on `kind` (see `RequestBody` in rocks-store-client.ts)
 * @typedef {{
 *   readonly id: number,
 *   readonly path: string,
 *   readonly mustExist: boolean,
 *   readonly writeBufferBytes: number,
 *   columnFamilies: string[],
 *   db: RocksDB | null,
 *   sessions: Map<string, RocksDB>,
 *   chain: Promise<void>,
 *   failure: Failure | null,
 *   walChunks: Map<string, WalChunk[]>,
 *   space: { isLow: boolean, checkedAtMs: number, unflushedBytes: Map<string, number> },
 *   capturedSstFiles: Set<string>,
 * }} Store
 * @typedef {{ readonly start: number, readonly end: number, readonly name: string }} WalChunk
 */

const { syncPort, signal } = /** @type {{ syncPort: import('node:worker_threads').MessagePort, signal: Int32Array }} */ (workerData);
const port = /** @type {import('node:worker_threads').MessagePort} */ (parentPort);

/** @type {Map<number, Store>} */
const stores = new Map();

port.on('message', (/** @type {Request} */ request) => {
  if (request.kind === 'open') {
    if (stores.has(request.storeId)) {
      answerFailure(request, internalFailure(`store ${request.storeId} is already open`));
      return;
    }
    stores.set(request.storeId, {
      id: request.storeId,
      path: request.path,
      mustExist: request.mustExist,
      writeBufferBytes: request.writeBufferBytes,
      columnFamilies: [],
      db: null,
      sessions: new Map(),
      chain: Promise.resolve(),
      failure: null,
      walChunks: new Map(),
      space: { isLow: false, checkedAtMs: -Infinity, unflushedBytes: new Map() },
      capturedSstFiles: new Set(),
    });
  }
  const store = stores.get(request.storeId);
  if (store === undefined) {
    answerFailure(request, internalFailure(`store ${request.storeId} is not open in this state I/O thread`));
    return;
  }
  // An answer that cannot be posted must not break the chain: the store's later requests still run.
  store.chain = store.chain
    .then(() => execute(store, request))
    .catch((error) => answerFailure(request, internalFailure(`answering ${request.kind} failed: ${failureOf(error).message}`)));
});

/**
 * Runs one request of `store` and answers it (rejects only when the answer cannot be posted).
 * @param {Store} store
 * @param {Request} request
 */
async function execute(store, request) {
  if (store.failure !== null && request.kind !== 'close') {
    answerFailure(request, { ...store.failure, isEarlierFailure: true });
    return;
  }
  try {
    const [result, transfer] = await run(store, request);
    answer(request, { id: request.id, isOk: true, result }, transfer);
  } catch (error) {
    const failure = failureOf(error);
    if (failure.isStoreFailed) store.failure = failure;
    if (request.kind === 'open') stores.delete(store.id);
    answerFailure(request, failure);
  }
}

/**
 * @param {Store} store
 * @param {Request} request
 * @returns {Promise<[unknown, ArrayBuffer[]]>} the result and what to transfer with it
 */
async function run(store, request) {
  switch (request.kind) {
    case 'open':
      await openDatabase(store, request.columnFamilies);
      return [store.columnFamilies, []];
    case 'add-column-families':
      await addColumnFamilies(store, request.names);
      return [store.columnFamilies, []];
    case 'multi-get':
      return packed(await multiGet(store, request.columnFamily, unpack(request.keys)));
    case 'scan':
      return packed(await scan(store, request.columnFamily, unpack(request.bounds), request.limit));
    case 'write':
      await write(store, request);
      return [undefined, []];
    case 'checkpoint':
      return [await checkpoint(store, request.targetDir), []];
    case 'close':
      await closeStore(store);
      return [undefined, []];
    default:
      throw internalError(`unknown request kind '${request.kind}'`);
  }
}

// ---- answers -----------------------------------------------------------------------------------

/**
 * @param {Request} request
 * @param {unknown} message
 * @param {ArrayBuffer[]} transfer
 */
function answer(request, message, transfer) {
  if (request.isSync) {
    syncPort.postMessage(message, transfer);
    Atomics.add(signal, 0, 1);
    Atomics.notify(signal, 0);
  } else {
    port.postMessage(message, transfer);
  }
}

/**
 * @param {Request} request
 * @param {Failure} failure
 */
function answerFailure(request, failure) {
  answer(request, { id: request.id, isOk: false, failure }, []);
}

/**
 * What the client needs to classify an error. rocksdb-native wraps batch failures
 * (`Error('Batch was not applied', { cause })`, `AggregateError(errors)`): the codes and messages of
 * the wrapped errors are what says why.
 * @param {unknown} error
 * @returns {Failure}
 */
function failureOf(error) {
  /** @type {unknown[]} */
  const parts = [error];
  if (error instanceof Error) {
    if (error.cause !== undefined) parts.push(error.cause);
    if (error instanceof AggregateError) parts.push(...error.errors.filter((e) => e !== null && e !== undefined));
  }
  /** @type {string | undefined} */
  let code;
  /** @type {string[]} */
  const messages = [];
  for (const part of parts) {
    const partCode = part instanceof Error ? /** @type {{ code?: unknown }} */ (part).code : undefined;
    if (code === undefined && typeof partCode === 'string') code = partCode;
    const message = part instanceof Error ? part.message : String(part);
    if (!messages.includes(message)) messages.push(message);
  }
  const isStoreFailed = error instanceof Error && /** @type {{ isStoreFailed?: boolean }} */ (error).isStoreFailed === true;
  return { code, message: messages.join(': '), isStoreFailed, isEarlierFailure: false };
}

/**
 * @param {string} message
 * @returns {Failure}
 */
function internalFailure(message) {
  return { code: 'EDDY_INTERNAL', message, isStoreFailed: false, isEarlierFailure: false };
}

/**
 * @param {string} message
 * @param {string} code
 */
function codedError(message, code) {
  return Object.assign(new Error(message), { code });
}

/** @param {string} message */
function internalError(message) {
  return codedError(message, 'EDDY_INTERNAL');
}

/**
 * Marks `error` as having left the database unusable (RocksDB refuses writes after a failed one).
 * @param {unknown} error
 */
function storeFailed(error) {
  const marked = error instanceof Error ? error : new Error(String(error));
  return Object.assign(marked, { isStoreFailed: true });
}

// ---- packed bytes ------------------------------------------------------------------------------

/**
 * Views of the byte strings in `packed` (null for a length of -1); no copies.
 * @param {Packed} packedBytes
 * @returns {Array<Buffer | null>}
 */
function unpack({ bytes, lengths }) {
  const out = new Array(lengths.length);
  let offset = 0;
  for (let i = 0; i < lengths.length; i++) {
    const length = /** @type {number} */ (lengths[i]);
    if (length < 0) {
      out[i] = null;
    } else {
      out[i] = Buffer.from(bytes, offset, length);
      offset += length;
    }
  }
  return out;
}

/**
 * Packs byte strings (null allowed) into one buffer and returns it with its transfer list.
 * @param {ReadonlyArray<Uint8Array | null>} parts
 * @returns {[Packed, ArrayBuffer[]]}
 */
function packed(parts) {
  const lengths = new Int32Array(parts.length);
  let total = 0;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    lengths[i] = part === null || part === undefined ? -1 : part.length;
    if (part) total += part.length;
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    if (!part) continue;
    bytes.set(part, offset);
    offset += part.length;
  }
  return [{ bytes: bytes.buffer, lengths }, [bytes.buffer, lengths.buffer]];
}

/**
 * @param {ReadonlyArray<Buffer | null>} parts
 * @param {number} index
 */
function bytesAt(parts, index) {
  const part = parts[index];
  if (part === null || part === undefined) throw internalError(`packed request has no bytes at ${index}`);
  return part;
}

// ---- open and close ----------------------------------------------------------------------------

/**
 * Opens the database with every family it has (from the list file) plus `requested`. The list file
 * is written before RocksDB creates new families, so it never misses one that exists. A folder
 * without the list file (a restored checkpoint) opens when `requested` names all families; if it
 * does not, RocksDB's error names the missing ones and the open is retried once with them.
 * @param {Store} store
 * @param {readonly string[]} requested
 */
async function openDatabase(store, requested) {
  await prepareFolder(store);
  const known = await readColumnFamilyList(store.path);
  let families = union(known, requested);
  if (families.length !== known.length) await writeColumnFamilyList(store.path, families);
  try {
    await openWith(store, families);
  } catch (error) {
    const missing = error instanceof Error ? MISSING_FAMILIES.exec(error.message) : null;
    if (missing === null) throw error;
    families = union(families, /** @type {string} */ (missing[1]).split(', '));
    await writeColumnFamilyList(store.path, families);
    await openWith(store, families);
  }
}

/**
 * @param {Store} store
 */
async function prepareFolder(store) {
  if (store.mustExist) {
    let isDirectory;
    try {
      isDirectory = statSync(store.path).isDirectory();
    } catch {
      throw codedError(`'${store.path}' does not exist`, 'EDDY_NO_DATABASE');
    }
    if (!isDirectory) throw codedError(`'${store.path}' exists but is not a directory`, 'ENOTDIR');
    if (!existsSync(path.join(store.path, 'CURRENT'))) {
      throw codedError(`'${store.path}' holds no RocksDB database (no CURRENT file)`, 'EDDY_NO_DATABASE');
    }
    return;
  }
  try {
    await mkdir(store.path, { recursive: true });
  } catch (error) {
    throw whyNotCreated(store.path, error);
  }
}

/**
 * A recursive mkdir reports ENOENT where the real reason is a read-only or inaccessible ancestor
 * (EROFS, EACCES); the nearest existing ancestor tells which.
 * @param {string} folder
 * @param {unknown} error
 */
function whyNotCreated(folder, error) {
  if (/** @type {{ code?: unknown }} */ (error).code !== 'ENOENT') return error;
  let ancestor = path.dirname(folder);
  while (!existsSync(ancestor) && path.dirname(ancestor) !== ancestor) ancestor = path.dirname(ancestor);
  try {
    accessSync(ancestor, constants.W_OK);
  } catch (accessError) {
    return accessError;
  }
  return error;
}

/**
 * @param {Store} store
 * @param {readonly string[]} families
 */
async function openWith(store, families) {
  const db = new RocksDB(store.path, {
    columnFamily: columnFamily('default', store.writeBufferBytes),
    columnFamilies: families.map((name) => columnFamily(name, store.writeBufferBytes)),
    createIfMissing: !store.mustExist,
    createMissingColumnFamilies: true,
    maxOpenFiles: MAX_OPEN_FILES,
  });
  await db.ready();
  store.db = db;
  store.columnFamilies = [...families];
  store.sessions = new Map(families.map((name) => [name, db.columnFamily(name)]));
  store.space.unflushedBytes = new Map();
  // Files present at open came from a checkpoint (a restore) or were there already: not bulk writes.
  store.capturedSstFiles = new Set((await readdir(store.path)).filter((name) => name.endsWith('.sst')));
}

/**
 * Families read through the OS page cache only: no block cache (rocksdb-native's is a fixed 32 MiB
 * per family), index and filter blocks held by the open table readers (bounded by MAX_OPEN_FILES).
 * @param {string} name
 * @param {number} writeBufferBytes
 */
function columnFamily(name, writeBufferBytes) {
  return new RocksDB.ColumnFamily(name, {
    blockCache: false,
    tableCacheIndexAndFilterBlocks: false,
    filterPolicy: new RocksDB.BloomFilterPolicy(10),
    writeBufferSize: writeBufferBytes,
    maxWriteBufferNumber: 2,
  });
}

/**
 * @param {Store} store
 * @param {readonly string[]} names
 */
async function addColumnFamilies(store, names) {
  const families = union(store.columnFamilies, names);
  if (families.length === store.columnFamilies.length) return;
  try {
    await closeDatabase(store, CLOSE_TIMEOUT_MS);
    await openDatabase(store, families);
  } catch (error) {
    throw storeFailed(error);
  }
}

/**
 * Flushes and closes a healthy store; only tries to close a failed one (within a short bound).
 * @param {Store} store
 */
async function closeStore(store) {
  stores.delete(store.id);
  if (store.failure === null) {
    await closeDatabase(store, CLOSE_TIMEOUT_MS);
  } else {
    await closeDatabase(store, FAILED_CLOSE_TIMEOUT_MS).catch(() => undefined);
  }
  // The log chunks of captures: checkpoints that need them have them in checkpoint storage.
  store.walChunks.clear();
  await rm(walChunkFolder(store), { recursive: true, force: true }).catch(() => undefined);
}

/**
 * Flushes every memtable of a healthy store (so that the next open replays no log) and closes the
 * database, each step within `timeoutMs`; after a failed flush the close is only tried, within
 * FAILED_CLOSE_TIMEOUT_MS. The store has no database afterwards, whatever happened.
 * @param {Store} store
 * @param {number} timeoutMs
 */
async function closeDatabase(store, timeoutMs) {
  const db = store.db;
  store.db = null;
  store.sessions = new Map();
  if (db === null) return;
  /** @type {unknown} */
  let failure = null;
  if (store.failure === null) {
    try {
      await withTimeout(flushAll(db, store.columnFamilies), timeoutMs, `flushing did not finish within ${timeoutMs} ms`);
    } catch (error) {
      failure = error;
    }
  }
  const closeTimeoutMs = store.failure === null && failure === null ? timeoutMs : FAILED_CLOSE_TIMEOUT_MS;
  try {
    await withTimeout(db.close(), closeTimeoutMs, `closing did not finish within ${closeTimeoutMs} ms`);
  } catch (error) {
    failure ??= error;
  }
  if (failure !== null) throw storeFailed(failure);
}

/**
 * @param {RocksDB} db
 * @param {readonly string[]} families
 */
async function flushAll(db, families) {
  try {
    for (const name of families) await db.columnFamily(name).flush();
    await db.flush();
  } catch (error) {
    throw storeFailed(error);
  }
}

/**
 * @template T
 * @param {Promise<T>} promise
 * @param {number} timeoutMs
 * @param {string} message
 * @returns {Promise<T>}
 */
function withTimeout(promise, timeoutMs, message) {
  /** @type {NodeJS.Timeout | undefined} */
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(storeFailed(codedError(message, 'ETIMEDOUT'))), timeoutMs);
  });
  return /** @type {Promise<T>} */ (Promise.race([promise, timeout])).finally(() => clearTimeout(timer));
}

/**
 * Low on space, flushes (and waits for) each family about to be written whose memtable could fill with
 * `incomingBytes` more; a flush that fails leaves the store failed (see the top of the file).
 * @param {Store} store
 * @param {readonly string[]} families
 * @param {number} incomingBytes
 */
async function flushAheadIfLowOnSpace(store, families, incomingBytes) {
  const { space } = store;
  const nowMs = performance.now();
  if (nowMs - space.checkedAtMs >= SPACE_CHECK_INTERVAL_MS) {
    space.checkedAtMs = nowMs;
    try {
      const { bavail, bsize } = await statfs(store.path);
      space.isLow = bavail * bsize < LOW_SPACE_BYTES;
    } catch {
      space.isLow = true; // cannot tell: the careful way
    }
  }
  if (!space.isLow) return;
  for (const name of families) {
    const unflushed = space.unflushedBytes.get(name) ?? 0;
    if (unflushed === 0 || unflushed + incomingBytes <= store.writeBufferBytes / 2) continue;
    try {
      await sessionOf(store, name).flush();
    } catch (error) {
      throw storeFailed(error);
    }
    space.unflushedBytes.set(name, 0);
  }
}

/**
 * `pending`, unless it is still pending while the store's disk has less than a memtable free: then a
 * disk-full failure (RocksDB stops writes it cannot flush and waits for space, never answering them).
 * @template T
 * @param {Store} store
 * @param {Promise<T>} pending
 * @returns {Promise<T>}
 */
function unlessDiskFull(store, pending) {
  /** @type {NodeJS.Timeout | undefined} */
  let timer;
  let isSettled = false;
  const diskFull = new Promise((_, reject) => {
    const check = async () => {
      let freeBytes;
      try {
        const { bavail, bsize } = await statfs(store.path);
        freeBytes = bavail * bsize;
      } catch {
        freeBytes = undefined; // cannot tell: keep waiting for RocksDB
      }
      if (isSettled) return;
      if (freeBytes !== undefined && freeBytes < store.writeBufferBytes) {
        const message =
          `No space left on device: a write is held back while ${freeBytes} bytes are free on the disk, ` +
          `less than the ${store.writeBufferBytes} a memtable flush needs`;
        reject(storeFailed(codedError(message, 'ENOSPC')));
        return;
      }
      timer = setTimeout(check, STALLED_WRITE_CHECK_MS);
    };
    timer = setTimeout(check, STALLED_WRITE_CHECK_MS);
  });
  return /** @type {Promise<T>} */ (Promise.race([pending, diskFull])).finally(() => {
    isSettled = true;
    clearTimeout(timer);
  });
}

// ---- the column family list file ---------------------------------------------------------------

/**
 * @param {string} folder
 * @returns {Promise<string[]>}
 */
async function readColumnFamilyList(folder) {
  const file = path.join(folder, COLUMN_FAMILY_LIST_FILE);
  let text;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if (/** @type {{ code?: unknown }} */ (error).code === 'ENOENT') return [];
    throw error;
  }
  try {
    const parsed = JSON.parse(text);
    if (Array.isArray(parsed.columnFamilies) && parsed.columnFamilies.every((/** @type {unknown} */ n) => typeof n === 'string')) {
      return parsed.columnFamilies;
    }
  } catch {
    // reported below
  }
  throw codedError(`'${file}' is not a column family list`, 'EDDY_CORRUPT');
}

/**
 * Replaces the list file atomically (a temporary file renamed over it).
 * @param {string} folder
 * @param {readonly string[]} families
 */
async function writeColumnFamilyList(folder, families) {
  const file = path.join(folder, COLUMN_FAMILY_LIST_FILE);
  const temporary = `${file}.tmp`;
  await writeFile(temporary, `${JSON.stringify({ version: 1, columnFamilies: families })}\n`, { flush: true });
  await rename(temporary, file);
}

/**
 * `first` followed by the names of `second` it lacks (never `default`).
 * @param {readonly string[]} first
 * @param {readonly string[]} second
 */
function union(first, second) {
  const out = [...first];
  for (const name of second) if (name !== 'default' && !out.includes(name)) out.push(name);
  return out;
}

// ---- reads and writes --------------------------------------------------------------------------

/**
 * @param {Store} store
 * @param {string} name
 */
function sessionOf(store, name) {
  const session = store.sessions.get(name);
  if (session === undefined) {
    throw codedError(`column family '${name}' is not open (open: ${store.columnFamilies.join(', ') || 'none'})`, 'EDDY_UNKNOWN_FAMILY');
  }
  return session;
}

/**
 * One native multi-get.
 * @param {Store} store
 * @param {string} family
 * @param {ReadonlyArray<Buffer | null>} keys
 * @returns {Promise<Array<Buffer | null>>}
 */
async function multiGet(store, family, keys) {
  if (keys.includes(null)) throw internalError('a key of a multi-get is null');
  const batch = sessionOf(store, family).read({ capacity: Math.max(1, keys.length) });
  try {
    /** @type {Array<Promise<Buffer | null>>} */
    const values = new Array(keys.length);
    for (let i = 0; i < keys.length; i++) values[i] = batch.get(bytesAt(keys, i));
    // Awaited together: a failed batch rejects the flush and every value, and none may go unhandled.
    const [, result] = await Promise.all([batch.flush(), Promise.all(values)]);
    return result;
  } finally {
    batch.destroy();
  }
}

/**
 * Keys and values alternating, in key order. An empty `lt` would mean "no upper bound" to the binding,
 * so it is answered here: nothing is below the empty key.
 * @param {Store} store
 * @param {string} family
 * @param {ReadonlyArray<Buffer | null>} bounds `[gte, lt]`
 * @param {number | null} limit
 * @returns {Promise<Buffer[]>}
 */
async function scan(store, family, bounds, limit) {
  const session = sessionOf(store, family);
  const gte = bytesAt(bounds, 0);
  const lt = bytesAt(bounds, 1);
  const maxEntries = limit ?? Infinity;
  /** @type {Buffer[]} */
  const out = [];
  if (maxEntries <= 0 || lt.length === 0 || Buffer.compare(gte, lt) >= 0) return out;
  const iterator = session.iterator({ gte, lt }, { limit: maxEntries, capacity: Math.min(SCAN_CAPACITY, maxEntries) });
  for await (const entry of iterator) out.push(entry.key, entry.value);
  return out;
}

/**
 * One write batch per column family, flushed together (families are independent key spaces, so the
 * order between them does not matter; within one family the batch keeps the request's order).
 * @param {Store} store
 * @param {Request} request `{ families: string[], familyIndexes: Uint16Array, kinds: Uint8Array, payload: Packed }`
 */
async function write(store, request) {
  /** @type {readonly string[]} */
  const families = request.families;
  /** @type {Uint16Array} */
  const familyIndexes = request.familyIndexes;
  /** @type {Uint8Array} */
  const kinds = request.kinds;
  const parts = unpack(request.payload);
  const counts = new Array(families.length).fill(0);
  for (const index of familyIndexes) counts[index]++;
  await flushAheadIfLowOnSpace(store, families, request.payload.bytes.byteLength);
  const batches = families.map((name, index) => (counts[index] > 0 ? sessionOf(store, name).write({ capacity: counts[index] }) : null));
  // A write given up on a full disk keeps its batches: RocksDB still holds them (and the store is dead).
  let isGivenUp = false;
  try {
    for (let i = 0; i < kinds.length; i++) {
      const batch = /** @type {NonNullable<(typeof batches)[number]>} */ (batches[/** @type {number} */ (familyIndexes[i])]);
      const key = bytesAt(parts, 2 * i);
      switch (kinds[i]) {
        case PUT:
          batch.tryPut(key, bytesAt(parts, 2 * i + 1));
          break;
        case DELETE:
          batch.tryDelete(key);
          break;
        case DELETE_RANGE:
          batch.tryDeleteRange(key, bytesAt(parts, 2 * i + 1));
          break;
        default:
          throw internalError(`unknown write kind ${kinds[i]}`);
      }
    }
    const flushed = Promise.allSettled(batches.map((batch) => (batch === null ? undefined : batch.flush())));
    const outcomes = await unlessDiskFull(store, flushed).catch((error) => {
      isGivenUp = true;
      throw error;
    });
    const rejected = outcomes.find((outcome) => outcome.status === 'rejected');
    if (rejected !== undefined) throw storeFailed(/** @type {PromiseRejectedResult} */ (rejected).reason);
    // Bytes of the request bound what each family's memtable grew by.
    const { unflushedBytes } = store.space;
    for (let i = 0; i < families.length; i++) {
      const name = /** @type {string} */ (families[i]);
      if (counts[i] > 0) unflushedBytes.set(name, (unflushedBytes.get(name) ?? 0) + request.payload.bytes.byteLength);
    }
  } finally {
    if (!isGivenUp) for (const batch of batches) batch?.destroy();
  }
}

// ---- checkpoints -------------------------------------------------------------------------------

/**
 * A native checkpoint, incremental in both kinds of files: suspend background work (waits for a running
 * compaction; writes wait too) ▶ read CURRENT ▶ hard-link the SST files (immutable), copy CURRENT, the
 * MANIFEST it names and the newest OPTIONS, and capture the write-ahead logs as *chunks* ▶ resume (always,
 * even when capturing failed). A failed checkpoint removes what it wrote.
 *
 * Memtables are not flushed (as RocksDB's own Checkpoint does for small logs): a flush per checkpoint
 * would add an L0 file each time and trigger compactions that rewrite the whole database — an
 * "incremental" checkpoint as large as a full one. Instead what was written since the last memtable flush
 * is captured from the logs, which RocksDB only ever appends to: each checkpoint stores the bytes appended
 * since the previous one as an immutable chunk `<log>.<start>-<end>` (kept next to the database until the
 * log is obsolete), and lists every chunk of the live logs. A restore concatenates a log's chunks and
 * RocksDB replays it. RocksDB bounds the logs itself (memtable flushes, max_total_wal_size).
 * @param {Store} store
 * @param {string} targetDir
 */
async function checkpoint(store, targetDir) {
  const db = /** @type {RocksDB} */ (store.db);
  await mkdir(path.dirname(targetDir), { recursive: true });
  await mkdir(targetDir);
  try {
    await settleBulkWrites(store, db);
    await db.suspend();
    let files;
    try {
      files = await copyLiveFiles(store, targetDir);
      store.capturedSstFiles = new Set(files.filter((file) => file.name.endsWith('.sst')).map((file) => file.name));
    } finally {
      await db.resume().catch((error) => {
        throw storeFailed(error);
      });
    }
    return { files, columnFamilies: [...store.columnFamilies] };
  } catch (error) {
    await rm(targetDir, { recursive: true, force: true });
    throw error;
  }
}

/** Largest database whose level 0 a checkpoint compacts after bulk writes (see settleBulkWrites). */
const SETTLE_MAX_BYTES = 512 * 1024 * 1024;

/**
 * After bulk writes — most of the database in SST files no checkpoint captured yet (a first load,
 * a backfill) — flushes and compacts before the capture, so that those rows are uploaded once, in
 * the files they settle in: otherwise this checkpoint uploads the level-0 files, and the next one
 * the whole level that RocksDB's compaction of them rewrites right after. Steady small changes (the
 * usual case) never trigger it; nor does a database over SETTLE_MAX_BYTES (the compaction would
 * hold the checkpoint back too long).
 * @param {Store} store
 * @param {RocksDB} db
 */
async function settleBulkWrites(store, db) {
  let totalBytes = 0;
  let newBytes = 0;
  let newFiles = 0;
  for (const name of (await readdir(store.path)).filter((n) => n.endsWith('.sst'))) {
    const bytes = (await stat(path.join(store.path, name)).catch(() => ({ size: 0 }))).size;
    totalBytes += bytes;
    if (!store.capturedSstFiles.has(name)) {
      newBytes += bytes;
      newFiles++;
    }
  }
  if (newFiles < 2 || newBytes <= totalBytes / 2 || totalBytes > SETTLE_MAX_BYTES) return;
  await flushAll(db, store.columnFamilies);
  try {
    for (const session of store.sessions.values()) await session.compact({});
  } catch (error) {
    throw storeFailed(error);
  }
}

/** A write-ahead log's name: digits, `.log`. */
const WAL_FILE = /^\d+\.log$/;

/** Where a store keeps the chunks of its live logs: next to (not in) the database folder. */
function walChunkFolder(/** @type {Store} */ store) {
  return `${store.path}.wal-chunks`;
}

/**
 * @param {Store} store
 * @param {string} target
 */
async function copyLiveFiles(store, target) {
  const source = store.path;
  const current = await readFile(path.join(source, 'CURRENT'), 'utf8');
  const manifest = current.trim();
  const names = await readdir(source);
  const options = names
    .filter((name) => name.startsWith('OPTIONS-') && !name.endsWith('.dbtmp'))
    .sort((a, b) => Number(a.slice(8)) - Number(b.slice(8)))
    .at(-1);
  /** @type {Array<{ name: string, bytes: number, isImmutable: boolean }>} */
  const files = [];
  for (const name of names.filter((n) => n.endsWith('.sst')).sort()) {
    await linkOrCopy(path.join(source, name), path.join(target, name));
    files.push({ name, bytes: (await stat(path.join(target, name))).size, isImmutable: true });
  }
  for (const chunk of await captureLogChunks(store, names.filter((n) => WAL_FILE.test(n)).sort())) {
    await linkOrCopy(path.join(walChunkFolder(store), chunk.name), path.join(target, chunk.name));
    files.push({ name: chunk.name, bytes: chunk.end - chunk.start, isImmutable: true });
  }
  const copied = options === undefined ? [manifest] : [manifest, options];
  for (const name of copied) {
    await copyFile(path.join(source, name), path.join(target, name));
    files.push({ name, bytes: (await stat(path.join(target, name))).size, isImmutable: false });
  }
  // CURRENT as read while suspended (not copied again: it is the one that names the copied MANIFEST).
  await writeFile(path.join(target, 'CURRENT'), current);
  files.push({ name: 'CURRENT', bytes: Buffer.byteLength(current), isImmutable: false });
  return files;
}

/**
 * Brings the chunks of the live logs up to their current sizes (writing a chunk of the bytes appended
 * since the last capture) and forgets the chunks of logs RocksDB deleted. Returns every chunk of the
 * live logs, in log and offset order.
 * @param {Store} store
 * @param {string[]} logs
 * @returns {Promise<WalChunk[]>}
 */
async function captureLogChunks(store, logs) {
  const folder = walChunkFolder(store);
  await mkdir(folder, { recursive: true });
  for (const [log, chunks] of store.walChunks) {
    if (logs.includes(log)) continue;
    store.walChunks.delete(log);
    for (const chunk of chunks) await rm(path.join(folder, chunk.name), { force: true });
  }
  /** @type {WalChunk[]} */
  const all = [];
  for (const log of logs) {
    let chunks = store.walChunks.get(log);
    if (chunks === undefined) store.walChunks.set(log, (chunks = []));
    const covered = chunks.at(-1)?.end ?? 0;
    const size = (await stat(path.join(store.path, log))).size;
    if (size < covered) {
      throw new Error(`the write-ahead log '${path.join(store.path, log)}' shrank from ${covered} to ${size} bytes since the last checkpoint`);
    }
    if (size > covered) {
      const chunk = { start: covered, end: size, name: `${log}.${covered}-${size}` };
      await copyRange(path.join(store.path, log), covered, size, path.join(folder, chunk.name));
      chunks.push(chunk);
    }
    all.push(...chunks);
  }
  return all;
}

/**
 * Copies bytes [start, end) of `from` into a new file `to`.
 * @param {string} from
 * @param {number} start
 * @param {number} end
 * @param {string} to
 */
async function copyRange(from, start, end, to) {
  const input = await open(from, 'r');
  try {
    const bytes = Buffer.allocUnsafe(end - start);
    let offset = 0;
    while (offset < bytes.length) {
      const { bytesRead } = await input.read(bytes, offset, bytes.length - offset, start + offset);
      if (bytesRead === 0) throw new Error(`the write-ahead log '${from}' ended at ${start + offset}, before ${end}`);
      offset += bytesRead;
    }
    await writeFile(to, bytes, { flag: 'wx' });
  } finally {
    await input.close();
  }
}

/**
 * @param {string} from
 * @param {string} to
 */
async function linkOrCopy(from, to) {
  try {
    await link(from, to);
  } catch (error) {
    const code = /** @type {{ code?: unknown }} */ (error).code;
    if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EMLINK') throw error;
    await copyFile(from, to);
  }
}

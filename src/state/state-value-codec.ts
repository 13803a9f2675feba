import { Packr } from 'msgpackr';

/**
 * The one msgpack codec for state values: what the RocksDB backend stores per row and what
 * checkpoints write. Records (object shapes) are written inline, so every encoded value decodes on
 * its own; Map stays apart from plain objects, and Set, Date, bigint and typed arrays keep their type —
 * the fidelity records have on channels. (`useRecords: false` would turn a Map into a plain object.)
 * Changing these options changes the bytes of stored state: it is part of the checkpoint format.
 */
const packr = new Packr({ useRecords: true, moreTypes: true, useBigIntExtension: true });

/**
 * Encodes one value. Returns a fresh copy (msgpackr's own result is a view into a reused buffer that
 * the next encode overwrites), so the bytes may be held and sent elsewhere. Throws what msgpackr
 * throws for values it cannot encode; callers name the state.
 */
export function encodeStateValue(value: unknown): Uint8Array {
  const view = packr.pack(value);
  const copy = new Uint8Array(view.length);
  copy.set(view);
  return copy;
}

/** Decodes bytes written by {@link encodeStateValue}. */
export function decodeStateValue(bytes: Uint8Array): unknown {
  return packr.unpack(bytes);
}

/** The shared codec, for callers that encode many values into one buffer (checkpoint files). */
export const stateValueCodec: Packr = packr;

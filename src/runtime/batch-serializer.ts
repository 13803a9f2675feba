import { Packr } from 'msgpackr';
import { EddyError } from '../core/errors.ts';
import { RecordBatch } from './stream-element.ts';

/**
 * Serializes a record batch into one ArrayBuffer, to be transferred (not cloned) to another thread.
 * msgpackr in records mode (repeated object shapes are written once per batch): about twice as fast
 * as structured clone for typical records.
 *
 * Layout: `[count: u32][reserved: u32][timestamps: count × f64][msgpack(values)]`. The timestamps come
 * first so that the receiver reads them as a Float64Array view, without copying.
 *
 * Values keep msgpackr's fidelity: plain objects, arrays, strings, numbers, booleans, null, undefined,
 * Date, Map, Set, bigint (any size), typed arrays round-trip; class instances arrive as plain objects
 * (their methods stay behind); −0 arrives as 0.
 */
const HEADER_BYTES = 8;

/**
 * Serializes and deserializes record batches for channels that cross threads (layout above). Each peer link
 * owns one.
 */
export class BatchSerializer {
  private readonly packr = new Packr({ useRecords: true, moreTypes: true, useBigIntExtension: true });

  serialize(values: readonly unknown[], timestamps: Float64Array, count: number): ArrayBuffer {
    const packed = this.packr.pack(values.length === count ? values : values.slice(0, count));
    const timestampBytes = count * 8;
    const buffer = new ArrayBuffer(HEADER_BYTES + timestampBytes + packed.length);
    new Uint32Array(buffer, 0, 1)[0] = count;
    new Float64Array(buffer, HEADER_BYTES, count).set(count === timestamps.length ? timestamps : timestamps.subarray(0, count));
    // `packed` is a view into msgpackr's reused buffer: copy it out before the next pack.
    new Uint8Array(buffer, HEADER_BYTES + timestampBytes).set(packed);
    return buffer;
  }

  deserialize(buffer: ArrayBuffer): RecordBatch {
    const count = new Uint32Array(buffer, 0, 1)[0]!;
    const timestamps = new Float64Array(buffer, HEADER_BYTES, count);
    const values: unknown = this.packr.unpack(new Uint8Array(buffer, HEADER_BYTES + count * 8));
    if (!Array.isArray(values) || values.length !== count) {
      throw new EddyError(`corrupt record batch: header says ${count} records`);
    }
    return new RecordBatch(values, timestamps, count);
  }
}

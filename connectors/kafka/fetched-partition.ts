/**
 * What a fetch brought for one partition, decoded as a `read_committed` consumer sees it. The raw
 * shapes below are the parts of kafkajs's decoded Fetch response (v4 and later) that Eddy reads; they
 * are declared here structurally, so this file does not depend on kafkajs.
 */

/** Record headers as kafkajs decodes them: a Buffer per header, an array when a header repeats. */
export type RecordHeaders = Readonly<Record<string, Buffer | string | Array<Buffer | string> | undefined>>;

/** One record as fetched, with what the source needs of it. */
export interface FetchedRecord {
  readonly offset: number;
  /** The record's timestamp (create or log-append time), epoch ms. */
  readonly timestampMs: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: RecordHeaders;
}

/** What one fetch brought for one partition. */
export interface FetchedPartition {
  readonly topic: string;
  readonly partition: number;
  /** The offset the fetch started at. */
  readonly fetchOffset: number;
  /** Data records of committed (or non-transactional) batches at ≥ fetchOffset, in offset order. */
  readonly records: readonly FetchedRecord[];
  /**
   * Where the next fetch starts: after the last record batch returned, so past trailing control
   * records and aborted records too; `fetchOffset` when nothing was returned.
   */
  readonly nextOffset: number;
  /**
   * Where a `read_committed` consumer's input currently ends: the partition's last stable offset (its
   * high watermark unless a transaction is open), or the high watermark if the broker did not say.
   */
  readonly endOffset: number;
}

/** The parts of kafkajs's decoded Fetch response that {@link decodeFetchedPartition} reads. */
export interface RawFetchResponse {
  readonly responses: ReadonlyArray<{ readonly topicName: string; readonly partitions: readonly RawPartitionData[] }>;
}

/** One partition of a decoded Fetch response. */
export interface RawPartitionData {
  readonly partition: number;
  readonly highWatermark: string;
  /** −1 when the broker does not say. */
  readonly lastStableOffset?: string;
  readonly abortedTransactions?: ReadonlyArray<{ readonly producerId: string; readonly firstOffset: string }>;
  /** The records of every complete record batch, control records included. */
  readonly messages: readonly RawRecord[];
}

/** One decoded record, with its batch's header fields. */
export interface RawRecord {
  readonly offset: string;
  readonly timestamp: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers?: RecordHeaders;
  readonly isControlRecord?: boolean;
  readonly batchContext?: {
    readonly firstOffset: string;
    readonly lastOffsetDelta: number;
    readonly producerId: string;
    readonly inTransaction: boolean;
  };
}

/** A control record's key is (version: int16, type: int16); type 0 ends an aborted transaction. */
function isAbortMarker(key: Buffer | null): boolean {
  return key !== null && key.length >= 4 && key.readInt16BE(2) === 0;
}

const NO_HEADERS: RecordHeaders = Object.freeze({});

/**
 * The data records of one partition's fetched batches, by the rules of Kafka's own consumer
 * (`Fetcher`, `read_committed`): records before the fetch offset (the start of a compressed batch) are
 * dropped; a transactional producer's records are dropped from the first offset of each of its
 * aborted transactions until its abort marker; control records are dropped. The next fetch offset
 * follows the last complete batch (its header's last offset), so trailing control records, aborted
 * records and compacted-away offsets are skipped, never fetched again. One pass; one object per
 * data record.
 */
export function decodeFetchedPartition(topic: string, fetchOffset: number, data: RawPartitionData): FetchedPartition {
  const aborted = [...(data.abortedTransactions ?? [])]
    .map((entry) => ({ producerId: entry.producerId, firstOffset: Number(entry.firstOffset) }))
    .sort((a, b) => a.firstOffset - b.firstOffset);
  const abortingProducers = new Set<string>();
  let nextAborted = 0;
  let nextOffset = fetchOffset;
  const records: FetchedRecord[] = [];
  for (const message of data.messages) {
    const offset = Number(message.offset);
    const batch = message.batchContext;
    const batchEnd = batch === undefined ? offset + 1 : Number(batch.firstOffset) + batch.lastOffsetDelta + 1;
    if (batchEnd > nextOffset) nextOffset = batchEnd;
    if (offset < fetchOffset) continue;
    while (nextAborted < aborted.length && offset >= aborted[nextAborted]!.firstOffset) {
      abortingProducers.add(aborted[nextAborted]!.producerId);
      nextAborted++;
    }
    if (message.isControlRecord === true) {
      if (batch !== undefined && isAbortMarker(message.key)) abortingProducers.delete(batch.producerId);
      continue;
    }
    if (batch !== undefined && batch.inTransaction && abortingProducers.has(batch.producerId)) continue;
    records.push({
      offset,
      timestampMs: Number(message.timestamp),
      key: message.key,
      value: message.value,
      headers: message.headers ?? NO_HEADERS,
    });
  }
  const lastStableOffset = data.lastStableOffset === undefined ? -1 : Number(data.lastStableOffset);
  const endOffset = lastStableOffset >= 0 ? lastStableOffset : Number(data.highWatermark);
  return { topic, partition: data.partition, fetchOffset, records, nextOffset, endOffset };
}

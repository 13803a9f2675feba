import { isUtf8 } from 'node:buffer';
import type { InputStatus, ReaderOutput, SourceReader, SplitLag } from '../../src/connector/source.ts';
import { BadRecordError, EddyError, describeError } from '../../src/core/errors.ts';
import { AvailabilitySignal } from '../base/availability-signal.ts';
import type { KafkaDeserializer } from './deserializers.ts';
import type { FetchedPartition, FetchedRecord } from './fetched-partition.ts';
import {
  KafkaFetchClient,
  type FetchLimits,
  type KafkaConnectionSettings,
  type OffsetRange,
  type PartitionFetchRequest,
} from './kafka-client.ts';
import { PartitionFetcher, type FetchPlanner, type FetchTarget } from './kafka-partition-fetcher.ts';
import type { PoisonRecordPolicy } from './kafka-source-options.ts';
import type { KafkaPartitionSplit } from './kafka-split.ts';

/** Records per batch: a batch is at most this many records of one partition. */
export const MAX_RECORDS_PER_BATCH = 1000;

/**
 * A record with its Kafka coordinates, what `withMetadata: true` emits. Header values are UTF-8
 * strings (an array when a header repeats); `timestamp` is the record's timestamp in epoch ms.
 */
export interface KafkaRecord<K, V> {
  readonly key: K | null;
  readonly value: V;
  readonly headers: Readonly<Record<string, string | readonly string[]>>;
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly timestamp: number;
}

/** What each reader is created with, from the resolved source options and its subtask. */
export interface KafkaReaderSettings {
  readonly connection: KafkaConnectionSettings;
  readonly value: KafkaDeserializer<unknown>;
  readonly key: KafkaDeserializer<unknown>;
  readonly withMetadata: boolean;
  /** Offsets are committed here after completed checkpoints (lag monitoring only). */
  readonly groupId: string | undefined;
  readonly onPoisonRecord: PoisonRecordPolicy | undefined;
  readonly maxBufferedRecords: number;
  readonly fetchLimits: FetchLimits;
}

/** Fetched records of one partition not yet emitted; `index` is the next one. */
class FetchedChunk {
  index = 0;

  constructor(
    readonly records: readonly FetchedRecord[],
    /** Where the partition's position is once every record of the chunk was emitted. */
    readonly nextOffset: number,
  ) {}
}

/** One assigned partition: its emitted position (what a snapshot records), its queue and where fetching is. */
class PartitionCursor implements FetchTarget {
  readonly splitId: string;
  readonly topic: string;
  readonly partition: number;
  readonly stoppingOffset: number | null;
  /** The offset after the last emitted record (or skipped control records): where a restore resumes. */
  position: number;
  /** Where the next fetch starts (≥ position: queued records lie in between). */
  fetchOffset: number;
  isFetching = false;
  readonly chunks: FetchedChunk[] = [];
  /** Where the partition's committed input ended at the last fetch (see FetchedPartition.endOffset); −1 before the first. */
  endOffset = -1;
  lastEmittedOffset = -1;

  constructor(split: KafkaPartitionSplit) {
    this.splitId = split.splitId;
    this.topic = split.topic;
    this.partition = split.partition;
    this.stoppingOffset = split.stoppingOffset;
    this.position = split.nextOffset;
    this.fetchOffset = split.nextOffset;
  }

  /** Bounded: everything up to the stopping offset was emitted. */
  isAtEnd(): boolean {
    return this.stoppingOffset !== null && this.position >= this.stoppingOffset && this.chunks.length === 0;
  }

  wantsFetch(): boolean {
    return !this.isFetching && (this.stoppingOffset === null || this.fetchOffset < this.stoppingOffset);
  }
}

/** A poison record being written to the dead-letter topic; the reader emits nothing until it is acknowledged. */
interface PendingDeadLetter {
  readonly cursor: PartitionCursor;
  readonly record: FetchedRecord;
  outcome: 'pending' | 'written' | EddyError;
}

/** Returned by {@link KafkaSourceReader.decode} for a poison record; the reason is in `poisonMessage`. */
const POISON: unique symbol = Symbol('poison record');

/**
 * Reads the partitions the enumerator assigned to one subtask. A {@link PartitionFetcher} fetches in
 * the background (it connects when the first partition arrives, so a reader without partitions never
 * talks to Kafka) into a queue of fetched records per partition, bounded by `maxBufferedRecords` over
 * all partitions: above it the fetcher stops asking, and resumes when `pollNext` has drained below.
 * `pollNext` emits up to 1,000 records of one partition per call, taking partitions in turn, and
 * deserializes them on the way (the hot path: synchronous, no per-record promise).
 *
 * Each record carries its Kafka timestamp as the source timestamp. A partition's position moves to
 * just after each record before it is emitted, and past trailing control records once a fetched
 * batch is drained; a snapshot records it, and after a completed checkpoint the offsets it recorded are
 * committed to `groupId` (lag monitoring only; failures are logged, never fatal). Bounded splits
 * finish at their stopping offset.
 */
export class KafkaSourceReader implements SourceReader<unknown, KafkaPartitionSplit>, FetchPlanner {
  private readonly settings: KafkaReaderSettings;
  private readonly client: KafkaFetchClient;
  private readonly fetcher: PartitionFetcher;
  /** Assigned, unfinished partitions, in assignment order. */
  private readonly cursors: PartitionCursor[] = [];
  /** Every partition ever assigned, for {@link describeLastRecord}. */
  private readonly cursorsById = new Map<string, PartitionCursor>();
  /** Final positions of finished partitions, committed with the next completed checkpoint. */
  private readonly finishedPositions = new Map<string, PartitionFetchRequest>();
  private readonly availability = new AvailabilitySignal();
  private bufferedRecords = 0;
  /** Position in `cursors` of the partition whose turn it is. */
  private turn = 0;
  private hasNoMoreSplits = false;
  private isClosed = false;
  private failure: EddyError | undefined = undefined;
  private fetchLoop: Promise<void> | undefined = undefined;
  private pendingDeadLetter: PendingDeadLetter | undefined = undefined;
  private poisonMessage = '';
  /** Offsets of each checkpoint taken and not yet completed, by checkpoint id. */
  private readonly offsetsByCheckpoint = new Map<number, PartitionFetchRequest[]>();
  private nextCommit: PartitionFetchRequest[] | undefined = undefined;
  private committing: Promise<void> | undefined = undefined;
  private failedCommits = 0;

  constructor(settings: KafkaReaderSettings) {
    this.settings = settings;
    this.client = new KafkaFetchClient(settings.connection);
    this.fetcher = new PartitionFetcher(this.client, this, settings.fetchLimits, settings.connection.requestTimeoutMs);
  }

  async start(): Promise<void> {
    if (this.fetchLoop !== undefined) return;
    this.fetchLoop = this.fetcher.run().catch((error: unknown) => {
      this.failure = error instanceof EddyError ? error : new EddyError(`Kafka source reader failed: ${describeError(error)}`, { cause: error });
      this.availability.notify();
    });
  }

  addSplits(splits: readonly KafkaPartitionSplit[]): void {
    for (const split of splits) {
      if (this.cursors.some((cursor) => cursor.splitId === split.splitId)) {
        throw new EddyError(`Kafka partition '${split.splitId}' was assigned twice to the same reader`);
      }
      const cursor = new PartitionCursor(split);
      this.cursors.push(cursor);
      this.cursorsById.set(split.splitId, cursor);
      this.finishedPositions.delete(split.splitId);
    }
    this.fetcher.wake();
    this.availability.notify();
  }

  notifyNoMoreSplits(): void {
    this.hasNoMoreSplits = true;
    this.availability.notify();
  }

  pollNext(output: ReaderOutput<unknown>): InputStatus {
    if (this.failure !== undefined) throw this.failure;
    if (this.pendingDeadLetter !== undefined && !this.completeDeadLetter(output)) return 'nothing-available';
    this.finishCompletedSplits(output);
    const count = this.cursors.length;
    for (let attempt = 0; attempt < count; attempt++) {
      const position = (this.turn + attempt) % count;
      const cursor = this.cursors[position]!;
      if (cursor.chunks.length === 0) continue;
      this.turn = position + 1;
      this.emitBatch(cursor, output);
      this.finishCompletedSplits(output);
      break;
    }
    if (this.bufferedRecords < this.settings.maxBufferedRecords) this.fetcher.wake();
    return this.status();
  }

  isAvailable(): Promise<void> {
    if (this.status() !== 'nothing-available') return Promise.resolve();
    return this.availability.wait();
  }

  describeLastRecord(splitId: string): string {
    const cursor = this.cursorsById.get(splitId);
    if (cursor === undefined || cursor.lastEmittedOffset < 0) return splitId;
    return `${splitId}@${cursor.lastEmittedOffset}`;
  }

  snapshotState(checkpointId: number): KafkaPartitionSplit[] {
    const splits: KafkaPartitionSplit[] = [];
    for (const cursor of this.cursors) {
      splits.push({
        splitId: cursor.splitId,
        topic: cursor.topic,
        partition: cursor.partition,
        nextOffset: cursor.position,
        stoppingOffset: cursor.stoppingOffset,
      });
    }
    if (this.settings.groupId !== undefined) {
      const offsets: PartitionFetchRequest[] = [...this.finishedPositions.values()];
      for (const split of splits) offsets.push({ topic: split.topic, partition: split.partition, offset: split.nextOffset });
      this.offsetsByCheckpoint.set(checkpointId, offsets);
    }
    return splits;
  }

  /** Commits the offsets of the newest checkpoint up to `checkpointId` (older ones are subsumed). */
  notifyCheckpointComplete(checkpointId: number): void {
    let newest: number | undefined;
    for (const id of this.offsetsByCheckpoint.keys()) {
      if (id <= checkpointId && (newest === undefined || id > newest)) newest = id;
    }
    if (newest === undefined) return;
    const offsets = this.offsetsByCheckpoint.get(newest)!;
    for (const id of [...this.offsetsByCheckpoint.keys()]) if (id <= checkpointId) this.offsetsByCheckpoint.delete(id);
    if (offsets.length === 0 || this.isClosed) return;
    this.nextCommit = offsets;
    this.committing ??= this.commitQueued().finally(() => {
      this.committing = undefined;
    });
  }

  /**
   * Per partition, the records between the position and the end of its committed input (last stable
   * offset, i.e. the high watermark unless a transaction is open) as of the partition's last fetch:
   * fetched but unemitted records count as lag. Partitions not fetched yet are left out.
   */
  splitLags(): SplitLag[] {
    const lags: SplitLag[] = [];
    for (const cursor of this.cursors) {
      if (cursor.endOffset >= 0) lags.push([cursor.splitId, Math.max(0, cursor.endOffset - cursor.position)]);
    }
    return lags;
  }

  /** Records fetched and not yet emitted: at most `maxBufferedRecords` plus one fetch response per broker. */
  get bufferedRecordCount(): number {
    return this.bufferedRecords;
  }

  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    this.fetcher.close();
    await this.committing;
    await this.client.close();
    await this.fetchLoop;
    await this.fetcher.settled();
    this.availability.notify();
  }

  // ---- FetchPlanner: called by the fetcher ----

  hasPartitions(): boolean {
    return this.cursors.length > 0;
  }

  topics(): string[] {
    return [...new Set(this.cursors.map((cursor) => cursor.topic))];
  }

  fetchTargets(): readonly FetchTarget[] {
    if (this.bufferedRecords >= this.settings.maxBufferedRecords) return [];
    return this.cursors.filter((cursor) => cursor.wantsFetch());
  }

  accept(target: FetchTarget, fetched: FetchedPartition): void {
    const cursor = target as PartitionCursor;
    if (!this.cursorsById.has(cursor.splitId) || this.isClosed) return;
    cursor.endOffset = fetched.endOffset;
    let records = fetched.records;
    let nextOffset = fetched.nextOffset;
    const stoppingOffset = cursor.stoppingOffset;
    if (stoppingOffset !== null && nextOffset > stoppingOffset) {
      nextOffset = stoppingOffset;
      let keep = records.length;
      while (keep > 0 && records[keep - 1]!.offset >= stoppingOffset) keep--;
      if (keep < records.length) records = records.slice(0, keep);
    }
    if (records.length === 0 && nextOffset <= cursor.fetchOffset) return;
    cursor.fetchOffset = nextOffset;
    cursor.chunks.push(new FetchedChunk(records, nextOffset));
    this.bufferedRecords += records.length;
    this.availability.notify();
  }

  skipTo(target: FetchTarget, offset: number, range: OffsetRange): void {
    const cursor = target as PartitionCursor;
    const to = cursor.stoppingOffset === null ? offset : Math.min(offset, cursor.stoppingOffset);
    const skipped = to > cursor.fetchOffset ? `${to - cursor.fetchOffset} offsets skipped` : 'records may be read again';
    this.settings.connection.log(
      `kafka source: offset ${cursor.fetchOffset} of ${cursor.splitId} is not in the log (earliest ${range.earliest}, end ${range.latest}; ` +
        `deleted by retention, or the topic was recreated): continuing at ${to}, ${skipped}`,
    );
    cursor.fetchOffset = to;
    cursor.chunks.push(new FetchedChunk([], to));
    this.availability.notify();
  }

  // ---- emitting ----

  /** What the next `pollNext` will do without waiting. */
  private status(): InputStatus {
    if (this.failure !== undefined) return 'more-available';
    const pending = this.pendingDeadLetter;
    if (pending !== undefined) return pending.outcome === 'pending' ? 'nothing-available' : 'more-available';
    if (this.cursors.length === 0) return this.hasNoMoreSplits ? 'end-of-input' : 'nothing-available';
    for (const cursor of this.cursors) if (cursor.chunks.length > 0 || cursor.isAtEnd()) return 'more-available';
    return 'nothing-available';
  }

  /** The hot path: up to MAX_RECORDS_PER_BATCH records of `cursor`; the position moves before each emit. */
  private emitBatch(cursor: PartitionCursor, output: ReaderOutput<unknown>): void {
    const splitId = cursor.splitId;
    const chunks = cursor.chunks;
    let emitted = 0;
    while (emitted < MAX_RECORDS_PER_BATCH) {
      const chunk = chunks[0];
      if (chunk === undefined) return;
      const records = chunk.records;
      if (chunk.index >= records.length) {
        if (chunk.nextOffset > cursor.position) cursor.position = chunk.nextOffset;
        chunks.shift();
        continue;
      }
      const record = records[chunk.index]!;
      const value = this.decode(cursor, record);
      if (value === POISON) {
        if (!this.handlePoisonRecord(cursor, chunk, record, output)) return;
      } else {
        chunk.index++;
        this.bufferedRecords--;
        cursor.position = record.offset + 1;
        cursor.lastEmittedOffset = record.offset;
        output.collect(splitId, value, record.timestampMs);
      }
      emitted++;
    }
  }

  /** The record as the job sees it, or POISON with the reason in `poisonMessage`. */
  private decode(cursor: PartitionCursor, record: FetchedRecord): unknown {
    const bytes = record.value;
    if (bytes === null) {
      this.poisonMessage = 'the record has no value (null: a tombstone)';
      return POISON;
    }
    let value: unknown;
    try {
      value = this.settings.value.deserialize(bytes);
    } catch (error) {
      this.poisonMessage = `${this.settings.value.name} value: ${describeError(error)}`;
      return POISON;
    }
    if (!this.settings.withMetadata) return value;
    let key: unknown = null;
    if (record.key !== null) {
      try {
        key = this.settings.key.deserialize(record.key);
      } catch (error) {
        this.poisonMessage = `${this.settings.key.name} key: ${describeError(error)}`;
        return POISON;
      }
    }
    const metadata: KafkaRecord<unknown, unknown> = {
      key,
      value,
      headers: decodeHeaders(record.headers),
      topic: cursor.topic,
      partition: cursor.partition,
      offset: record.offset,
      timestamp: record.timestampMs,
    };
    return metadata;
  }

  /**
   * Applies the poison-record policy to `record`, the next record of `chunk`. Returns false when the
   * batch must stop here: the record is being dead-lettered, and is consumed once that write is
   * acknowledged (so no checkpoint can record a position past a record not yet in the dead-letter topic).
   */
  private handlePoisonRecord(
    cursor: PartitionCursor,
    chunk: FetchedChunk,
    record: FetchedRecord,
    output: ReaderOutput<unknown>,
  ): boolean {
    const policy = this.settings.onPoisonRecord;
    const location = `${cursor.splitId}@${record.offset}`;
    const message = this.poisonMessage;
    if (policy === 'fail') throw new BadRecordError(message, location);
    if (typeof policy === 'object') {
      this.startDeadLetter(cursor, record, policy.deadLetterTopic, message);
      return false;
    }
    this.consume(cursor, chunk, record);
    if (policy === 'skip') output.countBadRecord?.(cursor.splitId, 'skipped');
    else output.reportBadRecord(cursor.splitId, location, message, describeRaw(record.value));
    return true;
  }

  private consume(cursor: PartitionCursor, chunk: FetchedChunk, record: FetchedRecord): void {
    chunk.index++;
    this.bufferedRecords--;
    cursor.position = record.offset + 1;
    cursor.lastEmittedOffset = record.offset;
  }

  private startDeadLetter(cursor: PartitionCursor, record: FetchedRecord, topic: string, message: string): void {
    const pending: PendingDeadLetter = { cursor, record, outcome: 'pending' };
    this.pendingDeadLetter = pending;
    const headers = {
      ...record.headers,
      'eddy-error': message,
      'eddy-source-topic': cursor.topic,
      'eddy-source-partition': String(cursor.partition),
      'eddy-source-offset': String(record.offset),
    };
    this.client.produce(topic, { key: record.key, value: record.value, headers, timestampMs: record.timestampMs }).then(
      () => {
        pending.outcome = 'written';
        this.availability.notify();
      },
      (error: unknown) => {
        pending.outcome = new EddyError(
          `could not write poison record ${cursor.splitId}@${record.offset} to the dead-letter topic '${topic}' (onPoisonRecord.deadLetterTopic): ${describeError(error)}`,
          { domain: 'external', isRetriable: true, cause: error },
        );
        this.availability.notify();
      },
    );
  }

  /** Consumes the dead-lettered record once its write is acknowledged; false while it is not. */
  private completeDeadLetter(output: ReaderOutput<unknown>): boolean {
    const pending = this.pendingDeadLetter!;
    if (pending.outcome === 'pending') return false;
    if (pending.outcome instanceof EddyError) throw pending.outcome;
    this.pendingDeadLetter = undefined;
    const chunk = pending.cursor.chunks[0]!;
    this.consume(pending.cursor, chunk, pending.record);
    output.countBadRecord?.(pending.cursor.splitId, 'dead-lettered');
    return true;
  }

  private finishCompletedSplits(output: ReaderOutput<unknown>): void {
    for (let position = 0; position < this.cursors.length; ) {
      const cursor = this.cursors[position]!;
      if (!cursor.isAtEnd()) {
        position++;
        continue;
      }
      this.cursors.splice(position, 1);
      if (this.turn > position) this.turn--;
      this.finishedPositions.set(cursor.splitId, { topic: cursor.topic, partition: cursor.partition, offset: cursor.position });
      output.finishSplit(cursor.splitId);
    }
  }

  /** Commits the newest queued offsets, one commit at a time, until none is queued. */
  private async commitQueued(): Promise<void> {
    const groupId = this.settings.groupId!;
    for (let offsets = this.nextCommit; offsets !== undefined; offsets = this.nextCommit) {
      this.nextCommit = undefined;
      try {
        await this.client.commitOffsets(groupId, offsets);
      } catch (error) {
        this.failedCommits++;
        this.settings.connection.log(
          `kafka source: committing offsets to group '${groupId}' failed (${this.failedCommits} so far; lag monitoring only, ` +
            `the job is unaffected): ${describeError(error)}`,
        );
      }
    }
  }
}

/** Header values as UTF-8 strings. */
function decodeHeaders(headers: FetchedRecord['headers']): Record<string, string | string[]> {
  const decoded: Record<string, string | string[]> = {};
  for (const name of Object.keys(headers)) {
    const value = headers[name];
    if (value === undefined) continue;
    decoded[name] = Array.isArray(value) ? value.map((entry) => entry.toString()) : value.toString();
  }
  return decoded;
}

/** A record's value for a bad-record report: UTF-8 text as is, other bytes as `base64:…`. */
function describeRaw(value: Buffer | null): string {
  if (value === null) return '';
  return isUtf8(value) ? value.toString('utf8') : `base64:${value.toString('base64')}`;
}

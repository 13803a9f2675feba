/**
 * The source SPI (Flink's FLIP-27 vocabulary). A source is split into *splits* (a file, a Kafka
 * partition, a generator's share of a sequence). A {@link SplitEnumerator} on the job manager discovers
 * splits and assigns them to subtasks; a {@link SourceReader} in each source subtask reads its splits and
 * emits records. A split is plain, msgpack-safe data that includes its current position, so the
 * reader's snapshot is simply its splits at the position after the last emitted record.
 *
 * The runtime's source operator wraps the reader: it assigns timestamps, runs one watermark generator
 * per split, forwards the minimum over active splits, handles bad records by the job's policy and
 * declares the subtask idle when it has no split.
 */

/** A bounded source ends (files, a generator with a count); an unbounded one runs until cancelled. */
export type Boundedness = 'bounded' | 'unbounded';

/** A split: plain data with a stable id, including the position to resume from. */
export interface SourceSplit {
  readonly splitId: string;
}

/**
 * A source: plain configuration shared by the graph. It creates one enumerator per job and one reader per
 * source subtask.
 */
export interface Source<T, Split extends SourceSplit = SourceSplit> {
  readonly boundedness: Boundedness;
  /**
   * When watermarks are emitted. `per-batch`: after every poll (at most 1,000 records per split
   * apart), at points decided by the records alone — files and generators, so that the same input gives
   * the same output. `periodic`: on a processing-time tick as well — unbounded external sources.
   */
  readonly watermarkEmission: 'per-batch' | 'periodic';
  /** Runs on the job manager. `restoredSplits` are the unassigned splits of a restored checkpoint. */
  createEnumerator(context: SplitEnumeratorContext<Split>, restored?: EnumeratorCheckpoint<Split>): SplitEnumerator<Split>;
  /** Runs in each source subtask. */
  createReader(context: SourceReaderContext): SourceReader<T, Split>;
  /** A short description for the plan and errors, e.g. `file(orders.jsonl)`. */
  describe(): string;
}

/**
 * The enumerator's part of a checkpoint: splits not yet assigned, plus any source-specific state (plain
 * data).
 */
export interface EnumeratorCheckpoint<Split> {
  readonly unassigned: readonly Split[];
  readonly state?: unknown;
}

/**
 * What the runtime gives an enumerator: the source's parallelism and the means to assign splits to subtasks.
 */
export interface SplitEnumeratorContext<Split> {
  readonly parallelism: number;
  assignSplits(subtask: number, splits: readonly Split[]): void;
  /** Tells the subtask's reader it will get no further split. */
  signalNoMoreSplits(subtask: number): void;
}

/** Discovers splits and assigns them to reader subtasks. Runs on the job manager. */
export interface SplitEnumerator<Split> {
  /** Discovers the initial splits and assigns them (or waits for requests). */
  start(): Promise<void>;
  /** A reader of `subtask` registered (also after a restart). */
  addReader(subtask: number): void;
  /** Splits handed back by a failed reader, to be reassigned. */
  addSplitsBack(splits: readonly Split[], subtask: number): void;
  /** A reader asks for more work (pull-based assignment). */
  handleSplitRequest(subtask: number): void;
  snapshotState(checkpointId: number): EnumeratorCheckpoint<Split>;
  close(): Promise<void>;
}

/** What the runtime gives a reader: which subtask it is and a channel to its enumerator. */
export interface SourceReaderContext {
  readonly subtask: number;
  readonly parallelism: number;
  readonly operatorUid: string;
  /** Asks the enumerator for a split (pull-based sources). */
  sendSplitRequest(): void;
}

/** What {@link SourceReader.pollNext} returns: call again now, wait for `isAvailable`, or stop. */
export type InputStatus = 'more-available' | 'nothing-available' | 'end-of-input';

/** What a reader emits into. Synchronous. */
export interface ReaderOutput<T> {
  /**
   * Emits a record of split `splitId`. `sourceTimestampMs` is the timestamp the external system
   * carries (a Kafka record's timestamp), or NaN; the job's timestamp assigner may use it.
   */
  collect(splitId: string, value: T, sourceTimestampMs: number): void;
  /**
   * A record that could not be read (malformed line, schema failure). `location` names where it is
   * (`orders.jsonl:17`); `raw` is the input as read. The operator fails, skips or dead-letters it by
   * the job's policy; nothing is dropped silently.
   */
  reportBadRecord(splitId: string, location: string, message: string, raw: string): void;
  /** The split has no more records: it stops holding back the watermark. */
  finishSplit(splitId: string): void;
  /**
   * A bad record the reader already handled by a policy of its own (a Kafka source's `skip` or
   * dead-letter topic), so that it is counted like the job's policy counts bad records and shows in
   * the summary. Optional: outputs that count nothing may leave it out.
   */
  countBadRecord?(splitId: string, disposition: 'skipped' | 'dead-lettered'): void;
}

/** How far a split is behind the end of its input, in records (Kafka: end offset − next offset). */
export type SplitLag = readonly [splitId: string, lagRecords: number];

/**
 * Reads the splits assigned to one source subtask. Called only from its task, one call at a time; `pollNext`
 * is synchronous and never blocks.
 */
export interface SourceReader<T, Split extends SourceSplit> {
  start(): Promise<void>;
  addSplits(splits: readonly Split[]): void;
  notifyNoMoreSplits(): void;
  /**
   * Emits the next batch (≤ 1,000 records, all from one split; for `per-batch` sources the batch
   * boundaries must depend on the data alone) and returns what comes next. Never blocks: returns
   * `nothing-available` and resolves {@link isAvailable} later. `end-of-input` only after
   * `notifyNoMoreSplits` and every split finished.
   */
  pollNext(output: ReaderOutput<T>): InputStatus;
  /** Resolves when `pollNext` may make progress. */
  isAvailable(): Promise<void>;
  /** Where the record last emitted for `splitId` came from (`orders.jsonl:17`), for error messages. */
  describeLastRecord(splitId: string): string;
  /** The assigned, unfinished splits at the position after the last emitted record. */
  snapshotState(checkpointId: number): Split[];
  notifyCheckpointComplete?(checkpointId: number): void;
  /**
   * The lag of each assigned split as last observed, for the progress line. Optional: sources that
   * cannot tell how much input is left (files, generators) leave it out. Called off the hot path, about
   * once a second.
   */
  splitLags?(): readonly SplitLag[];
  close(): Promise<void>;
}

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type {
  InputStatus,
  ReaderOutput,
  SourceReader,
  SourceSplit,
  SplitEnumeratorContext,
} from '../../src/connector/source.ts';

/** Everything a reader emitted, in order. */
export type ReaderEvent<T> =
  | { readonly kind: 'record'; readonly splitId: string; readonly value: T }
  | { readonly kind: 'bad'; readonly splitId: string; readonly location: string; readonly message: string; readonly raw: string }
  | { readonly kind: 'finish'; readonly splitId: string };

/** A ReaderOutput that records every call; `batches` holds the record count of each poll that emitted. */
export class RecordingOutput<T> implements ReaderOutput<T> {
  readonly events: ReaderEvent<T>[] = [];

  collect(splitId: string, value: T, _sourceTimestampMs: number): void {
    this.events.push({ kind: 'record', splitId, value });
  }

  reportBadRecord(splitId: string, location: string, message: string, raw: string): void {
    this.events.push({ kind: 'bad', splitId, location, message, raw });
  }

  finishSplit(splitId: string): void {
    this.events.push({ kind: 'finish', splitId });
  }

  values(): T[] {
    const values: T[] = [];
    for (const event of this.events) if (event.kind === 'record') values.push(event.value);
    return values;
  }

  bad(): Extract<ReaderEvent<T>, { kind: 'bad' }>[] {
    return this.events.filter((event): event is Extract<ReaderEvent<T>, { kind: 'bad' }> => event.kind === 'bad');
  }

  finished(): string[] {
    const ids: string[] = [];
    for (const event of this.events) if (event.kind === 'finish') ids.push(event.splitId);
    return ids;
  }
}

/** One poll that emitted something: how many records and bad records, and from which split. */
export interface PolledBatch {
  readonly splitIds: readonly string[];
  readonly records: number;
  readonly badRecords: number;
}

/**
 * Polls until `end-of-input` (or until `maxBatches` batches were emitted), awaiting `isAvailable()`
 * whenever the reader has nothing. Returns one entry per emitting poll.
 */
export async function pollBatches<T>(
  reader: SourceReader<T, SourceSplit>,
  output: RecordingOutput<T>,
  maxBatches = Number.POSITIVE_INFINITY,
): Promise<{ batches: PolledBatch[]; status: InputStatus }> {
  const batches: PolledBatch[] = [];
  let status: InputStatus = 'more-available';
  let idlePolls = 0;
  while (batches.length < maxBatches) {
    const before = output.events.length;
    status = reader.pollNext(output);
    const emitted = output.events.slice(before).filter((event) => event.kind !== 'finish');
    if (emitted.length > 0) {
      idlePolls = 0;
      batches.push({
        splitIds: [...new Set(emitted.map((event) => event.splitId))],
        records: emitted.filter((event) => event.kind === 'record').length,
        badRecords: emitted.filter((event) => event.kind === 'bad').length,
      });
    }
    if (status === 'end-of-input') break;
    if (status === 'nothing-available') {
      if (++idlePolls > 100_000) throw new Error('reader made no progress');
      await reader.isAvailable();
    }
  }
  return { batches, status };
}

/** An enumerator context that records assignments and no-more-splits signals. */
export class RecordingEnumeratorContext<Split> implements SplitEnumeratorContext<Split> {
  readonly parallelism: number;
  readonly assignments = new Map<number, Split[]>();
  readonly noMoreSplits: number[] = [];
  readonly log: string[] = [];

  constructor(parallelism: number) {
    this.parallelism = parallelism;
  }

  assignSplits(subtask: number, splits: readonly Split[]): void {
    const list = this.assignments.get(subtask) ?? [];
    list.push(...splits);
    this.assignments.set(subtask, list);
    this.log.push(`assign ${subtask}`);
  }

  signalNoMoreSplits(subtask: number): void {
    this.noMoreSplits.push(subtask);
    this.log.push(`no-more ${subtask}`);
  }

  splitsOf(subtask: number): Split[] {
    return this.assignments.get(subtask) ?? [];
  }
}

export function readerContext(subtask: number, parallelism: number) {
  return { subtask, parallelism, operatorUid: 'test-source', sendSplitRequest: () => undefined };
}

/** A fresh directory under the OS temp dir; `cleanup` removes it. */
export async function makeTempDir(label: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `eddy-${label}-`));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

import type { InputStatus, ReaderOutput, Source, SourceReader, SourceSplit, SplitEnumerator, SplitEnumeratorContext } from '../../src/connector/source.ts';
import type { ChainingStrategy, Partitioning, StreamEdge, StreamGraph, StreamNode } from '../../src/graph/stream-graph.ts';
import { OperatorBase } from '../../src/operators/operator-base.ts';
import type { StreamOperator } from '../../src/operators/operator.ts';
import { WatermarkStrategy } from '../../src/time/watermark-strategy.ts';

/**
 * Hand-built graphs and small test connectors for the runtime tests: a list source (one split per
 * list, assigned round-robin in the enumerator's first round), map/filter/keyed-count operators and a
 * collecting sink that records values and watermarks in a shared registry.
 */

export interface ListSplit extends SourceSplit {
  readonly values: readonly unknown[];
  position: number;
}

export interface ListSourceOptions {
  readonly recordsPerPoll?: number;
  /** Emission of `per-batch` (default) or `periodic`. */
  readonly watermarkEmission?: 'per-batch' | 'periodic';
  /** Counts records emitted by all readers (same thread only). */
  readonly counter?: { emitted: number; polls: number };
  /** Values for which the reader reports a bad record instead. */
  readonly isBad?: (value: unknown) => boolean;
}

export function listSource(splits: readonly (readonly unknown[])[], options: ListSourceOptions = {}): Source<unknown, ListSplit> {
  const recordsPerPoll = options.recordsPerPoll ?? 100;
  return {
    boundedness: 'bounded',
    watermarkEmission: options.watermarkEmission ?? 'per-batch',
    describe: () => `list(${splits.length} splits)`,
    createEnumerator: (context: SplitEnumeratorContext<ListSplit>): SplitEnumerator<ListSplit> => ({
      start: async () => {
        for (let s = 0; s < context.parallelism; s++) {
          const mine: ListSplit[] = [];
          splits.forEach((values, i) => {
            if (i % context.parallelism === s) mine.push({ splitId: `split-${i}`, values, position: 0 });
          });
          if (mine.length > 0) context.assignSplits(s, mine);
          context.signalNoMoreSplits(s);
        }
      },
      addReader: () => {},
      addSplitsBack: () => {},
      handleSplitRequest: () => {},
      snapshotState: () => ({ unassigned: [] }),
      close: async () => {},
    }),
    createReader: (): SourceReader<unknown, ListSplit> => new ListReader(recordsPerPoll, options),
  };
}

class ListReader implements SourceReader<unknown, ListSplit> {
  private readonly splits: ListSplit[] = [];
  private hasNoMoreSplits = false;
  private wakeUp: (() => void) | undefined;

  constructor(
    private readonly recordsPerPoll: number,
    private readonly options: ListSourceOptions,
  ) {}

  async start(): Promise<void> {}

  addSplits(splits: readonly ListSplit[]): void {
    for (const split of splits) this.splits.push({ ...split });
    this.signal();
  }

  notifyNoMoreSplits(): void {
    this.hasNoMoreSplits = true;
    this.signal();
  }

  pollNext(output: ReaderOutput<unknown>): InputStatus {
    if (this.options.counter !== undefined) this.options.counter.polls++;
    const split = this.splits[0];
    if (split === undefined) return this.hasNoMoreSplits ? 'end-of-input' : 'nothing-available';
    const end = Math.min(split.values.length, split.position + this.recordsPerPoll);
    for (; split.position < end; split.position++) {
      const value = split.values[split.position];
      if (this.options.isBad?.(value) === true) {
        output.reportBadRecord(split.splitId, `${split.splitId}:${split.position + 1}`, 'not a record', JSON.stringify(value));
        continue;
      }
      if (this.options.counter !== undefined) this.options.counter.emitted++;
      output.collect(split.splitId, value, Number.NaN);
    }
    if (split.position >= split.values.length) {
      output.finishSplit(split.splitId);
      this.splits.shift();
    }
    if (this.splits.length > 0) return 'more-available';
    return this.hasNoMoreSplits ? 'end-of-input' : 'nothing-available';
  }

  isAvailable(): Promise<void> {
    return new Promise((resolve) => {
      this.wakeUp = resolve;
    });
  }

  describeLastRecord(splitId: string): string {
    const split = this.splits.find((s) => s.splitId === splitId);
    // Called while the record at `position` is being emitted: its 1-based line is position + 1.
    return `${splitId}:${split === undefined ? '?' : split.position + 1}`;
  }

  snapshotState(): ListSplit[] {
    return this.splits.map((split) => ({ ...split }));
  }

  async close(): Promise<void> {}

  private signal(): void {
    const wake = this.wakeUp;
    this.wakeUp = undefined;
    wake?.();
  }
}

export interface Event {
  readonly key: string;
  readonly ts: number;
  readonly n: number;
}

export const eventTime = WatermarkStrategy.forMonotonousTimestamps<unknown>().withTimestampAssigner(
  (event) => (event as Event).ts,
);

/** What a collecting sink saw, by sink uid. */
export interface Collected {
  readonly values: unknown[];
  readonly timestamps: number[];
  /** Watermarks in arrival order, per subtask. */
  readonly watermarks: Map<number, number[]>;
  /** Watermark statuses per subtask. */
  readonly statuses: Map<number, boolean[]>;
  readonly endedSubtasks: number[];
}

export const collected = new Map<string, Collected>();

export function resetCollected(): void {
  collected.clear();
}

export class CollectOperator extends OperatorBase<never> {
  private sink!: Collected;

  override open(): void {
    let sink = collected.get(this.context.uid);
    if (sink === undefined) {
      sink = { values: [], timestamps: [], watermarks: new Map(), statuses: new Map(), endedSubtasks: [] };
      collected.set(this.context.uid, sink);
    }
    this.sink = sink;
    sink.watermarks.set(this.context.subtask, []);
    sink.statuses.set(this.context.subtask, []);
  }

  processRecord(value: unknown, timestampMs: number): void {
    this.metrics.recordsIn++;
    this.sink.values.push(value);
    this.sink.timestamps.push(timestampMs);
  }

  override processWatermark(watermarkMs: number, input: number): void {
    this.sink.watermarks.get(this.context.subtask)!.push(watermarkMs);
    super.processWatermark(watermarkMs, input);
  }

  override processWatermarkStatus(isIdle: boolean, input: number): void {
    this.sink.statuses.get(this.context.subtask)!.push(isIdle);
    super.processWatermarkStatus(isIdle, input);
  }

  override finish(): void {
    this.sink.endedSubtasks.push(this.context.subtask);
  }
}

export class MapTestOperator extends OperatorBase<unknown> {
  constructor(private readonly fn: (value: unknown) => unknown) {
    super(1, false);
  }

  processRecord(value: unknown, timestampMs: number): void {
    this.metrics.recordsIn++;
    this.metrics.recordsOut++;
    this.output.collect(this.fn(value), timestampMs);
  }
}

/** Counts records per key (plain map: no state backend needed), emits `{key, count}` at end of input. */
export class KeyedCountOperator extends OperatorBase<unknown> {
  private readonly counts = new Map<string, number>();

  constructor(private readonly keyOf: (value: unknown) => string) {
    super(1, false);
  }

  processRecord(value: unknown): void {
    this.metrics.recordsIn++;
    const key = this.keyOf(value);
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  override finish(): void {
    for (const [key, count] of this.counts) {
      this.metrics.recordsOut++;
      this.output.collect({ key, count, subtask: this.context.subtask }, Number.NaN);
    }
  }
}

export interface NodeOptions {
  readonly uid?: string;
  readonly parallelism?: number;
  readonly isStateful?: boolean;
  readonly numInputs?: number;
  readonly chainingStrategy?: ChainingStrategy;
  readonly isSink?: boolean;
  readonly maxParallelism?: number;
}

/** Builds StreamGraph data by hand, as the DataStream API would. */
export class GraphBuilder {
  readonly nodes: StreamNode[] = [];
  readonly edges: StreamEdge[] = [];

  source(name: string, source: Source<unknown, SourceSplit>, options: NodeOptions & { strategy?: WatermarkStrategy<unknown> } = {}): number {
    return this.add(name, 'source', undefined, { uid: name, isStateful: true, numInputs: 0, ...options }, {
      source,
      watermarkStrategy: options.strategy ?? eventTime,
    });
  }

  operator(name: string, kind: string, create: () => StreamOperator<unknown>, options: NodeOptions = {}): number {
    return this.add(name, kind, create, options, undefined);
  }

  sink(name: string, options: NodeOptions = {}): number {
    return this.add(name, 'sink', () => new CollectOperator(), { uid: name, isStateful: true, isSink: true, ...options }, undefined);
  }

  edge(from: number, to: number, partitioning: Partitioning = { kind: 'forward' }, targetInput = 0, sideOutputTagId?: string): this {
    this.edges.push({ sourceId: from, targetId: to, targetInput, partitioning, sideOutputTagId });
    return this;
  }

  build(defaultParallelism = 1, maxParallelism = 128, jobName = 'test-job'): StreamGraph {
    return { jobName, defaultParallelism, maxParallelism, nodes: this.nodes, edges: this.edges };
  }

  private add(
    name: string,
    kind: string,
    create: (() => StreamOperator<unknown>) | undefined,
    options: NodeOptions,
    source: StreamNode['source'],
  ): number {
    const id = this.nodes.length + 1;
    this.nodes.push({
      id,
      uid: options.uid ?? `auto-${kind}-${id}`,
      hasUserUid: options.uid !== undefined,
      name,
      kind,
      parallelism: options.parallelism,
      maxParallelism: options.maxParallelism,
      isStateful: options.isStateful ?? false,
      numInputs: options.numInputs ?? 1,
      chainingStrategy: options.chainingStrategy ?? 'always',
      createOperator: create,
      source,
      isSink: options.isSink ?? false,
    });
    return id;
  }
}

export function hashBy(keyOf: (value: unknown) => unknown): Partitioning {
  return { kind: 'hash', keySelector: keyOf };
}

export function events(count: number, keys: number, startTs = 0): Event[] {
  const result: Event[] = [];
  for (let i = 0; i < count; i++) result.push({ key: `k${i % keys}`, ts: startTs + i, n: i });
  return result;
}

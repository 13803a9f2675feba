import type { EnumeratorCheckpoint, SourceSplit, SplitEnumerator } from '../connector/source.ts';
import { EddyError } from '../core/errors.ts';
import type { ExecutionPlan } from '../graph/plan.ts';
import { attributeError } from './operator-chain.ts';
import type { SplitMail } from './task.ts';

/** Delivers split mail to a source subtask, wherever it runs. */
export type SplitMailRoute = (vertexId: number, subtask: number, mail: SplitMail) => void;

interface EnumeratorEntry {
  readonly vertexId: number;
  readonly uid: string;
  readonly enumerator: SplitEnumerator<SourceSplit>;
  isStarted: boolean;
  /** Reader registrations and split requests that arrived before `start` finished. */
  readonly backlog: Array<() => void>;
}

/**
 * The split enumerators of a job, on the job manager (the main thread): one per source vertex. Readers
 * reach them through the control path (registration, split requests); assignments go back as split
 * mail. Once an enumerator's `start` (its first assignment round) is done, every subtask of its source
 * hears so: a subtask that got nothing is idle rather than holding the watermark back.
 */
export class SplitCoordinator {
  private readonly entries = new Map<number, EnumeratorEntry>();

  /** `restored`: the enumerator checkpoints of a restored checkpoint, by source uid. */
  constructor(
    plan: ExecutionPlan,
    private readonly route: SplitMailRoute,
    restored: ReadonlyMap<string, EnumeratorCheckpoint<SourceSplit>> = new Map(),
  ) {
    for (const vertex of plan.vertices) {
      const node = plan.nodes.get(vertex.id)!.node;
      if (node.source === undefined) continue;
      const vertexId = vertex.id;
      const enumerator = node.source.source.createEnumerator({
        parallelism: vertex.parallelism,
        assignSplits: (subtask, splits) => this.route(vertexId, subtask, { kind: 'add-splits', splits: [...splits] }),
        signalNoMoreSplits: (subtask) => this.route(vertexId, subtask, { kind: 'no-more-splits' }),
      }, restored.get(node.uid));
      this.entries.set(vertexId, { vertexId, uid: node.uid, enumerator, isStarted: false, backlog: [] });
    }
  }

  /** Starts every enumerator; rejects with the first failure, attributed to its source. */
  async start(parallelismOf: (vertexId: number) => number): Promise<void> {
    await Promise.all(
      [...this.entries.values()].map(async (entry) => {
        try {
          await entry.enumerator.start();
        } catch (error) {
          throw attributeError(error, entry.uid, 0);
        }
        entry.isStarted = true;
        for (let subtask = 0; subtask < parallelismOf(entry.vertexId); subtask++) {
          this.route(entry.vertexId, subtask, { kind: 'assignment-round-done' });
        }
        for (const action of entry.backlog.splice(0)) this.call(entry, action);
      }),
    );
  }

  registerReader(vertexId: number, subtask: number): void {
    const entry = this.entry(vertexId);
    this.whenStarted(entry, () => entry.enumerator.addReader(subtask));
  }

  requestSplit(vertexId: number, subtask: number): void {
    const entry = this.entry(vertexId);
    this.whenStarted(entry, () => entry.enumerator.handleSplitRequest(subtask));
  }

  /**
   * Captures every enumerator's state for checkpoint `checkpointId` (synchronously, before the trigger
   * reaches any source, so that a split is either unassigned here or in a reader's snapshot).
   */
  snapshotEnumerators(checkpointId: number): Array<{ readonly uid: string; readonly state: EnumeratorCheckpoint<SourceSplit> }> {
    const result: Array<{ readonly uid: string; readonly state: EnumeratorCheckpoint<SourceSplit> }> = [];
    for (const entry of this.entries.values()) {
      let state: EnumeratorCheckpoint<SourceSplit>;
      try {
        state = entry.enumerator.snapshotState(checkpointId);
      } catch (error) {
        throw attributeError(error, entry.uid, 0);
      }
      result.push({ uid: entry.uid, state });
    }
    return result;
  }

  /** Closes every enumerator; resolves even if some fail (the first failure is returned). */
  async close(): Promise<EddyError | undefined> {
    let firstError: EddyError | undefined;
    for (const entry of this.entries.values()) {
      try {
        await entry.enumerator.close();
      } catch (error) {
        firstError ??= attributeError(error, entry.uid, 0);
      }
    }
    return firstError;
  }

  private whenStarted(entry: EnumeratorEntry, action: () => void): void {
    if (entry.isStarted) this.call(entry, action);
    else entry.backlog.push(action);
  }

  private call(entry: EnumeratorEntry, action: () => void): void {
    try {
      action();
    } catch (error) {
      throw attributeError(error, entry.uid, 0);
    }
  }

  private entry(vertexId: number): EnumeratorEntry {
    const entry = this.entries.get(vertexId);
    if (entry === undefined) throw new EddyError(`vertex ${vertexId} has no split enumerator`);
    return entry;
  }
}

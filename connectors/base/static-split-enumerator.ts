import type {
  EnumeratorCheckpoint,
  SourceSplit,
  SplitEnumerator,
  SplitEnumeratorContext,
} from '../../src/connector/source.ts';

/** What a static enumerator keeps in its checkpoint besides the unassigned splits. */
interface StaticEnumeratorState {
  readonly isDiscovered: boolean;
}

function isStaticEnumeratorState(value: unknown): value is StaticEnumeratorState {
  return typeof value === 'object' && value !== null && (value as { isDiscovered?: unknown }).isDiscovered === true;
}

/**
 * Assigns a fixed set of splits once, at start: split i (in discovery order) goes to subtask
 * i mod parallelism, then every subtask is told that no more splits will come. Used by sources whose
 * splits are known up front (files, generators).
 *
 * After a failure, splits handed back by a reader wait for that subtask's reader to register again and
 * are reassigned to it. Restored from a checkpoint taken after discovery, the enumerator does not
 * discover again: the readers' own state holds the assigned splits, and only the checkpoint's
 * unassigned splits are dealt out (round-robin over the new parallelism).
 */
export class StaticSplitEnumerator<Split extends SourceSplit> implements SplitEnumerator<Split> {
  private readonly context: SplitEnumeratorContext<Split>;
  private readonly discover: () => Promise<readonly Split[]>;
  private readonly restored: EnumeratorCheckpoint<Split> | undefined;
  /** Splits handed back by failed readers, by subtask, until that subtask's reader registers again. */
  private readonly returnedSplits = new Map<number, Split[]>();
  private isDiscovered = false;

  constructor(
    context: SplitEnumeratorContext<Split>,
    discover: () => Promise<readonly Split[]>,
    restored?: EnumeratorCheckpoint<Split>,
  ) {
    this.context = context;
    this.discover = discover;
    this.restored = restored;
  }

  async start(): Promise<void> {
    const restored = this.restored;
    const splits =
      restored !== undefined && isStaticEnumeratorState(restored.state) ? restored.unassigned : await this.discover();
    const parallelism = this.context.parallelism;
    const bySubtask: Split[][] = [];
    for (let subtask = 0; subtask < parallelism; subtask++) bySubtask.push([]);
    for (let i = 0; i < splits.length; i++) bySubtask[i % parallelism]!.push(splits[i]!);
    this.isDiscovered = true;
    for (let subtask = 0; subtask < parallelism; subtask++) {
      const assigned = bySubtask[subtask]!;
      if (assigned.length > 0) this.context.assignSplits(subtask, assigned);
    }
    for (let subtask = 0; subtask < parallelism; subtask++) this.context.signalNoMoreSplits(subtask);
  }

  addReader(subtask: number): void {
    // Before discovery finished, start() will assign and signal; signalling now would end the reader.
    if (!this.isDiscovered) return;
    const returned = this.returnedSplits.get(subtask);
    if (returned !== undefined) {
      this.returnedSplits.delete(subtask);
      this.context.assignSplits(subtask, returned);
    }
    this.context.signalNoMoreSplits(subtask);
  }

  addSplitsBack(splits: readonly Split[], subtask: number): void {
    if (splits.length === 0) return;
    const returned = this.returnedSplits.get(subtask);
    if (returned === undefined) this.returnedSplits.set(subtask, [...splits]);
    else returned.push(...splits);
  }

  handleSplitRequest(): void {
    // Static assignment: every split was assigned at start.
  }

  snapshotState(): EnumeratorCheckpoint<Split> {
    const unassigned: Split[] = [];
    const subtasks = [...this.returnedSplits.keys()].sort((a, b) => a - b);
    for (const subtask of subtasks) unassigned.push(...this.returnedSplits.get(subtask)!);
    const state: StaticEnumeratorState = { isDiscovered: this.isDiscovered };
    return { unassigned, state };
  }

  async close(): Promise<void> {
    // Nothing to release.
  }
}

import { EddyError } from '../core/errors.ts';
import type { ListState } from '../state/state.ts';
import type { NamespaceCodec } from '../state/keyed-state-backend.ts';
import type { MergingWindowAssigner } from './window-assigner.ts';
import type { Window } from './window.ts';

/**
 * Called when windows merge: `mergeResult` replaces `mergedWindows` (the pre-existing windows taking
 * part; never the new window). The contents state of `mergedStateWindows` must be merged into
 * `stateWindowResult`, which keeps its state namespace.
 */
export type MergeFunction<W> = (
  mergeResult: W,
  mergedWindows: readonly W[],
  stateWindowResult: W,
  mergedStateWindows: readonly W[],
) => void;

/**
 * The in-flight windows of one key of a merging assigner (Flink's MergingWindowSet), each mapped to its
 * *state window*: the namespace its contents are stored under. When windows merge, the result takes
 * over the state window of one of them, so merging moves the state of the others only, not all of it.
 *
 * Invariants: no two windows in the set merge with each other; every window maps to a state window
 * that is one of the windows it was merged from. The mapping lives in keyed list state (per key,
 * void namespace) as `[window, stateWindow]` pairs of plain namespaces: build a set per record or
 * timer, and call {@link persist} before leaving the key, so it is snapshotted with the rest.
 */
export class MergingWindowSet<W extends Window> {
  /** window id ▶ [window, state window], in insertion order. */
  private readonly mapping = new Map<string | number, [window: W, stateWindow: W]>();
  private isDirty = false;

  constructor(
    private readonly assigner: MergingWindowAssigner<unknown, W>,
    private readonly codec: NamespaceCodec<W>,
    private readonly state: ListState<readonly [unknown, unknown]>,
  ) {
    for (const [plainWindow, plainStateWindow] of state.get()) {
      const window = codec.fromPlain(plainWindow);
      this.mapping.set(codec.idOf(window), [window, codec.fromPlain(plainStateWindow)]);
    }
  }

  /** Writes the mapping back to state if it changed. */
  persist(): void {
    if (!this.isDirty) return;
    if (this.mapping.size === 0) {
      this.state.clear();
    } else {
      const pairs: Array<readonly [unknown, unknown]> = [];
      for (const [window, stateWindow] of this.mapping.values()) {
        pairs.push([this.codec.toPlain(window), this.codec.toPlain(stateWindow)]);
      }
      this.state.update(pairs);
    }
    this.isDirty = false;
  }

  /** The state window of an in-flight window, or undefined if `window` is not in the set. */
  getStateWindow(window: W): W | undefined {
    return this.mapping.get(this.codec.idOf(window))?.[1];
  }

  /** Removes a window (it fired for the last time, or was late). Throws if it is not in the set. */
  retireWindow(window: W): void {
    if (!this.mapping.delete(this.codec.idOf(window))) {
      throw new EddyError(`window ${String(window)} is not in the in-flight window set`);
    }
    this.isDirty = true;
  }

  /** The in-flight windows, for tests and debugging. */
  windows(): W[] {
    const windows: W[] = [];
    for (const [window] of this.mapping.values()) windows.push(window);
    return windows;
  }

  /**
   * Adds `newWindow`, merging it with in-flight windows as the assigner decides, and returns the
   * window it ended up in (itself, or a merge result). `mergeFunction` runs once per merge, before the
   * set is persisted. Also merges pre-existing windows that the new one bridges.
   */
  addWindow(newWindow: W, mergeFunction: MergeFunction<W>): W {
    const codec = this.codec;
    const newId = codec.idOf(newWindow);
    const windows: W[] = [];
    for (const [window] of this.mapping.values()) windows.push(window);
    if (!this.mapping.has(newId)) windows.push(newWindow);

    const mergeResults: Array<[W, readonly W[]]> = [];
    this.assigner.mergeWindows(windows, (toBeMerged, mergeResult) => {
      mergeResults.push([mergeResult, toBeMerged]);
    });

    let resultWindow = newWindow;
    let isNewWindowMerged = false;
    for (const [mergeResult, toBeMerged] of mergeResults) {
      const mergedWindows: W[] = [];
      for (const window of toBeMerged) {
        if (codec.idOf(window) === newId) {
          isNewWindowMerged = true;
          resultWindow = mergeResult;
        } else {
          mergedWindows.push(window);
        }
      }
      const first = mergedWindows[0];
      if (first === undefined) throw new EddyError('a merge without any pre-existing window: the assigner merged a window with itself');
      // The merge result keeps the state window of one of the merged windows (the first, for determinism).
      const stateWindowResult = this.mapping.get(codec.idOf(first))![1];
      const stateWindowResultId = codec.idOf(stateWindowResult);
      const mergedStateWindows: W[] = [];
      for (const window of mergedWindows) {
        const id = codec.idOf(window);
        const entry = this.mapping.get(id);
        if (entry === undefined) continue;
        this.mapping.delete(id);
        if (codec.idOf(entry[1]) !== stateWindowResultId) mergedStateWindows.push(entry[1]);
      }
      this.mapping.set(codec.idOf(mergeResult), [mergeResult, stateWindowResult]);
      this.isDirty = true;
      // A new window that falls inside one existing window merges nothing: no state to move.
      const isOnlyNewWindowAbsorbed = mergedWindows.length === 1 && codec.idOf(first) === codec.idOf(mergeResult);
      if (!isOnlyNewWindowAbsorbed) mergeFunction(mergeResult, mergedWindows, stateWindowResult, mergedStateWindows);
    }

    // A new, self-contained window. (Flink overwrites an existing mapping here when the new window
    // equals an in-flight merge result; we keep the existing state window instead.)
    if ((mergeResults.length === 0 || !isNewWindowMerged) && !this.mapping.has(newId)) {
      this.mapping.set(newId, [newWindow, newWindow]);
      this.isDirty = true;
    }
    return resultWindow;
  }
}

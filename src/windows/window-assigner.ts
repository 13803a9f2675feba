import type { NamespaceCodec } from '../state/keyed-state-backend.ts';
import type { Trigger } from './trigger.ts';
import type { Window } from './window.ts';

/** What an assigner may ask the operator while assigning. */
export interface WindowAssignerContext {
  currentProcessingTime(): number;
}

interface WindowAssignerBase<T, W extends Window> {
  /**
   * The windows `element` (with event timestamp `timestampMs`, NaN if it has none) belongs to.
   * Event-time assigners throw a ConfigurationError for a record without timestamp.
   */
  assignWindows(element: T, timestampMs: number, context: WindowAssignerContext): readonly W[];
  /** The trigger used when the user sets none. */
  getDefaultTrigger(): Trigger<T, W>;
  /** Event-time windows are completed by watermarks and can be late; the others by the clock, never late. */
  readonly isEventTime: boolean;
  /** Identifies and (de)serializes this assigner's windows as state namespaces. */
  readonly namespaceCodec: NamespaceCodec<W>;
}

/** An assigner whose windows never change once assigned (tumbling, sliding, global). */
export interface NonMergingWindowAssigner<T, W extends Window> extends WindowAssignerBase<T, W> {
  readonly isMerging: false;
}

/** Called by {@link MergingWindowAssigner.mergeWindows} once per group of ≥ 2 windows that merge. */
export type MergeCallback<W> = (toBeMerged: readonly W[], mergeResult: W) => void;

/** An assigner whose windows merge with each other (sessions): every window of a key lives until merged. */
export interface MergingWindowAssigner<T, W extends Window> extends WindowAssignerBase<T, W> {
  readonly isMerging: true;
  /** Finds the groups among `windows` that merge; calls `callback` for each group of ≥ 2. */
  mergeWindows(windows: readonly W[], callback: MergeCallback<W>): void;
}

/** Assigns elements to windows; `isMerging` tells which kind. */
export type WindowAssigner<T, W extends Window> = NonMergingWindowAssigner<T, W> | MergingWindowAssigner<T, W>;

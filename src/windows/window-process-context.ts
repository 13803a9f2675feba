import { ConfigurationError } from '../core/errors.ts';
import type { OutputTag } from '../core/output-tag.ts';
import type { KeyedStateStore } from './keyed-state-store.ts';
import type { FiringKind, ProcessWindowContext } from './process-window-function.ts';
import type { Window } from './window.ts';

/** What the context needs from its operator. */
export interface WindowProcessContextHost {
  currentWatermark(): number;
  currentProcessingTime(): number;
  collectSide<S>(tag: OutputTag<S>, value: S, timestampMs: number): void;
}

const MERGING_WINDOW_STATE: KeyedStateStore = new Proxy({} as KeyedStateStore, {
  get(): never {
    throw new ConfigurationError(
      'per-window state (context.windowState) is not available for merging (session) windows: a merged window has no single state to carry over; use context.globalState',
    );
  },
});

/** The one {@link ProcessWindowContext} of a window operator, re-pointed at each firing. */
export class WindowProcessContext<W extends Window> implements ProcessWindowContext<W> {
  window!: W;
  firingKind: FiringKind = 'on-time';
  readonly windowState: KeyedStateStore;

  constructor(
    private readonly host: WindowProcessContextHost,
    windowState: KeyedStateStore,
    readonly globalState: KeyedStateStore,
    isMerging: boolean,
  ) {
    this.windowState = isMerging ? MERGING_WINDOW_STATE : windowState;
  }

  currentWatermark(): number {
    return this.host.currentWatermark();
  }

  currentProcessingTime(): number {
    return this.host.currentProcessingTime();
  }

  output<S>(tag: OutputTag<S>, value: S): void {
    this.host.collectSide(tag, value, this.window.maxTimestamp());
  }
}

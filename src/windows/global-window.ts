import { MAX_WATERMARK } from '../core/time.ts';
import { EddyError } from '../core/errors.ts';
import type { NamespaceCodec } from '../state/keyed-state-backend.ts';
import type { Window } from './window.ts';

/** The one window of {@link GlobalWindows}: every element of a key falls into it; it never ends. */
export class GlobalWindow implements Window {
  static readonly INSTANCE = new GlobalWindow();

  private constructor() {}

  maxTimestamp(): number {
    return MAX_WATERMARK;
  }

  toString(): string {
    return 'GlobalWindow';
  }
}

/**
 * Namespace codec for the single {@link GlobalWindow}; rejects anything else in a snapshot with an EddyError.
 */
export const globalWindowCodec: NamespaceCodec<GlobalWindow> = {
  idOf: () => 'global',
  toPlain: () => 'global',
  fromPlain: (plain) => {
    if (plain !== 'global') throw new EddyError(`a global window in a snapshot must be 'global', got ${JSON.stringify(plain)}`);
    return GlobalWindow.INSTANCE;
  },
};

import { EddyError } from '../core/errors.ts';
import type { CheckpointingMode } from '../checkpoint/checkpoint-config.ts';

/**
 * The input side of checkpoint barriers: decides, from the barriers and ends of input arriving on a
 * task's n input channels, when checkpoint n may be snapshotted, which channels must not be read
 * meanwhile, and when a checkpoint is given up.
 *
 * Two small states (Flink's `WaitingForFirstBarrier` ▶ `CollectingBarriers`); every event returns the
 * next state. Alignment is over all channels of the task, whatever logical input they belong to.
 *
 * Invariants:
 * - Checkpoint n is reported (`aligned`) at most once, and only once every channel still open has
 *   delivered barrier n; a channel that ended cannot deliver it and no longer counts.
 * - Exactly-once: a channel is blocked from its barrier n until n is aligned or aborted, so nothing
 *   after barrier n on any channel reaches the task before n's snapshot. At-least-once never blocks.
 * - Checkpoint ids only go forward: a barrier of a newer checkpoint m aborts the one being collected
 *   (reported, so the task declines it); a barrier of a checkpoint older than or equal to the last one
 *   started, aligned or aborted is a straggler of a given-up checkpoint and is ignored.
 *
 * Cost: O(n) per barrier or end of input while collecting (a state is a fresh object; barriers are
 * rare: one per channel and checkpoint), O(1) otherwise. Records never pass through here.
 */

/** How a task treats barriers: align (block) or only count. Checkpointing `off` needs no handler. */
export type BarrierHandlingMode = Exclude<CheckpointingMode, 'off'>;

/** What an event led to; the gate turns these into the task's callbacks, in order. */
export type BarrierReport =
  | { readonly kind: 'aligned'; readonly checkpointId: number }
  | { readonly kind: 'aborted'; readonly checkpointId: number; readonly reason: string };

/** No checkpoint is in progress; `lastCheckpointId` is the newest one seen (0: none yet). */
export interface WaitingForFirstBarrier {
  readonly kind: 'waiting-for-first-barrier';
  readonly lastCheckpointId: number;
}

/**
 * Barrier `checkpointId` arrived on some channels (`hasDelivered[c]`); `missing` counts the open
 * channels that have not delivered it yet (always ≥ 1: at 0 the checkpoint is reported and left).
 */
export interface CollectingBarriers {
  readonly kind: 'collecting-barriers';
  readonly checkpointId: number;
  readonly hasDelivered: readonly boolean[];
  readonly missing: number;
}

/** The state of barrier handling, as the gate exposes it (for tests and metrics). */
export type BarrierAlignment = WaitingForFirstBarrier | CollectingBarriers;

/** The channel-level facts a transition reads; `isOpen[c]` is false once channel c ended. */
export interface BarrierChannelView {
  readonly isOpen: readonly boolean[];
  readonly openChannels: number;
}

/** A transition's result: the next state and what to report, in order. */
export interface BarrierTransition {
  readonly next: BarrierAlignment;
  readonly reports: readonly BarrierReport[];
}

const NO_REPORTS: readonly BarrierReport[] = [];

function waiting(lastCheckpointId: number): WaitingForFirstBarrier {
  return { kind: 'waiting-for-first-barrier', lastCheckpointId };
}

/**
 * One fewer open channel to wait for in `state`: `channel` delivered the barrier (`hasDelivered` is
 * the updated flags) or ended. At zero the checkpoint is aligned and handling waits again.
 */
function countDown(state: CollectingBarriers, hasDelivered: readonly boolean[], reports: readonly BarrierReport[]): BarrierTransition {
  const missing = state.missing - 1;
  if (missing === 0) {
    return { next: waiting(state.checkpointId), reports: [...reports, { kind: 'aligned', checkpointId: state.checkpointId }] };
  }
  return { next: { ...state, hasDelivered, missing }, reports };
}

function deliver(state: CollectingBarriers, channel: number, reports: readonly BarrierReport[]): BarrierTransition {
  const hasDelivered = state.hasDelivered.slice();
  hasDelivered[channel] = true;
  return countDown(state, hasDelivered, reports);
}

/** The first barrier of checkpoint `checkpointId`, on `channel`. */
function startCollecting(
  view: BarrierChannelView,
  channel: number,
  checkpointId: number,
  reports: readonly BarrierReport[],
): BarrierTransition {
  const started: CollectingBarriers = {
    kind: 'collecting-barriers',
    checkpointId,
    hasDelivered: new Array<boolean>(view.isOpen.length).fill(false),
    missing: view.openChannels,
  };
  return deliver(started, channel, reports);
}

/** The next state after barrier `checkpointId` arrived on open channel `channel`. */
export function onBarrier(
  state: BarrierAlignment,
  view: BarrierChannelView,
  channel: number,
  checkpointId: number,
): BarrierTransition {
  switch (state.kind) {
    case 'waiting-for-first-barrier':
      if (checkpointId <= state.lastCheckpointId) return { next: state, reports: NO_REPORTS };
      return startCollecting(view, channel, checkpointId, NO_REPORTS);
    case 'collecting-barriers': {
      if (checkpointId < state.checkpointId) return { next: state, reports: NO_REPORTS };
      if (checkpointId > state.checkpointId) {
        const aborted = state.checkpointId;
        const reason = `barrier ${checkpointId} arrived on channel ${channel} before checkpoint ${aborted} was aligned`;
        return startCollecting(view, channel, checkpointId, [{ kind: 'aborted', checkpointId: aborted, reason }]);
      }
      if (state.hasDelivered[channel]) {
        throw new EddyError(`channel ${channel} delivered barrier ${checkpointId} twice`);
      }
      return deliver(state, channel, NO_REPORTS);
    }
  }
}

/** The next state after open channel `channel` ended; `view` already counts it as ended. */
export function onEndOfInput(state: BarrierAlignment, view: BarrierChannelView, channel: number): BarrierTransition {
  if (state.kind === 'waiting-for-first-barrier' || state.hasDelivered[channel]) return { next: state, reports: NO_REPORTS };
  // The channel can no longer deliver the barrier: one fewer to wait for.
  return countDown(state, state.hasDelivered, NO_REPORTS);
}

/**
 * The next state after checkpoint `checkpointId` was aborted elsewhere (the coordinator's notice). Not
 * reported back: the task learnt it from the notice. Remembering the id makes its later barriers
 * stragglers, even when the abort arrives before the first of them.
 */
export function onAbort(state: BarrierAlignment, checkpointId: number): BarrierTransition {
  switch (state.kind) {
    case 'waiting-for-first-barrier':
      return { next: waiting(Math.max(state.lastCheckpointId, checkpointId)), reports: NO_REPORTS };
    case 'collecting-barriers':
      if (checkpointId < state.checkpointId) return { next: state, reports: NO_REPORTS };
      return { next: waiting(checkpointId), reports: NO_REPORTS };
  }
}

/**
 * Barrier handling over the n channels of one task. Feed it every barrier and end of input in the
 * order the task reads them; read {@link isBlocked} before reading a channel.
 */
export interface BarrierHandler {
  readonly mode: BarrierHandlingMode;
  readonly state: BarrierAlignment;
  /** True while channel `channel` must not be read (exactly-once, between its barrier and alignment). */
  isBlocked(channel: number): boolean;
  barrier(channel: number, checkpointId: number): readonly BarrierReport[];
  endOfInput(channel: number): readonly BarrierReport[];
  abort(checkpointId: number): readonly BarrierReport[];
}

/** Shared bookkeeping: open channels, the state, and blocking as the subclass decides. */
abstract class ChannelBarrierHandler implements BarrierHandler {
  abstract readonly mode: BarrierHandlingMode;
  private readonly channels: { readonly isOpen: boolean[]; openChannels: number };
  private current: BarrierAlignment = waiting(0);

  constructor(numChannels: number) {
    if (!Number.isInteger(numChannels) || numChannels < 1) {
      throw new EddyError(`barrier handling needs at least one input channel, got ${numChannels}`);
    }
    this.channels = { isOpen: new Array<boolean>(numChannels).fill(true), openChannels: numChannels };
  }

  get state(): BarrierAlignment {
    return this.current;
  }

  abstract isBlocked(channel: number): boolean;

  barrier(channel: number, checkpointId: number): readonly BarrierReport[] {
    this.checkOpen(channel, `barrier ${checkpointId}`);
    if (!Number.isSafeInteger(checkpointId) || checkpointId < 1) {
      throw new EddyError(`checkpoint ids are whole numbers ≥ 1, got barrier ${checkpointId} on channel ${channel}`);
    }
    return this.apply(onBarrier(this.current, this.channels, channel, checkpointId));
  }

  endOfInput(channel: number): readonly BarrierReport[] {
    this.checkOpen(channel, 'end-of-input');
    this.channels.isOpen[channel] = false;
    this.channels.openChannels--;
    return this.apply(onEndOfInput(this.current, this.channels, channel));
  }

  abort(checkpointId: number): readonly BarrierReport[] {
    return this.apply(onAbort(this.current, checkpointId));
  }

  /** Blocks or unblocks channels to match the new state. */
  protected abstract follow(next: BarrierAlignment): void;

  private apply(transition: BarrierTransition): readonly BarrierReport[] {
    const previous = this.current;
    this.current = transition.next;
    if (previous !== transition.next) this.follow(transition.next);
    return transition.reports;
  }

  private checkOpen(channel: number, what: string): void {
    const isOpen = this.channels.isOpen;
    if (!Number.isInteger(channel) || channel < 0 || channel >= isOpen.length) {
      throw new EddyError(`${what} on channel ${channel}, but the task has ${isOpen.length} channels`);
    }
    if (!isOpen[channel]) throw new EddyError(`${what} on channel ${channel} after its end-of-input`);
  }
}

/**
 * Exactly-once: blocks each channel from its barrier n until every open channel delivered barrier n
 * (then reports `aligned`) or n is aborted; then unblocks all.
 */
export class ExactlyOnceBarrierAligner extends ChannelBarrierHandler {
  readonly mode = 'exactly-once';
  /** Mirrors `state.hasDelivered` while collecting; all false while waiting. */
  private readonly blocked: boolean[];

  constructor(numChannels: number) {
    super(numChannels);
    this.blocked = new Array<boolean>(numChannels).fill(false);
  }

  isBlocked(channel: number): boolean {
    return this.blocked[channel] === true;
  }

  protected follow(next: BarrierAlignment): void {
    if (next.kind === 'collecting-barriers') {
      for (let c = 0; c < this.blocked.length; c++) this.blocked[c] = next.hasDelivered[c]!;
    } else {
      this.blocked.fill(false);
    }
  }
}

/** At-least-once: never blocks; reports `aligned` ("ready") once every open channel delivered barrier n. */
export class AtLeastOnceBarrierTracker extends ChannelBarrierHandler {
  readonly mode = 'at-least-once';

  isBlocked(_channel: number): boolean {
    return false;
  }

  protected follow(): void {}
}

export function createBarrierHandler(mode: BarrierHandlingMode, numChannels: number): BarrierHandler {
  return mode === 'exactly-once' ? new ExactlyOnceBarrierAligner(numChannels) : new AtLeastOnceBarrierTracker(numChannels);
}

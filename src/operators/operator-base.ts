import { MIN_WATERMARK } from '../core/time.ts';
import { EddyError } from '../core/errors.ts';
import type { KeyedStateBackend, NamespaceCodec } from '../state/keyed-state-backend.ts';
import { KeyedTimerService } from '../time/keyed-timer-service.ts';
import type { InternalTimerService, Triggerable } from '../time/timer-service.ts';
import type { OperatorMetrics } from './operator-metrics.ts';
import type { OperatorContext, OperatorSnapshot, Output, StreamOperator } from './operator.ts';

/** Operator (union) state holding an operator subtask's watermarks at a checkpoint. */
export const WATERMARK_STATE = 'operator-watermarks';

/**
 * The base of every built-in operator. Gives each hook a default:
 * - watermarks: one valve per operator over its inputs — the combined watermark is the minimum over
 *   the inputs that are not idle, never decreasing; when it advances, due event-time timers fire first
 *   and then the watermark is forwarded (Flink's order, so timer output precedes the watermark);
 * - idleness: the operator is idle downstream only when every input is idle;
 * - keyed state: a keyed operator gets its backend at setup, snapshots and restores it;
 * - operator state: override `snapshotOperatorState` / `restoreOperatorState`.
 * Subclasses implement `processRecord`.
 */
export abstract class OperatorBase<OUT = unknown> implements StreamOperator<OUT> {
  protected context!: OperatorContext<OUT>;
  protected output!: Output<OUT>;
  protected metrics!: OperatorMetrics;
  protected keyedBackend: KeyedStateBackend | undefined = undefined;
  /** The operator's combined input watermark, never decreasing. */
  protected currentWatermark = MIN_WATERMARK;

  private readonly inputWatermarks: number[];
  private readonly inputIsIdle: boolean[];
  private isIdleDownstream = false;
  private readonly timerServices: Array<KeyedTimerService<unknown>> = [];

  constructor(
    protected readonly numInputs: number = 1,
    protected readonly isKeyed: boolean = false,
  ) {
    this.inputWatermarks = new Array<number>(numInputs).fill(MIN_WATERMARK);
    this.inputIsIdle = new Array<boolean>(numInputs).fill(false);
  }

  setup(context: OperatorContext<OUT>): void {
    this.context = context;
    this.output = context.output;
    this.metrics = context.metrics;
    if (this.isKeyed) this.keyedBackend = context.createKeyedStateBackend();
  }

  restoreState(snapshot: OperatorSnapshot): void {
    const natives = snapshot.restoredNativeKeyed ?? [];
    if (snapshot.keyed !== undefined || natives.length > 0) {
      const backend = this.keyedBackend;
      if (backend === undefined) {
        throw new EddyError(`operator '${this.context.uid}' is not keyed but its snapshot holds keyed state`, {
          domain: 'user',
          operatorUid: this.context.uid,
        });
      }
      if (natives.length > 0) {
        if (backend.restoreNative === undefined) {
          throw new EddyError(
            `operator '${this.context.uid}' was checkpointed with the rocksdb state backend; restore it with ` +
              '--state-backend rocksdb (a checkpoint in the other format cannot be read by the memory backend)',
            { domain: 'user', operatorUid: this.context.uid },
          );
        }
        backend.restoreNative(natives);
      }
      if (snapshot.keyed !== undefined) backend.restore([snapshot.keyed]);
    }
    this.restoreWatermarks(snapshot.operatorState[WATERMARK_STATE]);
    this.restoreOperatorState(snapshot.operatorState);
  }

  /**
   * Restores the watermark the operator had at the checkpoint (the minimum over the old subtasks whose
   * state this subtask receives — every subtask of an operator sees the same broadcast watermarks).
   * Without it, replayed records that were late before a failure would not be late after it, and the
   * output of a restored run would differ from a failure-free one.
   */
  private restoreWatermarks(entries: readonly unknown[] | undefined): void {
    if (entries === undefined || entries.length === 0) return;
    let combined = Number.POSITIVE_INFINITY;
    const perInput = new Array<number>(this.numInputs).fill(Number.POSITIVE_INFINITY);
    for (const entry of entries) {
      const marks = entry as readonly number[];
      if (marks[0]! < combined) combined = marks[0]!;
      for (let input = 0; input < this.numInputs; input++) {
        const mark = marks[1 + input] ?? MIN_WATERMARK;
        if (mark < perInput[input]!) perInput[input] = mark;
      }
    }
    this.currentWatermark = combined;
    this.metrics.currentWatermarkMs = combined;
    for (let input = 0; input < this.numInputs; input++) this.inputWatermarks[input] = perInput[input]!;
  }

  open(): void {}

  abstract processRecord(value: unknown, timestampMs: number, input: number): void;

  processWatermark(watermarkMs: number, input: number): void {
    if (this.numInputs === 1) {
      if (watermarkMs > this.currentWatermark) this.advanceWatermark(watermarkMs);
      return;
    }
    if (watermarkMs > this.inputWatermarks[input]!) this.inputWatermarks[input] = watermarkMs;
    this.recomputeCombinedWatermark();
  }

  processWatermarkStatus(isIdle: boolean, input: number): void {
    this.inputIsIdle[input] = isIdle;
    if (this.numInputs > 1) this.recomputeCombinedWatermark();
    let allIdle = true;
    for (let i = 0; i < this.numInputs; i++) if (!this.inputIsIdle[i]) allIdle = false;
    if (allIdle !== this.isIdleDownstream) {
      this.isIdleDownstream = allIdle;
      this.output.emitWatermarkStatus(allIdle);
    }
  }

  private recomputeCombinedWatermark(): void {
    let combined = Number.POSITIVE_INFINITY;
    let anyActive = false;
    for (let i = 0; i < this.numInputs; i++) {
      if (this.inputIsIdle[i]) continue;
      anyActive = true;
      if (this.inputWatermarks[i]! < combined) combined = this.inputWatermarks[i]!;
    }
    if (anyActive && combined > this.currentWatermark) this.advanceWatermark(combined);
  }

  /** Fires due event-time timers, then forwards the watermark. Override to add work before forwarding. */
  protected advanceWatermark(watermarkMs: number): void {
    this.currentWatermark = watermarkMs;
    for (const service of this.timerServices) service.advanceWatermark(watermarkMs);
    this.metrics.currentWatermarkMs = watermarkMs;
    this.output.emitWatermark(watermarkMs);
  }

  endInput(_input: number): void {}

  finish(): void {}

  /**
   * Keyed state, the subclass's operator state, and — for keyed operators, whose lateness and timers
   * depend on it — the operator's watermarks (union state under {@link WATERMARK_STATE}:
   * `[combined, input 0, input 1…]`).
   */
  snapshotState(checkpointId: number): OperatorSnapshot {
    const operatorState = this.snapshotOperatorState();
    const backend = this.keyedBackend;
    if (backend === undefined) return { keyed: undefined, operatorState };
    const withWatermarks = { ...operatorState, [WATERMARK_STATE]: [[this.currentWatermark, ...this.inputWatermarks]] };
    if (backend.snapshotNative !== undefined) {
      // RocksDB: the synchronous part captures the database; the task awaits the files before writing.
      return { keyed: undefined, pendingKeyed: backend.snapshotNative(checkpointId), operatorState: withWatermarks, unionStateNames: [WATERMARK_STATE] };
    }
    return { keyed: backend.snapshot(), operatorState: withWatermarks, unionStateNames: [WATERMARK_STATE] };
  }

  protected snapshotOperatorState(): Record<string, readonly unknown[]> {
    return {};
  }

  protected restoreOperatorState(_state: Readonly<Record<string, readonly unknown[]>>): void {}

  notifyCheckpointComplete(_checkpointId: number): void {}

  close(): void {
    for (const service of this.timerServices) service.dispose();
    this.keyedBackend?.dispose();
  }

  /** The keyed backend; throws if this operator is not keyed (a bug in the graph builder). */
  /**
   * For keyed operators' `prefetch`: assembles the read-ahead of a batch when the backend has one
   * (RocksDB), `addRecord` naming what each record will touch. Undefined when there is nothing to read.
   */
  protected prefetchBatch(
    values: readonly unknown[],
    timestamps: ArrayLike<number>,
    length: number,
    addRecord: (value: unknown, timestampMs: number, backend: KeyedStateBackend) => void,
  ): Promise<void> | undefined {
    const backend = this.keyedBackend;
    if (backend?.beginPrefetch === undefined || backend.endPrefetch === undefined) return undefined;
    backend.beginPrefetch();
    for (let i = 0; i < length; i++) addRecord(values[i], timestamps[i]!, backend);
    return backend.endPrefetch();
  }

  protected get backend(): KeyedStateBackend {
    if (this.keyedBackend === undefined) {
      throw new EddyError(`operator '${this.context.uid}' uses keyed state but is not on a keyed stream`, {
        domain: 'user',
        operatorUid: this.context.uid,
      });
    }
    return this.keyedBackend;
  }

  /**
   * A timer service named `name` whose timers call `triggerable` when they fire. Create it in `open`.
   * Its event-time timers fire in {@link advanceWatermark}.
   */
  protected getInternalTimerService<N>(
    name: string,
    namespaceCodec: NamespaceCodec<N>,
    triggerable: Triggerable<N>,
  ): InternalTimerService<N> {
    const service = new KeyedTimerService<N>({
      name,
      backend: this.backend,
      namespaceCodec,
      triggerable,
      clock: this.context.clock,
      scheduleProcessingTime: this.context.scheduleProcessingTime,
      currentWatermark: () => this.currentWatermark,
    });
    this.timerServices.push(service as KeyedTimerService<unknown>);
    return service;
  }
}

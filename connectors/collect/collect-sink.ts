import { BroadcastChannel, isMainThread, threadId } from 'node:worker_threads';
import type { Sink, SinkWriter, SinkWriterContext } from '../../src/connector/sink.ts';
import { ConfigurationError, EddyError, describeError } from '../../src/core/errors.ts';

/** Messages on the channel `eddy-collect:<id>`, between writers in worker threads and the main thread. */
type CollectMessage =
  | { readonly kind: 'records'; readonly writerId: string; readonly values: readonly unknown[] }
  | { readonly kind: 'flush'; readonly writerId: string; readonly flushId: number }
  | { readonly kind: 'ack'; readonly writerId: string; readonly flushId: number };

/** Records a worker-side writer batches into one message. */
const RECORDS_PER_MESSAGE = 1000;
/** How long a worker-side flush waits for the main thread's acknowledgement. */
export const ACK_TIMEOUT_MS = 30_000;

function channelName(id: string): string {
  return `eddy-collect:${id}`;
}

function isCollectMessage(data: unknown): data is CollectMessage {
  return typeof data === 'object' && data !== null && typeof (data as { kind?: unknown }).kind === 'string';
}

/**
 * What the main thread collected for one id, and the channel on which worker-side writers send to it.
 * One per id per main thread, shared by every CollectSink object created there with that id (a job
 * module may build its graph more than once).
 */
class CollectedResults {
  readonly values: unknown[] = [];
  private readonly channel: BroadcastChannel;

  constructor(id: string) {
    this.channel = new BroadcastChannel(channelName(id));
    this.channel.onmessage = (event: unknown) => this.receive((event as { data?: unknown }).data);
    // The job keeps the process alive while it runs; an open collect channel alone must not.
    this.channel.unref();
  }

  private receive(data: unknown): void {
    if (!isCollectMessage(data)) return;
    switch (data.kind) {
      case 'records':
        for (const value of data.values) this.values.push(value);
        return;
      case 'flush': {
        const ack: CollectMessage = { kind: 'ack', writerId: data.writerId, flushId: data.flushId };
        this.channel.postMessage(ack);
        return;
      }
      case 'ack':
        return;
    }
  }

  close(): void {
    this.channel.close();
  }
}

/** Main-thread results by sink id. */
const resultsById = new Map<string, CollectedResults>();
let writerCounter = 0;

/**
 * A sink for tests that collects every record into memory on the main thread, wherever its writers
 * run. A writer on the main thread pushes directly; a writer in a worker thread sends batches over a
 * `BroadcastChannel('eddy-collect:<id>')`, and its `flush` waits until the main thread acknowledged
 * everything sent before it — so when the job reports finished, no result is still in flight.
 *
 * Every worker rebuilds the job graph by importing the job module, so the id must be stable: pass the
 * same literal (or an id derived from the job's arguments) wherever the job module creates the sink.
 * Create the sink on the main thread before the job runs; read `results()` after it finished; `close()`
 * when done. Records cross threads by structured clone. Not exactly-once: after a restart from a
 * checkpoint, records emitted since that checkpoint are collected again.
 */
export class CollectSink<T> implements Sink<T> {
  /** The stable id that connects writers in workers with the results on the main thread. */
  readonly id: string;
  /** Present on the main thread only. */
  private readonly collected: CollectedResults | undefined;

  constructor(id: string) {
    if (typeof id !== 'string' || id.length === 0) {
      throw new ConfigurationError(`collectSink needs a stable, non-empty id, got ${JSON.stringify(id)}`);
    }
    this.id = id;
    if (isMainThread) {
      let collected = resultsById.get(id);
      if (collected === undefined) {
        collected = new CollectedResults(id);
        resultsById.set(id, collected);
      }
      this.collected = collected;
    } else {
      this.collected = undefined;
    }
  }

  createWriter(context: SinkWriterContext): SinkWriter<T> {
    if (this.collected !== undefined) return new LocalCollectWriter<T>(this.id, this.collected);
    return new ChannelCollectWriter<T>(this.id, `${threadId}:${context.subtask}:${writerCounter++}`);
  }

  describe(): string {
    return `collect(${this.id})`;
  }

  /** Everything collected so far: a multiset; order is kept per subtask only. Main thread only. */
  results(): T[] {
    if (this.collected === undefined) {
      throw new EddyError(`collect sink '${this.id}': results() is only available on the main thread`, { domain: 'user' });
    }
    return this.collected.values.slice() as T[];
  }

  /** Stops collecting for this id on this thread and closes its channel. */
  close(): void {
    const collected = this.collected;
    if (collected === undefined) return;
    if (resultsById.get(this.id) === collected) resultsById.delete(this.id);
    collected.close();
  }
}

/** A writer in the thread that collects: pushes straight into the results. */
class LocalCollectWriter<T> implements SinkWriter<T> {
  private readonly id: string;
  private readonly collected: CollectedResults;

  constructor(id: string, collected: CollectedResults) {
    this.id = id;
    this.collected = collected;
  }

  async open(_restoredState: readonly unknown[]): Promise<void> {
    if (resultsById.get(this.id) !== this.collected) {
      throw new EddyError(`collect sink '${this.id}' was closed; create a new collectSink('${this.id}') before running the job`, {
        domain: 'user',
      });
    }
  }

  write(value: T, _timestampMs: number): void {
    this.collected.values.push(value);
  }

  waitUntilWritable(): Promise<void> | undefined {
    return undefined;
  }

  async flush(_isEndOfInput: boolean): Promise<void> {
    // Nothing in flight.
  }

  snapshotState(_checkpointId: number): unknown[] {
    return [];
  }

  async close(): Promise<void> {
    // Nothing to release.
  }
}

/** A writer in a worker thread: batches records to the main thread; `flush` waits for its acknowledgement. */
class ChannelCollectWriter<T> implements SinkWriter<T> {
  private readonly id: string;
  private readonly writerId: string;
  private channel: BroadcastChannel | undefined = undefined;
  private pending: T[] = [];
  private nextFlushId = 0;
  private readonly waitingAcks = new Map<number, { resolve: () => void; timer: ReturnType<typeof setTimeout> }>();

  constructor(id: string, writerId: string) {
    this.id = id;
    this.writerId = writerId;
  }

  async open(_restoredState: readonly unknown[]): Promise<void> {
    const channel = new BroadcastChannel(channelName(this.id));
    channel.onmessage = (event: unknown) => this.receive((event as { data?: unknown }).data);
    // Pending acknowledgements keep the thread alive through their timers, not the channel.
    channel.unref();
    this.channel = channel;
  }

  write(value: T, _timestampMs: number): void {
    this.pending.push(value);
    if (this.pending.length >= RECORDS_PER_MESSAGE) this.send();
  }

  waitUntilWritable(): Promise<void> | undefined {
    return undefined;
  }

  async flush(_isEndOfInput: boolean): Promise<void> {
    this.send();
    const flushId = this.nextFlushId++;
    const acknowledged = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waitingAcks.delete(flushId);
        reject(
          new EddyError(
            `collect sink '${this.id}': the main thread did not acknowledge within ${ACK_TIMEOUT_MS} ms; ` +
              `create collectSink('${this.id}') on the main thread before running the job`,
            { domain: 'user' },
          ),
        );
      }, ACK_TIMEOUT_MS);
      this.waitingAcks.set(flushId, { resolve, timer });
    });
    this.post({ kind: 'flush', writerId: this.writerId, flushId });
    await acknowledged;
  }

  snapshotState(_checkpointId: number): unknown[] {
    return [];
  }

  async close(): Promise<void> {
    for (const waiting of this.waitingAcks.values()) clearTimeout(waiting.timer);
    this.waitingAcks.clear();
    this.channel?.close();
    this.channel = undefined;
  }

  private send(): void {
    if (this.pending.length === 0) return;
    const values = this.pending;
    this.pending = [];
    this.post({ kind: 'records', writerId: this.writerId, values });
  }

  private post(message: CollectMessage): void {
    const channel = this.channel;
    if (channel === undefined) throw new EddyError(`collect sink '${this.id}' writer is not open`);
    try {
      channel.postMessage(message);
    } catch (error) {
      throw new EddyError(
        `collect sink '${this.id}' cannot send records to the main thread (they must be structured-cloneable): ${describeError(error)}`,
        { domain: 'user', cause: error },
      );
    }
  }

  private receive(data: unknown): void {
    if (!isCollectMessage(data) || data.kind !== 'ack' || data.writerId !== this.writerId) return;
    const waiting = this.waitingAcks.get(data.flushId);
    if (waiting === undefined) return;
    this.waitingAcks.delete(data.flushId);
    clearTimeout(waiting.timer);
    waiting.resolve();
  }
}

/**
 * A collect sink for tests; see {@link CollectSink}. `id` must be stable across the threads that build
 * the job graph: `collectSink<Order>('orders-test')`.
 */
export function collectSink<T>(id: string): CollectSink<T> {
  return new CollectSink<T>(id);
}

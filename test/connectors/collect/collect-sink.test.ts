import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { collectSink } from '../../../connectors/collect/index.ts';

const bootstrap = fileURLToPath(new URL('./ts-worker-bootstrap.mjs', import.meta.url));
const fixture = new URL('./collect-writer.fixture.ts', import.meta.url).href;

/** Starts a worker thread that runs a TypeScript module (through tsx) and resolves with its first message. */
function runWorker(args: Record<string, unknown>): Promise<unknown> {
  const worker = new Worker(bootstrap, { workerData: { ...args, module: fixture } });
  return new Promise((resolve, reject) => {
    worker.once('message', (message: unknown) => {
      resolve(message);
      void worker.terminate();
    });
    worker.once('error', reject);
  });
}

describe('collect sink', () => {
  it('collects what writers on the main thread write', async () => {
    const sink = collectSink<number>('main-thread-test');
    const writer = sink.createWriter({ subtask: 0, parallelism: 1, operatorUid: 'collect', checkpointingMode: 'off', attempt: 0 });
    await writer.open([]);
    writer.write(1, 0);
    writer.write(2, 0);
    // Another sink object with the same id (a rebuilt graph) shares the results.
    const rebuilt = collectSink<number>('main-thread-test');
    const second = rebuilt.createWriter({ subtask: 1, parallelism: 2, operatorUid: 'collect', checkpointingMode: 'off', attempt: 0 });
    await second.open([]);
    second.write(3, 0);
    await writer.flush(true);
    expect(sink.results()).toEqual([1, 2, 3]);
    expect(rebuilt.results()).toEqual([1, 2, 3]);
    sink.close();
    await expect(collectSink<number>('main-thread-test').createWriter({ subtask: 0, parallelism: 1, operatorUid: 'c', checkpointingMode: 'off', attempt: 0 }).open([]))
      .resolves.toBeUndefined();
    collectSink<number>('main-thread-test').close();
  });

  it('has every record of a worker-thread writer once that writer flushed', async () => {
    const sink = collectSink<{ subtask: number; n: number }>('worker-thread-test');
    try {
      const [first, second] = await Promise.all([
        runWorker({ id: 'worker-thread-test', subtask: 0, count: 2500 }),
        runWorker({ id: 'worker-thread-test', subtask: 1, count: 10 }),
      ]);
      expect([first, second]).toEqual(['flushed', 'flushed']);
      // No wait: the acknowledged flush means everything already arrived.
      const results = sink.results();
      expect(results).toHaveLength(2510);
      expect(results.filter((r) => r.subtask === 0).map((r) => r.n)).toEqual([...Array(2500).keys()]);
      expect(results.filter((r) => r.subtask === 1).map((r) => r.n)).toEqual([...Array(10).keys()]);
    } finally {
      sink.close();
    }
  });

  it("a worker-thread writer's flush waits for the main thread's acknowledgement", async () => {
    const sink = collectSink<{ subtask: number; n: number }>('ack-test');
    try {
      const progress = new Int32Array(new SharedArrayBuffer(8));
      const done = runWorker({ id: 'ack-test', subtask: 0, count: 5, progress });
      // Block the main thread (it cannot acknowledge) and watch whether the worker's flush resolves.
      expect(Atomics.wait(progress, 0, 0, 20_000)).not.toBe('timed-out');
      expect(Atomics.wait(progress, 1, 0, 300)).toBe('timed-out');
      expect(await done).toBe('flushed');
      expect(sink.results()).toHaveLength(5);
    } finally {
      sink.close();
    }
  });

  it('needs a stable id', () => {
    expect(() => collectSink('')).toThrow('collectSink needs a stable, non-empty id');
  });
});

import { parentPort, workerData } from 'node:worker_threads';
import { collectSink } from '../../../connectors/collect/index.ts';

/**
 * Runs in a worker thread: writes `count` records as subtask `subtask` of a collect sink, flushes,
 * reports. With `progress` (an Int32Array over shared memory) it marks [0] = 1 before flushing and
 * [1] = 1 once the flush resolved, so the main thread can observe the flush while it is blocked.
 */
const { id, subtask, count, progress } = workerData as {
  id: string;
  subtask: number;
  count: number;
  progress?: Int32Array;
};
const writer = collectSink<{ subtask: number; n: number }>(id).createWriter({ subtask, parallelism: 2, operatorUid: 'collect', checkpointingMode: 'off', attempt: 0 });
await writer.open([]);
for (let n = 0; n < count; n++) writer.write({ subtask, n }, 0);
if (progress !== undefined) {
  Atomics.store(progress, 0, 1);
  Atomics.notify(progress, 0);
}
await writer.flush(true);
if (progress !== undefined) {
  Atomics.store(progress, 1, 1);
  Atomics.notify(progress, 1);
}
await writer.close();
parentPort!.postMessage('flushed');

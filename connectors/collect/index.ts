/**
 * A sink that collects results in memory, for tests: `const sink = collectSink<T>('stable-id')`, run the
 * job, then `sink.results()` and `sink.close()`.
 *
 * Invariants: when the job reports finished, every record written by any subtask — on the main thread
 * or in a worker thread — is in `results()` (a worker's `flush` waits for the main thread's
 * acknowledgement). Results form a multiset; order holds per subtask only. The id must be stable,
 * because every worker rebuilds the graph from the job module and finds the main thread by that id.
 */
export { collectSink, CollectSink, ACK_TIMEOUT_MS } from './collect-sink.ts';

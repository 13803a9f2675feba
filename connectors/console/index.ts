/**
 * Standard output as a sink, like Flink's `print()`: `consoleSink({ prefix?, format? })`.
 *
 * Each record becomes one line; at parallelism > 1 lines start with the 1-based subtask number
 * (`2> …`, or `prefix:2> …`). Per subtask, lines keep record order; across subtasks they interleave.
 * Backpressure follows stdout's own (`drain`). Not durable and not exactly-once: for debugging and demos.
 */
export { consoleSink, ConsoleSink, ConsoleSinkWriter, linePrefix } from './console-sink.ts';
export type { ConsoleSinkOptions, LineStream } from './console-sink.ts';

/**
 * Eddy's public API: build a job with the DataStream API, run it with `eddy run`.
 *
 * ```ts
 * import { defineJob, WatermarkStrategy, z } from 'eddy';
 * import { fileSource, jsonLines, fileSink } from 'eddy/connectors/file';
 * ```
 */
export { z } from 'zod';
export { defineJob } from './api/job.ts';
export type { JobDefinition, JobModuleRef } from './api/job.ts';
export { durationArg, positiveDurationArg, pathArg, integerArg } from './api/job-args.ts';
export { StreamEnvironment } from './api/stream-environment.ts';
export type { JobStateBackend } from './graph/stream-graph.ts';
export type { EnvironmentOptions, SourceOptions } from './api/stream-environment.ts';
export { DataStream, SingleOutputStream, KeyedStream, DataStreamSink } from './api/data-stream.ts';
export type { SinkOptions } from './api/data-stream.ts';
export { ConnectedStreams, BroadcastStream, BroadcastConnectedStream } from './api/connected-streams.ts';
export { IntervalJoin, IntervalJoined } from './api/interval-join.ts';
export { broadcastState } from './api/functions.ts';
export type * from './api/functions.ts';
export type { Collector } from './core/collector.ts';
export { OutputTag } from './core/output-tag.ts';
export { EddyError, ConfigurationError, BadRecordError, UserFunctionError } from './core/errors.ts';
export type { ErrorDomain } from './core/errors.ts';
export { parseDuration, formatDuration } from './core/duration.ts';
export { MIN_WATERMARK, MAX_WATERMARK, NO_TIMESTAMP, ManualClock, systemClock } from './core/time.ts';
export type { Clock } from './core/time.ts';
export { WatermarkStrategy } from './time/watermark-strategy.ts';
export type { WatermarkGenerator, WatermarkOutput, TimestampAssigner } from './time/watermark-strategy.ts';
export type { TimerService } from './time/timer-service.ts';
export { valueState, listState, mapState, reducingState, aggregatingState, stateTtl } from './state/descriptors.ts';
export type * from './state/descriptors.ts';
export type * from './state/state.ts';
export type * from './connector/source.ts';
export type * from './connector/sink.ts';
export { WindowedStream } from './api/windowed-stream.ts';
export { JoinedStreams, CoGroupedStreams, WindowJoin } from './api/window-join.ts';
export type { JoinFunction, CoGroupFunction, TaggedRecord } from './api/window-join.ts';
export * from './windows/index.ts';

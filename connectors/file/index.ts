/**
 * Local files as a bounded source and as a sink.
 *
 * Source — `fileSource({ path, format })`:
 * - `path` is a file, a directory (its regular files in sorted order; names starting with `.` or `_`
 *   are skipped; not recursive) or a list of them. Each file is one split `{ splitId, path, offset, line }`;
 *   the enumerator checks every path when the job starts and fails with an error naming the path if it
 *   does not exist or cannot be read, then assigns file i (sorted) to subtask i mod parallelism.
 * - Formats: `jsonLines({ schema? })`, `csv({ columns?, header?, delimiter?, schema? })` (values are
 *   strings: use `z.coerce` in the schema; quoted fields with line breaks are not supported and are
 *   reported as bad records), `textLines()`.
 * - Invariants: each file is read in order; a batch is the next min(1000, lines left) lines of one
 *   file, so batches, and the watermarks emitted after them, depend on the data alone (never on chunk
 *   size or I/O timing). A snapshot records, per unfinished file, the byte offset and number of the line
 *   after the last emitted one; restoring resumes exactly there. A line that cannot be decoded is reported
 *   as a bad record at `path:line` — never dropped silently.
 *
 * Sink — `fileSink({ path, format: 'json-lines' | 'csv' | { encode }, csvColumns? })`: at parallelism 1
 * writes the file `path`; at parallelism > 1 `path` is a directory and subtask i writes `path/part-i`.
 * Files are truncated when the job starts; writes happen in the background with backpressure above
 * ~1 MiB pending; `flush` waits for every write and fsyncs (datasync). With checkpointing on, `path`
 * is a directory of part files `part-<subtask>-<attempt>-<seq>.<jsonl|csv|txt>`, written as hidden
 * `.inprogress` files and published by rename when a checkpoint completes (exactly-once; see
 * `TransactionalFileSinkWriter`). One sink per output directory: two would clash on part names.
 */
export { fileSource, FileSource } from './file-source.ts';
export type { FileSourceOptions } from './file-source.ts';
export type { FileSplit } from './file-split.ts';
export { FileSourceReader, MAX_LINES_PER_BATCH } from './file-source-reader.ts';
export { jsonLines, csv, textLines, splitCsvLine, INVALID_RECORD } from './formats.ts';
export type { FileFormat, LineDecoder, InvalidRecord, JsonLinesOptions, CsvOptions } from './formats.ts';
export { listInputFiles } from './input-files.ts';
export { fileSink, FileSink, FileSinkWriter } from './file-sink.ts';
export type { FileSinkOptions } from './file-sink.ts';
export { encodeCsvField } from './line-encoders.ts';
export type { FileSinkFormat, LineEncoder } from './line-encoders.ts';
export { TransactionalFileSinkWriter } from './transactional-file-sink-writer.ts';
export { FileCommitter } from './file-committer.ts';
export type { FileCommittable } from './part-files.ts';

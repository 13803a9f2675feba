import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { StreamEnvironment } from '../api/stream-environment.ts';
import { BadRecordError, ConfigurationError, EddyError, describeError } from '../core/errors.ts';
import { executeJob } from '../runtime/local-executor.ts';
import { resolveStateBackend } from '../runtime/state-backend-factory.ts';
import { camelToKebab, kebabToCamel, parseArgv } from './argv.ts';
import { extractEngineOptions } from './engine-options.ts';
import { formatJobHelp, USAGE, RUN_USAGE } from './help.ts';
import { loadJob, resolveJobPath } from './job-loader.ts';
import { formatProgress, formatSummary } from './report.ts';

/**
 * The `eddy` command. Returns the process exit code: 0 success, 1 the job failed, 2 bad usage
 * (unknown command, bad option, a job that does not load).
 */
export async function main(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  try {
    const { positionals, options } = parseArgv(argv);
    if (options.has('version')) {
      io.out(`eddy ${readVersion()}\n`);
      return 0;
    }
    const command = positionals[0];
    if (command === undefined || command === 'help') {
      io.out(USAGE);
      return 0;
    }
    if (command === 'run') return await runCommand(positionals.slice(1), options, io);
    throw new ConfigurationError(`unknown command '${command}'; see 'eddy --help'`);
  } catch (error) {
    return reportError(error, io);
  }
}

/** Where the CLI writes: the process's stdout and stderr by default, buffers in tests. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  readonly isErrTty: boolean;
}

const processIo: CliIo = {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
  isErrTty: process.stderr.isTTY === true,
};

async function runCommand(
  positionals: readonly string[],
  options: ReadonlyMap<string, string | true>,
  io: CliIo,
): Promise<number> {
  const reference = positionals[0];
  if (reference === undefined) {
    if (options.has('help')) {
      io.out(RUN_USAGE);
      return 0;
    }
    throw new ConfigurationError("'eddy run' needs a job: eddy run <job file or name> [options]; see 'eddy run --help'");
  }
  if (positionals.length > 1) {
    throw new ConfigurationError(
      `unexpected argument '${positionals[1]}': options are written --name value; see 'eddy run ${reference} --help'`,
    );
  }
  const modulePath = resolveJobPath(reference);
  const loaded = await loadJob(modulePath);
  const job = loaded.definition;
  if (options.has('help')) {
    io.out(formatJobHelp(job, reference));
    return 0;
  }
  const { engine, jobOptions } = extractEngineOptions(options);
  const rawArgs: Record<string, unknown> = {};
  for (const [name, value] of jobOptions) rawArgs[kebabToCamel(name)] = value;
  const parsed = job.args.strict().safeParse(rawArgs, { reportInput: true });
  if (!parsed.success) throw new ConfigurationError(describeArgIssues(parsed.error, job.name, reference));

  const env = new StreamEnvironment({
    jobName: job.name,
    parallelism: engine.parallelism,
    maxParallelism: engine.maxParallelism,
  });
  job.build(env, parsed.data);
  const graph = env.getStreamGraph();
  const startedAtMs = Date.now();
  // Ctrl-C cancels the job cleanly (every task closed, workers terminated); a second one kills.
  const cancellation = new AbortController();
  const onInterrupt = (): void => {
    if (cancellation.signal.aborted) process.exit(130);
    io.err('eddy: cancelling the job (Ctrl-C again to kill)\n');
    cancellation.abort(new EddyError('the job was cancelled (interrupted)', { domain: 'user' }));
  };
  process.on('SIGINT', onInterrupt);
  process.on('SIGTERM', onInterrupt);
  let result;
  try {
    result = await executeJob(graph, {
      signal: cancellation.signal,
      workers: engine.workers,
      job: { modulePath: loaded.modulePath, exportName: loaded.exportName, rawArgs },
      onBadRecord: engine.onBadRecord,
      bufferTimeoutMs: engine.bufferTimeoutMs,
      stateBackend: resolveStateBackend(graph.stateBackend, engine.stateBackend),
      log: (line) => io.err(`eddy: ${line}\n`),
      ...(engine.checkpoint === undefined ? {} : { checkpointing: engine.checkpoint }),
      ...(engine.fromCheckpoint === undefined ? {} : { fromCheckpoint: engine.fromCheckpoint }),
      ...(engine.progressIntervalMs > 0 ? { progressIntervalMs: engine.progressIntervalMs } : {}),
      ...(engine.isQuiet || engine.progressIntervalMs === 0
        ? {}
        : { onProgress: (progress) => io.err(`${formatProgress(progress, Date.now() - startedAtMs)}\n`) }),
    });
  } catch (error) {
    if (!cancellation.signal.aborted) throw error;
    io.err('eddy: job cancelled\n');
    return 130;
  } finally {
    process.off('SIGINT', onInterrupt);
    process.off('SIGTERM', onInterrupt);
  }
  if (!engine.isQuiet) io.err(formatSummary(result));
  return 0;
}

function describeArgIssues(error: z.ZodError, jobName: string, reference: string): string {
  const lines = error.issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => `unknown option --${camelToKebab(key)} for job '${jobName}'`).join('\n');
    }
    const name = issue.path.length > 0 ? `--${camelToKebab(String(issue.path[0]))}` : 'arguments';
    const message = issue.code === 'invalid_type' && issue.input === undefined ? 'is required' : issue.message;
    return `${name}: ${message}`;
  });
  return `${lines.join('\n')}\nsee 'eddy run ${reference} --help'`;
}

function reportError(error: unknown, io: CliIo): number {
  if (error instanceof ConfigurationError) {
    io.err(`eddy: ${error.message}\n`);
    return 2;
  }
  if (error instanceof BadRecordError) {
    io.err(`eddy: bad input record: ${error.message}\n  (use --on-bad-record skip or --on-bad-record dead-letter=<file> to continue past bad records)\n`);
    return 1;
  }
  if (error instanceof EddyError) {
    const where = error.operatorUid === undefined ? '' : ` [operator ${error.operatorUid}${error.subtask === undefined ? '' : `, subtask ${error.subtask}`}]`;
    io.err(`eddy: job failed${where}: ${error.message}\n`);
    if (error.domain === 'internal' && error.stack !== undefined) io.err(`${error.stack}\n`);
    return 1;
  }
  io.err(`eddy: job failed: ${describeError(error)}\n`);
  if (error instanceof Error && error.stack !== undefined) io.err(`${error.stack}\n`);
  return 1;
}

function readVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
  return pkg.version ?? 'unknown';
}

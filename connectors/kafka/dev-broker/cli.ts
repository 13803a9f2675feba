import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseDuration } from '../../../src/core/duration.ts';
import { ConfigurationError, describeError, EddyError } from '../../../src/core/errors.ts';
import {
  DEFAULT_BROKER_PORT,
  DEFAULT_CONTROLLER_PORT,
  DEFAULT_DATA_DIR,
  DEFAULT_HEAP,
  DEFAULT_READY_TIMEOUT_MS,
  devBrokerStatus,
  startDevBroker,
  stopDevBroker,
} from './dev-broker.ts';

/**
 * `node --import tsx connectors/kafka/dev-broker/cli.ts start|stop|status [options]` (the npm scripts
 * `kafka:start`, `kafka:stop`, `kafka:status`). `start` leaves the broker running after it returns.
 * Exit codes: 0 done / running and answering; 1 failure, or running but not answering; 2 bad usage;
 * 3 (`status`) not running.
 */

const USAGE = `usage: npm run kafka:<start|stop|status> -- [options]
       node --import tsx connectors/kafka/dev-broker/cli.ts <start|stop|status> [options]

Runs a local Apache Kafka broker (KRaft, one node, 127.0.0.1) from Maven Central jars.
Needs java (17) and mvn on the PATH; the jars are fetched once into node_modules/.cache/eddy-kafka.

options:
  --port <n>             client port (default ${DEFAULT_BROKER_PORT})
  --controller-port <n>  KRaft controller port (default ${DEFAULT_CONTROLLER_PORT})
  --data-dir <dir>       configuration, logs and partition data (default ${path.relative(process.cwd(), DEFAULT_DATA_DIR) || '.'})
  --heap <size>          maximum JVM heap, start only (default ${DEFAULT_HEAP})
  --ready-timeout <d>    how long start waits for the broker, e.g. 90s (default ${DEFAULT_READY_TIMEOUT_MS / 1000}s)
  --help`;

/** Runs the CLI with `argv` (without node and the script) and returns the process exit code. */
export async function runDevBrokerCli(argv: readonly string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        port: { type: 'string' },
        'controller-port': { type: 'string' },
        'data-dir': { type: 'string' },
        heap: { type: 'string' },
        'ready-timeout': { type: 'string' },
        help: { type: 'boolean' },
      },
    });
  } catch (error) {
    process.stderr.write(`${describeError(error)}\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  const command = positionals[0];
  if (values.help === true) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (positionals.length !== 1 || (command !== 'start' && command !== 'stop' && command !== 'status')) {
    process.stderr.write(`expected one command, start, stop or status; got '${positionals.join(' ')}'\n${USAGE}\n`);
    return 2;
  }
  const dataDir = path.resolve(values['data-dir'] ?? DEFAULT_DATA_DIR);
  try {
    switch (command) {
      case 'start': {
        const startedAtMs = Date.now();
        const broker = await startDevBroker({
          port: parsePort(values.port, '--port', DEFAULT_BROKER_PORT),
          controllerPort: parsePort(values['controller-port'], '--controller-port', DEFAULT_CONTROLLER_PORT),
          dataDir,
          heap: values.heap ?? DEFAULT_HEAP,
          readyTimeoutMs: parseDuration(values['ready-timeout'] ?? DEFAULT_READY_TIMEOUT_MS, '--ready-timeout'),
          onProgress: (message) => process.stderr.write(`kafka: ${message}\n`),
        });
        const how = broker.wasRunning ? 'already running' : `started in ${((Date.now() - startedAtMs) / 1000).toFixed(1)} s`;
        process.stdout.write(
          `Kafka ${broker.kafkaVersion} broker ${how} at ${broker.bootstrap} (pid ${broker.pid}, data ${broker.dataDir}, log ${broker.logFile})\n`,
        );
        return 0;
      }
      case 'stop': {
        const result = await stopDevBroker(dataDir);
        process.stdout.write(
          result.kind === 'stopped'
            ? `stopped the Kafka broker (pid ${result.pid}${result.wasKilled ? ', with SIGKILL after SIGTERM timed out' : ''})\n`
            : `no Kafka dev broker is running from ${dataDir}\n`,
        );
        return 0;
      }
      case 'status': {
        const status = await devBrokerStatus(dataDir);
        if (status.kind === 'not-running') {
          process.stdout.write(`no Kafka dev broker is running from ${dataDir}\n`);
          return 3;
        }
        const { state } = status;
        process.stdout.write(
          `Kafka ${state.kafkaVersion} broker at ${state.bootstrap} (pid ${state.pid}, since ${state.startedAt}) ` +
            `${status.isAnswering ? 'is answering' : 'is NOT answering'}; log ${state.logFile}\n`,
        );
        return status.isAnswering ? 0 : 1;
      }
    }
  } catch (error) {
    // Eddy's own errors are sentences for the user; anything else is a bug worth its stack.
    process.stderr.write(`kafka ${command}: ${error instanceof EddyError ? error.message : String((error as Error).stack ?? error)}\n`);
    return 1;
  }
}

function parsePort(text: string | undefined, option: string, fallback: number): number {
  if (text === undefined) return fallback;
  const port = Number(text);
  if (!/^\d+$/.test(text) || port < 1 || port > 65_535) {
    throw new ConfigurationError(`${option} must be a TCP port (1-65535), got '${text}'`);
  }
  return port;
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await runDevBrokerCli(process.argv.slice(2));
}

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { link, mkdir, open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { ConfigurationError, describeError, EddyError } from '../../../src/core/errors.ts';
import { isPortFree } from './free-ports.ts';
import { ensureKafkaJars, findJava, KAFKA_CACHE_DIR, KAFKA_VERSION, tail } from './kafka-jars.ts';
import { isProcessRunning, readCommandLine, runCommand, terminateProcess } from './local-processes.ts';
import { newClusterId, renderLog4jProperties, renderServerProperties } from './server-config.ts';

/**
 * A real Apache Kafka broker for development and tests, run from Maven Central jars with the local
 * Java: one KRaft node (controller and broker in one JVM) on 127.0.0.1, its files in one data folder.
 *
 * Invariants:
 * - A data folder has at most one broker. Its pid is in `broker.pid`; a pid counts as that broker
 *   only while its command line is `java … kafka.Kafka <data folder>/server.properties`, so a
 *   reused pid is never signalled.
 * - Starting is idempotent: a running broker of the folder on the same ports is reused, not
 *   restarted. Starts of one folder are serialised by `start.lock` (held from the check to ready).
 * - A start returns only when the broker answers a metadata request, or fails within its bound
 *   with the end of the broker's log; a broker that failed to become ready is stopped.
 * - The broker runs in its own process group, so Ctrl-C in the terminal that started it does not
 *   end it: it runs until {@link stopDevBroker}, or until its owner process exits (`ownerPid`).
 */

/** Default client port of the CLI (`npm run kafka:start`); tests pick free ports instead. */
export const DEFAULT_BROKER_PORT = 9092;
/** Default KRaft controller port of the CLI. */
export const DEFAULT_CONTROLLER_PORT = 9093;
/** Default data folder: inside node_modules/.cache, so a fresh `npm ci` also starts a fresh cluster. */
export const DEFAULT_DATA_DIR = path.join(KAFKA_CACHE_DIR, 'data');
/** Default maximum heap; see {@link DevBrokerOptions.heap}. */
export const DEFAULT_HEAP = '256m';
/** Default bound of a start, from spawning the JVM to the broker answering (jar download excluded). */
export const DEFAULT_READY_TIMEOUT_MS = 60_000;

/** Bound of SIGTERM before SIGKILL: a clean KRaft shutdown of an idle dev broker takes 1-2 s. */
const DEFAULT_STOP_TIMEOUT_MS = 20_000;
/** How long a start waits for another start of the same folder (which may be downloading jars). */
const START_LOCK_TIMEOUT_MS = 420_000;
/** Bound of formatting a new data folder's storage (a short JVM run, about 1.5 s). */
const FORMAT_TIMEOUT_MS = 60_000;
const PROBE_TIMEOUT_MS = 2_000;
const PROBE_INTERVAL_MS = 200;
/** Starting heap: small, so an idle broker stays small; it grows up to the maximum when needed. */
const INITIAL_HEAP_BYTES = 32 * 1024 * 1024;

const FILES = {
  config: 'server.properties',
  log4j: 'log4j.properties',
  logDir: 'kafka-logs',
  log: 'broker.log',
  previousLog: 'broker.previous.log',
  pid: 'broker.pid',
  state: 'broker.json',
  lock: 'start.lock',
} as const;

/** Options of {@link startDevBroker}. */
export interface DevBrokerOptions {
  /** Client (PLAINTEXT) port on 127.0.0.1; default 9092. */
  readonly port?: number;
  /** KRaft controller port on 127.0.0.1; default 9093. */
  readonly controllerPort?: number;
  /** Folder of the broker's configuration, logs, pid and partition data; default {@link DEFAULT_DATA_DIR}. */
  readonly dataDir?: string;
  /**
   * Maximum JVM heap (`-Xmx`), e.g. `256m` or `1g`; default 256m. Kafka keeps records in the page
   * cache, not on the heap; a development broker with a few topics peaks well below 100 MB.
   */
  readonly heap?: string;
  /** Bound from spawning the JVM to the broker answering, in ms; default 60 s. */
  readonly readyTimeoutMs?: number;
  /**
   * Stop the broker when this process exits (a watchdog polls it every second and then sends
   * SIGTERM, SIGKILL after 15 s). Tests pass their runner's pid so that a killed run leaves no
   * broker behind; by default the broker runs until {@link stopDevBroker}. Only applies to a broker
   * this call starts, not to one it reuses.
   */
  readonly ownerPid?: number;
  /**
   * Extra `server.properties` entries, replacing the defaults (see server-config.ts). They must not
   * change the listeners, `node.id` or `log.dirs`.
   */
  readonly properties?: Readonly<Record<string, string | number | boolean>>;
  /** Told about slow steps: the one-time jar download, formatting storage, starting the JVM. */
  readonly onProgress?: (message: string) => void;
}

/** What is recorded about a running broker in `broker.json` of its data folder. */
export interface DevBrokerState {
  readonly kafkaVersion: string;
  readonly pid: number;
  readonly port: number;
  readonly controllerPort: number;
  /** `host:port` for clients' `bootstrap.servers`. */
  readonly bootstrap: string;
  /** Absolute data folder. */
  readonly dataDir: string;
  readonly logFile: string;
  /** When the JVM was spawned, ISO-8601. */
  readonly startedAt: string;
}

/** A running development broker, as returned by {@link startDevBroker}. */
export interface DevBroker extends DevBrokerState {
  /** True when the broker was already running and this call reused it. */
  readonly wasRunning: boolean;
  /** Stops the broker ({@link stopDevBroker} of its data folder). */
  stop(): Promise<void>;
}

/** What {@link devBrokerStatus} found in a data folder. */
export type DevBrokerStatus =
  | { readonly kind: 'running'; readonly state: DevBrokerState; readonly isAnswering: boolean }
  | { readonly kind: 'not-running' };

/** What {@link stopDevBroker} did. */
export type DevBrokerStopResult =
  | { readonly kind: 'stopped'; readonly pid: number; readonly wasKilled: boolean }
  | { readonly kind: 'not-running' };

interface ResolvedOptions {
  readonly port: number;
  readonly controllerPort: number;
  readonly dataDir: string;
  readonly heap: string;
  readonly readyTimeoutMs: number;
  readonly ownerPid: number | undefined;
  readonly properties: Readonly<Record<string, string | number | boolean>>;
  readonly onProgress: (message: string) => void;
}

/**
 * Starts a Kafka broker from the data folder, or reuses the one already running there on the same
 * ports, and resolves once it answers clients at `bootstrap`. Downloads the Kafka jars first when
 * they are missing ({@link ensureKafkaJars}); formats the folder's storage on first use.
 *
 * @throws ConfigurationError for bad options, a port in use, a broker of this folder running on
 *   other ports, or no `java`/`mvn`; EddyError (external) when the broker exits or is not ready
 *   within `readyTimeoutMs`, with the end of its log.
 */
export async function startDevBroker(options: DevBrokerOptions = {}): Promise<DevBroker> {
  const settings = resolveOptions(options);
  await mkdir(settings.dataDir, { recursive: true });
  const releaseLock = await acquireStartLock(settings.dataDir);
  try {
    const running = await findRunningBroker(settings.dataDir);
    if (running !== undefined) return await reuse(running, settings);
    return await launch(settings);
  } finally {
    await releaseLock();
  }
}

/**
 * Stops the broker of a data folder, if one runs: SIGTERM (a clean KRaft shutdown), SIGKILL if it is
 * still there after `timeoutMs`. Only ever signals the pid in `broker.pid`, and only while that pid
 * is `java … kafka.Kafka <dataDir>/server.properties`. Leaves the data in place.
 */
export async function stopDevBroker(
  dataDir: string = DEFAULT_DATA_DIR,
  options: { readonly timeoutMs?: number } = {},
): Promise<DevBrokerStopResult> {
  const dir = path.resolve(dataDir);
  const pid = await readPid(dir);
  if (pid === undefined || !(await isBrokerOf(dir, pid))) {
    await removeRunFiles(dir, pid);
    return { kind: 'not-running' };
  }
  const outcome = await terminateProcess(pid, options.timeoutMs ?? DEFAULT_STOP_TIMEOUT_MS);
  await removeRunFiles(dir, pid);
  return outcome === 'not-running' ? { kind: 'not-running' } : { kind: 'stopped', pid, wasKilled: outcome === 'killed' };
}

/** Whether a broker of the data folder is running, and whether it answers clients right now. */
export async function devBrokerStatus(dataDir: string = DEFAULT_DATA_DIR): Promise<DevBrokerStatus> {
  const state = await findRunningBroker(path.resolve(dataDir));
  if (state === undefined) return { kind: 'not-running' };
  return { kind: 'running', state, isAnswering: await isBrokerAnswering(state.bootstrap, PROBE_TIMEOUT_MS) };
}

/**
 * Whether a Kafka broker at `bootstrap` answers a metadata request (kafkajs `describeCluster`, no
 * retries) within `timeoutMs`. A port that accepts connections but speaks no Kafka gives false.
 */
export async function isBrokerAnswering(bootstrap: string, timeoutMs: number): Promise<boolean> {
  // A connection still in its handshake (a port that accepts but speaks no Kafka, a broker still
  // starting) outlives kafkajs's disconnect() until kafkajs's own timeout fires: the probe closes
  // its sockets itself, so that none outlives it.
  const sockets = new Set<Socket>();
  const kafka = new Kafka({
    clientId: 'eddy-dev-broker-probe',
    brokers: [bootstrap],
    logLevel: logLevel.NOTHING,
    connectionTimeout: timeoutMs,
    requestTimeout: timeoutMs,
    retry: { retries: 0 },
    socketFactory: ({ host, port, onConnect }) => {
      const socket = connect({ host, port }, onConnect);
      sockets.add(socket);
      return socket;
    },
  });
  const admin = kafka.admin({ retry: { retries: 0 } });
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    const described = admin
      .connect()
      .then(() => admin.describeCluster())
      .then((cluster) => cluster.brokers.length > 0)
      .catch(() => false);
    return await Promise.race([described, timedOut]);
  } finally {
    clearTimeout(timer);
    await admin.disconnect().catch(() => undefined);
    for (const socket of sockets) socket.destroy();
  }
}

function resolveOptions(options: DevBrokerOptions): ResolvedOptions {
  const port = options.port ?? DEFAULT_BROKER_PORT;
  const controllerPort = options.controllerPort ?? DEFAULT_CONTROLLER_PORT;
  for (const [name, value] of [
    ['port', port],
    ['controllerPort', controllerPort],
  ] as const) {
    if (!Number.isInteger(value) || value < 1 || value > 65_535) {
      throw new ConfigurationError(`Kafka dev broker ${name} must be a TCP port (1-65535), got ${value}`);
    }
  }
  if (port === controllerPort) {
    throw new ConfigurationError(`Kafka dev broker port and controllerPort must differ, both are ${port}`);
  }
  const heap = options.heap ?? DEFAULT_HEAP;
  if (!/^[1-9]\d*[kmg]$/i.test(heap)) {
    throw new ConfigurationError(`Kafka dev broker heap must be a JVM size such as 256m or 1g, got '${heap}'`);
  }
  const readyTimeoutMs = options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
  if (!Number.isInteger(readyTimeoutMs) || readyTimeoutMs <= 0) {
    throw new ConfigurationError(`Kafka dev broker readyTimeoutMs must be a positive whole number of ms, got ${readyTimeoutMs}`);
  }
  if (options.ownerPid !== undefined && (!Number.isInteger(options.ownerPid) || options.ownerPid <= 0)) {
    throw new ConfigurationError(`Kafka dev broker ownerPid must be a process id, got ${options.ownerPid}`);
  }
  return {
    port,
    controllerPort,
    dataDir: path.resolve(options.dataDir ?? DEFAULT_DATA_DIR),
    heap,
    readyTimeoutMs,
    ownerPid: options.ownerPid,
    properties: options.properties ?? {},
    onProgress: options.onProgress ?? (() => undefined),
  };
}

async function reuse(running: DevBrokerState, settings: ResolvedOptions): Promise<DevBroker> {
  if (running.port !== settings.port || running.controllerPort !== settings.controllerPort) {
    throw new ConfigurationError(
      `a Kafka dev broker (pid ${running.pid}) already runs from ${settings.dataDir} on ports ` +
        `${running.port}/${running.controllerPort}, not ${settings.port}/${settings.controllerPort}: ` +
        `use its ports, or stop it first (npm run kafka:stop -- --data-dir ${settings.dataDir})`,
    );
  }
  // It was ready when its start released the lock, unless that start died midway: check again.
  const hint = `it is left running: stop it with npm run kafka:stop -- --data-dir ${settings.dataDir}`;
  await waitUntilReady(running, settings.readyTimeoutMs, undefined, hint);
  return handleFor(running, true);
}

async function launch(settings: ResolvedOptions): Promise<DevBroker> {
  const { dataDir, port, controllerPort } = settings;
  for (const [name, value] of [
    ['port', port],
    ['controller port', controllerPort],
  ] as const) {
    if (!(await isPortFree(value))) {
      throw new ConfigurationError(
        `cannot start the Kafka dev broker: ${name} ${value} on 127.0.0.1 is already in use by another process ` +
          '(another Kafka broker or container?). Stop it, or choose free ports (--port / --controller-port).',
      );
    }
  }
  const [java, libsDir] = await Promise.all([findJava(), ensureKafkaJars({ onProgress: settings.onProgress })]);
  const file = (name: string): string => path.join(dataDir, name);
  const logDir = file(FILES.logDir);
  await writeFile(file(FILES.config), renderServerProperties({ port, controllerPort, logDir, overrides: settings.properties }));
  await writeFile(file(FILES.log4j), renderLog4jProperties());
  const classpath = [`-Dlog4j.configuration=${pathToFileURL(file(FILES.log4j)).href}`, '-cp', path.join(libsDir, '*')];

  if (!existsSync(path.join(logDir, 'meta.properties'))) {
    settings.onProgress(`formatting the KRaft storage of ${logDir}`);
    const format = await runCommand(
      java,
      [...lightJvmFlags('128m'), ...classpath, 'kafka.tools.StorageTool', 'format', '-t', newClusterId(), '-c', file(FILES.config)],
      { timeoutMs: FORMAT_TIMEOUT_MS },
    );
    if (format.exitCode !== 0) {
      const how = format.isTimedOut ? `did not finish within ${FORMAT_TIMEOUT_MS} ms` : `failed (exit code ${format.exitCode})`;
      throw new EddyError(`kafka-storage format of ${logDir} ${how}:\n${tail(format.output)}`, { domain: 'external' });
    }
  }

  if (existsSync(file(FILES.log))) await rename(file(FILES.log), file(FILES.previousLog));
  const logHandle = await open(file(FILES.log), 'a');
  let broker: ChildProcess;
  let exit: ExitWatch;
  try {
    settings.onProgress(`starting Kafka ${KAFKA_VERSION} on 127.0.0.1:${port} (log: ${file(FILES.log)})`);
    // Detached: its own process group, so a Ctrl-C meant for the starter does not reach it.
    broker = spawn(java, [...lightJvmFlags(settings.heap), ...classpath, 'kafka.Kafka', file(FILES.config)], {
      cwd: dataDir,
      detached: true,
      stdio: ['ignore', logHandle.fd, logHandle.fd],
    });
    // Before any await: 'spawn' and 'error' are emitted on the next tick.
    exit = watchExit(broker);
  } finally {
    await logHandle.close();
  }
  await exit.spawned;
  broker.unref();
  const state: DevBrokerState = {
    kafkaVersion: KAFKA_VERSION,
    pid: broker.pid!,
    port,
    controllerPort,
    bootstrap: `127.0.0.1:${port}`,
    dataDir,
    logFile: file(FILES.log),
    startedAt: new Date().toISOString(),
  };
  await writeFile(file(FILES.pid), `${state.pid}\n`);
  await writeFile(file(FILES.state), `${JSON.stringify(state, null, 2)}\n`);
  if (settings.ownerPid !== undefined) startWatchdog(state.pid, settings.ownerPid, file(FILES.config));

  try {
    await waitUntilReady(state, settings.readyTimeoutMs, exit, 'it is being stopped');
  } catch (error) {
    await terminateProcess(state.pid, 5_000).catch(() => undefined);
    await removeRunFiles(dataDir, state.pid);
    throw error;
  }
  return handleFor(state, false);
}

/**
 * JVM flags for a small broker on a shared 2-core machine (measured on one, Kafka 3.9.1, Java 17):
 * - the serial collector: no GC threads, the smallest footprint; pauses at this heap size are short;
 * - C1 only (`TieredStopAtLevel=1`): ready in 1.5-1.7 s with 1.9 s of CPU, against 1.6-3.4 s and
 *   2.5-3.0 s with C2 as well (which loses most under load), and 15-25 MB less RSS; the peak
 *   throughput it gives up is one a development broker never needs;
 * - a 32 MB starting heap, growing to the maximum on demand: 149 MB RSS idle, against 220 MB when
 *   the whole 256 MB heap is committed up front (`-Xms256m`), at the same start time;
 * - exit on OutOfMemoryError rather than limp on.
 */
function lightJvmFlags(maxHeap: string): string[] {
  const initialHeap = Math.min(INITIAL_HEAP_BYTES, parseJvmSize(maxHeap));
  return [
    `-Xmx${maxHeap}`,
    `-Xms${initialHeap}`,
    '-XX:+UseSerialGC',
    '-XX:TieredStopAtLevel=1',
    '-XX:+ExitOnOutOfMemoryError',
    '-Djava.awt.headless=true',
  ];
}

function parseJvmSize(size: string): number {
  const unit = { k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[size.slice(-1).toLowerCase() as 'k' | 'm' | 'g'];
  return Number(size.slice(0, -1)) * unit;
}

/** The exit of a spawned broker as it happens, so the readiness wait can stop at once. */
interface ExitWatch {
  /** Resolves once the process runs; rejects if it could not be spawned. */
  readonly spawned: Promise<void>;
  /** Set when the process has exited. */
  readonly status: () => string | undefined;
}

function watchExit(child: ChildProcess): ExitWatch {
  let status: string | undefined;
  child.once('exit', (code, signal) => {
    status = signal === null ? `exited with code ${code}` : `was ended by ${signal}`;
  });
  const spawned = new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (error) =>
      reject(new EddyError(`could not start java for the Kafka dev broker: ${describeError(error)}`, { cause: error })),
    );
  });
  return { spawned, status: () => status };
}

/**
 * Polls the broker until it answers. Fails at once if it exits (`exit` watches a broker this process
 * spawned; otherwise its pid is checked), and after `timeoutMs` with `onTimeout` saying what happens next.
 */
async function waitUntilReady(
  state: DevBrokerState,
  timeoutMs: number,
  exit: ExitWatch | undefined,
  onTimeout: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const where = `on ${state.bootstrap} (controller port ${state.controllerPort})`;
  for (;;) {
    const exitStatus = exit !== undefined ? exit.status() : (await isProcessRunning(state.pid)) ? undefined : 'exited';
    if (exitStatus !== undefined) {
      throw new EddyError(
        `the Kafka dev broker (pid ${state.pid}) ${exitStatus} before it was ready ${where}. ${await describeLogTail(state.logFile)}`,
        { domain: 'external' },
      );
    }
    const remainingMs = deadline - Date.now();
    if (remainingMs <= 0) {
      throw new EddyError(
        `the Kafka dev broker (pid ${state.pid}) was not ready ${where} within ${timeoutMs} ms; ${onTimeout}. ` +
          (await describeLogTail(state.logFile)),
        { domain: 'external', isRetriable: true },
      );
    }
    if (await isBrokerAnswering(state.bootstrap, Math.min(PROBE_TIMEOUT_MS, remainingMs))) return;
    await sleep(Math.min(PROBE_INTERVAL_MS, Math.max(0, deadline - Date.now())));
  }
}

/**
 * The first ERROR of the broker's log with the two lines after it (the exception), and the log's last
 * lines. Both are needed: a failed start logs its cause (e.g. "Socket server failed to bind to
 * 127.0.0.1:9092: Address already in use") and then some hundred lines of orderly shutdown.
 */
async function describeLogTail(logFile: string, maxLines = 20): Promise<string> {
  let text: string;
  try {
    text = (await readFile(logFile, 'utf8')).slice(-4 * 1024 * 1024);
  } catch (error) {
    return `Its log ${logFile} could not be read: ${describeError(error)}`;
  }
  if (text.trim().length === 0) return `Its log ${logFile} is empty.`;
  const lines = text.trimEnd().split('\n');
  const firstError = lines.findIndex((line) => /^\[[^\]]+\] (ERROR|FATAL) /.test(line));
  const cause =
    firstError >= 0 && firstError < lines.length - maxLines
      ? `First error in ${logFile}:\n${lines
          .slice(firstError, firstError + 3)
          .map((line) => line.slice(0, 500))
          .join('\n')}\n`
      : '';
  return `${cause}Last lines of ${logFile}:\n${lines
    .slice(-maxLines)
    .map((line) => line.slice(0, 500))
    .join('\n')}`;
}

function handleFor(state: DevBrokerState, wasRunning: boolean): DevBroker {
  return {
    ...state,
    wasRunning,
    stop: async () => {
      await stopDevBroker(state.dataDir);
    },
  };
}

/**
 * The broker of the folder if its pid file names a live `kafka.Kafka` of this folder; otherwise
 * removes whatever pid and state files a dead broker left and returns undefined.
 */
async function findRunningBroker(dataDir: string): Promise<DevBrokerState | undefined> {
  const pid = await readPid(dataDir);
  if (pid === undefined) return undefined;
  if (!(await isBrokerOf(dataDir, pid))) {
    await removeRunFiles(dataDir, pid);
    return undefined;
  }
  try {
    const state = JSON.parse(await readFile(path.join(dataDir, FILES.state), 'utf8')) as DevBrokerState;
    if (state.pid === pid) return state;
  } catch {
    // Falls through to the error below.
  }
  throw new EddyError(
    `a Kafka dev broker (pid ${pid}) runs from ${dataDir} but its ${FILES.state} is missing or stale: ` +
      `stop it (npm run kafka:stop -- --data-dir ${dataDir}) and start it again`,
    { domain: 'user' },
  );
}

async function readPid(dataDir: string): Promise<number | undefined> {
  try {
    const pid = Number((await readFile(path.join(dataDir, FILES.pid), 'utf8')).trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Whether `pid` is a running `java … kafka.Kafka <dataDir>/server.properties`. */
async function isBrokerOf(dataDir: string, pid: number): Promise<boolean> {
  if (!(await isProcessRunning(pid))) return false;
  const commandLine = await readCommandLine(pid);
  return commandLine !== undefined && commandLine.includes(` kafka.Kafka ${path.join(dataDir, FILES.config)}`);
}

/** Removes the pid and state files, unless they already name another broker than `pid`. */
async function removeRunFiles(dataDir: string, pid: number | undefined): Promise<void> {
  if (pid !== undefined && (await readPid(dataDir)) !== pid) return;
  await rm(path.join(dataDir, FILES.pid), { force: true });
  await rm(path.join(dataDir, FILES.state), { force: true });
}

/**
 * Takes the folder's start lock, waiting for a concurrent start (another process or call) to finish.
 * The lock file holds the starter's pid and appears atomically (hard link of a complete file); a lock
 * whose starter has died is taken over.
 */
async function acquireStartLock(dataDir: string): Promise<() => Promise<void>> {
  const lockFile = path.join(dataDir, FILES.lock);
  const candidate = `${lockFile}.${process.pid}.${Math.random().toString(36).slice(2)}`;
  await writeFile(candidate, `${process.pid}\n`);
  const deadline = Date.now() + START_LOCK_TIMEOUT_MS;
  try {
    for (;;) {
      try {
        await link(candidate, lockFile);
        return () => rm(lockFile, { force: true });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const holder = Number((await readFile(lockFile, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(holder) && holder > 0 && !(await isProcessRunning(holder))) {
        await rm(lockFile, { force: true });
        continue;
      }
      if (Date.now() >= deadline) {
        throw new EddyError(
          `another start of the Kafka dev broker in ${dataDir} (pid ${holder}) has held ${lockFile} for ` +
            `${START_LOCK_TIMEOUT_MS} ms; if no such start is running, delete that file`,
          { domain: 'external' },
        );
      }
      await sleep(PROBE_INTERVAL_MS);
    }
  } finally {
    await rm(candidate, { force: true });
  }
}

/**
 * A detached shell that stops the broker once `ownerPid` is gone (checked every second), and ends by
 * itself when the broker ends first. It signals only while the pid is still this folder's broker.
 */
function startWatchdog(brokerPid: number, ownerPid: number, configFile: string): void {
  const script = [
    'broker=$1 owner=$2 config=$3',
    'is_our_broker() {',
    '  cmd=$(tr "\\0" " " < "/proc/$broker/cmdline" 2>/dev/null || ps -o command= -p "$broker" 2>/dev/null)',
    '  case "$cmd" in *" kafka.Kafka $config"*) return 0 ;; *) return 1 ;; esac',
    '}',
    'while kill -0 "$owner" 2>/dev/null && is_our_broker; do sleep 1; done',
    'is_our_broker || exit 0',
    'kill -TERM "$broker" 2>/dev/null',
    'i=0',
    'while [ "$i" -lt 150 ] && is_our_broker; do sleep 0.1; i=$((i + 1)); done',
    'is_our_broker && kill -KILL "$broker" 2>/dev/null',
    'exit 0',
  ].join('\n');
  const watchdog = spawn('/bin/sh', ['-c', script, 'eddy-kafka-watchdog', String(brokerPid), String(ownerPid), configFile], {
    detached: true,
    stdio: 'ignore',
  });
  watchdog.on('error', () => undefined);
  watchdog.unref();
}

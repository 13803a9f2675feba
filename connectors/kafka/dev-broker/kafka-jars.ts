import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigurationError, EddyError } from '../../../src/core/errors.ts';
import { runCommand } from './local-processes.ts';

/**
 * The Apache Kafka jars of the development broker, fetched from Maven Central once per machine with
 * `mvn dependency:copy-dependencies` over pom.xml beside this file, into
 * `node_modules/.cache/eddy-kafka/<version>/libs`. A folder counts as complete only with its marker
 * file, written last and naming the pom it came from, so an interrupted download is redone and a
 * changed pom is fetched again.
 */

/** The Kafka release the development broker runs; must equal `kafka.version` in pom.xml. */
export const KAFKA_VERSION = '3.9.1';

/** The oldest Java that runs a Kafka 3.9 broker. */
const MIN_JAVA_MAJOR = 11;

const POM_FILE = fileURLToPath(new URL('./pom.xml', import.meta.url));
const PROJECT_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Where the jars and the default data folder live: a cache of this checkout, gone with node_modules. */
export const KAFKA_CACHE_DIR = path.join(PROJECT_ROOT, 'node_modules', '.cache', 'eddy-kafka');

const MARKER_FILE = '.complete.json';

/** Bound of one `mvn` run: 46 MB from Maven Central, plus Maven's own plugins on a fresh machine. */
const DEFAULT_DOWNLOAD_TIMEOUT_MS = 300_000;

interface CompletionMarker {
  readonly kafkaVersion: string;
  readonly pomSha256: string;
  readonly jars: readonly string[];
}

/** Options of {@link ensureKafkaJars}. */
export interface EnsureKafkaJarsOptions {
  /** Bound of the `mvn` run, in milliseconds; default 5 minutes. */
  readonly timeoutMs?: number;
  /** Told once before a download starts (not when the jars are already there). */
  readonly onProgress?: (message: string) => void;
}

const inFlight = new Map<string, Promise<string>>();

/**
 * Returns the folder holding Kafka's jars (for `java -cp '<folder>/*'`), running Maven to fill it only
 * when it is missing or incomplete. Concurrent calls in one process share one download; concurrent
 * processes each download into a private folder and the first to finish wins the rename.
 *
 * @throws ConfigurationError when `mvn` is not installed; EddyError (external) when Maven fails or
 *   exceeds the timeout, with the end of its output.
 */
export function ensureKafkaJars(options: EnsureKafkaJarsOptions = {}): Promise<string> {
  const libsDir = path.join(KAFKA_CACHE_DIR, KAFKA_VERSION, 'libs');
  let pending = inFlight.get(libsDir);
  if (pending === undefined) {
    pending = fetchJarsIfMissing(libsDir, options).finally(() => inFlight.delete(libsDir));
    inFlight.set(libsDir, pending);
  }
  return pending;
}

async function fetchJarsIfMissing(libsDir: string, options: EnsureKafkaJarsOptions): Promise<string> {
  const pomSha256 = createHash('sha256').update(await readFile(POM_FILE)).digest('hex');
  if (await isComplete(libsDir, pomSha256)) return libsDir;

  const versionDir = path.dirname(libsDir);
  await mkdir(versionDir, { recursive: true });
  const downloadDir = await mkdtemp(path.join(versionDir, 'libs.partial-'));
  try {
    options.onProgress?.(`fetching the Apache Kafka ${KAFKA_VERSION} jars from Maven Central with mvn into ${libsDir} (once; about 46 MB)`);
    await runMaven(downloadDir, options.timeoutMs ?? DEFAULT_DOWNLOAD_TIMEOUT_MS);
    const jars = (await readdir(downloadDir)).filter((name) => name.endsWith('.jar')).sort();
    if (!jars.includes(`kafka_2.13-${KAFKA_VERSION}.jar`)) {
      throw new EddyError(`mvn finished but ${downloadDir} holds no kafka_2.13-${KAFKA_VERSION}.jar; check ${POM_FILE}`);
    }
    const marker: CompletionMarker = { kafkaVersion: KAFKA_VERSION, pomSha256, jars };
    await writeFile(path.join(downloadDir, MARKER_FILE), `${JSON.stringify(marker, null, 2)}\n`);
    // Another process may have finished first: keep its folder rather than pull it from under a JVM.
    if (await isComplete(libsDir, pomSha256)) return libsDir;
    await rm(libsDir, { recursive: true, force: true });
    await rename(downloadDir, libsDir);
    // mkdtemp made it private (0700); the jars are no secret.
    await chmod(libsDir, 0o755);
    return libsDir;
  } finally {
    await rm(downloadDir, { recursive: true, force: true });
  }
}

async function isComplete(libsDir: string, pomSha256: string): Promise<boolean> {
  let marker: CompletionMarker;
  try {
    marker = JSON.parse(await readFile(path.join(libsDir, MARKER_FILE), 'utf8')) as CompletionMarker;
  } catch {
    return false;
  }
  return (
    marker.kafkaVersion === KAFKA_VERSION &&
    marker.pomSha256 === pomSha256 &&
    marker.jars.length > 0 &&
    marker.jars.every((jar) => existsSync(path.join(libsDir, jar)))
  );
}

async function runMaven(outputDir: string, timeoutMs: number): Promise<void> {
  const args = [
    '--batch-mode',
    '--quiet',
    '-f',
    POM_FILE,
    'dependency:copy-dependencies',
    '-DincludeScope=runtime',
    `-DoutputDirectory=${outputDir}`,
  ];
  const result = await runCommand('mvn', args, { timeoutMs, cwd: path.dirname(POM_FILE) }).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new ConfigurationError(
        'mvn (Apache Maven) is not on the PATH: the local Kafka broker fetches its jars from Maven Central with it. ' +
          'Install Maven 3.8+ and a JDK 17 (e.g. `apt-get install maven openjdk-17-jdk-headless`), or point Eddy at your own Kafka cluster.',
        { cause: error },
      );
    }
    throw error;
  });
  if (result.isTimedOut) {
    throw new EddyError(`mvn did not fetch the Kafka jars within ${timeoutMs} ms; output so far:\n${tail(result.output)}`, {
      domain: 'external',
      isRetriable: true,
    });
  }
  if (result.exitCode !== 0) {
    throw new EddyError(
      `mvn failed (exit code ${result.exitCode}) fetching the Kafka jars of ${POM_FILE}:\n${tail(result.output)}`,
      { domain: 'external', isRetriable: true },
    );
  }
}

/**
 * The `java` to run: `$JAVA_HOME/bin/java` when JAVA_HOME is set, else `java` from the PATH. Checks
 * that it runs and is Java 11 or newer.
 *
 * @throws ConfigurationError naming `java` when it is missing or too old.
 */
export async function findJava(): Promise<string> {
  const javaHome = process.env['JAVA_HOME'];
  const java = javaHome !== undefined && javaHome.length > 0 ? path.join(javaHome, 'bin', 'java') : 'java';
  const result = await runCommand(java, ['-version'], { timeoutMs: 30_000 }).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new ConfigurationError(
        `${java} was not found${java === 'java' ? ' on the PATH' : ' (from JAVA_HOME)'}: the local Kafka broker needs Java ${MIN_JAVA_MAJOR}+ ` +
          '(17 recommended, e.g. `apt-get install openjdk-17-jdk-headless`), or point Eddy at your own Kafka cluster.',
        { cause: error },
      );
    }
    throw error;
  });
  // `java -version` prints e.g. `openjdk version "17.0.15" 2025-04-15` or `java version "1.8.0_392"`.
  const version = /version "(\d+)(?:\.(\d+))?/.exec(result.output);
  const major = version === null ? Number.NaN : version[1] === '1' ? Number(version[2]) : Number(version[1]);
  if (result.exitCode !== 0 || !(major >= MIN_JAVA_MAJOR)) {
    throw new ConfigurationError(
      `${java} is not a usable Java ${MIN_JAVA_MAJOR}+ (the local Kafka broker needs one); \`${java} -version\` said:\n${tail(result.output)}`,
    );
  }
  return java;
}

/** The last `maxLines` lines of a command's output, for error messages. */
export function tail(text: string, maxLines = 30): string {
  const lines = text.trimEnd().split('\n');
  return lines.slice(-maxLines).join('\n');
}

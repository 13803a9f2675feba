import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inject } from 'vitest';
import type { TestProject } from 'vitest/node';
import { findFreePorts, startDevBroker, stopDevBroker } from '../../connectors/kafka/dev-broker/index.ts';

/**
 * One real Kafka broker for a whole test run, shared by every test file that asks for it.
 *
 * As vitest `globalSetup` (test/vitest.config.ts), {@link setup} only picks two free ports and a
 * temporary data folder and `provide`s them: a run without Kafka tests starts no JVM. The first test
 * file that calls {@link useTestKafkaBroker} starts the broker (downloading the jars on a machine's
 * first run); the others reuse it, as starts of one data folder are serialised and idempotent.
 * {@link teardown} stops it and removes the folder. Should the runner itself be killed, the broker's
 * watchdog stops it within seconds (`ownerPid` is the runner's main process).
 *
 * Test files must not stop the shared broker; a test of the broker's own lifecycle starts its own.
 */

/** Where the run's shared broker listens and keeps its files, as provided to test files. */
export interface TestKafkaBrokerPlan {
  readonly port: number;
  readonly controllerPort: number;
  readonly dataDir: string;
  /** The vitest main process: the broker stops when it exits. */
  readonly ownerPid: number;
}

declare module 'vitest' {
  export interface ProvidedContext {
    kafkaTestBroker: TestKafkaBrokerPlan;
  }
}

/**
 * Bound of a start from a test: on a machine's first run it includes fetching the jars (about 6 s on
 * a good link), then the broker's own start (2-4 s, more while the suite keeps both cores busy).
 */
export const TEST_BROKER_START_TIMEOUT_MS = 180_000;

let plannedDataDir: string | undefined;

/** vitest globalSetup: plans the shared broker (ports, data folder) without starting it. */
export async function setup(project: TestProject): Promise<void> {
  const [port, controllerPort] = await findFreePorts(2);
  plannedDataDir = await mkdtemp(path.join(tmpdir(), 'eddy-kafka-test-'));
  project.provide('kafkaTestBroker', { port: port!, controllerPort: controllerPort!, dataDir: plannedDataDir, ownerPid: process.pid });
}

/** vitest globalTeardown: stops the shared broker if a test started it, and removes its folder. */
export async function teardown(): Promise<void> {
  if (plannedDataDir === undefined) return;
  // Its data is disposable: SIGKILL after 5 s rather than hold up the end of the run.
  await stopDevBroker(plannedDataDir, { timeoutMs: 5_000 });
  await rm(plannedDataDir, { recursive: true, force: true });
}

/**
 * In a test file (e.g. in `beforeAll`, with {@link TEST_BROKER_START_TIMEOUT_MS} as its timeout):
 * starts the run's shared broker, or joins it, and returns its bootstrap address `127.0.0.1:<port>`.
 */
export async function useTestKafkaBroker(): Promise<string> {
  const plan = inject('kafkaTestBroker') as TestKafkaBrokerPlan | undefined;
  if (plan === undefined) {
    throw new Error("no shared Kafka broker was planned: add 'test/support/kafka-broker.ts' to globalSetup in the vitest config");
  }
  const broker = await startDevBroker({
    port: plan.port,
    controllerPort: plan.controllerPort,
    dataDir: plan.dataDir,
    ownerPid: plan.ownerPid,
    readyTimeoutMs: 90_000,
  });
  return broker.bootstrap;
}

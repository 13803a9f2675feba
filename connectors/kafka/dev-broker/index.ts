/**
 * A local Apache Kafka broker for development and tests, started from Maven Central jars with the
 * machine's Java (no Docker): `npm run kafka:start` / `kafka:stop` / `kafka:status`, or
 * {@link startDevBroker} / {@link stopDevBroker} from code. One KRaft node on 127.0.0.1 per data
 * folder; starting is idempotent, stopping signals only the broker the folder's pid file names.
 * It is a development aid, not part of a job's runtime: jobs point at any cluster by its bootstrap
 * servers.
 */
export {
  DEFAULT_BROKER_PORT,
  DEFAULT_CONTROLLER_PORT,
  DEFAULT_DATA_DIR,
  DEFAULT_HEAP,
  DEFAULT_READY_TIMEOUT_MS,
  devBrokerStatus,
  isBrokerAnswering,
  startDevBroker,
  stopDevBroker,
  type DevBroker,
  type DevBrokerOptions,
  type DevBrokerState,
  type DevBrokerStatus,
  type DevBrokerStopResult,
} from './dev-broker.ts';
export { ensureKafkaJars, findJava, KAFKA_CACHE_DIR, KAFKA_VERSION, type EnsureKafkaJarsOptions } from './kafka-jars.ts';
export { findFreePort, findFreePorts, isPortFree } from './free-ports.ts';

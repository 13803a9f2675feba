import { randomBytes } from 'node:crypto';

/**
 * The configuration files of the development broker: one KRaft node that is both controller and
 * broker, on 127.0.0.1 only, tuned to start fast and stay small on a laptop or a 2-core CI machine.
 */

/** Where and how one development broker listens and stores its logs. */
export interface ServerConfig {
  readonly port: number;
  readonly controllerPort: number;
  /** Absolute folder of Kafka's partition logs and KRaft metadata log. */
  readonly logDir: string;
  /** Extra `server.properties` entries; they replace the defaults below. */
  readonly overrides?: Readonly<Record<string, string | number | boolean>>;
}

/**
 * The `server.properties` of a combined-mode KRaft node. Every entry that differs from Kafka's
 * defaults says why:
 *
 * - replication factors and the transaction log's min ISR are 1: with one broker the defaults (3, 2)
 *   mean `__consumer_offsets` and `__transaction_state` are never created, so consumer groups and
 *   transactional producers fail with coordinator errors;
 * - those two internal topics get 1 partition, not 50: creating 50 partition logs makes the first
 *   group join or transaction seconds slower, and with one broker their spread buys nothing;
 * - `auto.create.topics.enable=false`: tests and jobs create their topics with the partition count
 *   they mean; auto-creation would turn a typo or a consumer's metadata request into a silent
 *   one-partition topic, and make the partition count depend on who touched the topic first;
 * - `group.initial.rebalance.delay.ms=0`: no 3 s wait before the first rebalance of each group;
 * - the log cleaner's dedupe buffer is 16 MB, not 128 MB: it is allocated on the heap, which is small;
 * - fewer network, I/O and background threads (Kafka sizes them for a production box).
 */
export function renderServerProperties(config: ServerConfig): string {
  const properties: Record<string, string | number | boolean> = {
    'process.roles': 'broker,controller',
    'node.id': 1,
    'controller.quorum.voters': `1@127.0.0.1:${config.controllerPort}`,
    listeners: `PLAINTEXT://127.0.0.1:${config.port},CONTROLLER://127.0.0.1:${config.controllerPort}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${config.port}`,
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'log.dirs': config.logDir,
    'num.partitions': 1,
    'auto.create.topics.enable': false,
    'offsets.topic.replication.factor': 1,
    'offsets.topic.num.partitions': 1,
    'transaction.state.log.replication.factor': 1,
    'transaction.state.log.min.isr': 1,
    'transaction.state.log.num.partitions': 1,
    'group.initial.rebalance.delay.ms': 0,
    'log.cleaner.dedupe.buffer.size': 16 * 1024 * 1024,
    'num.network.threads': 2,
    'num.io.threads': 4,
    'background.threads': 4,
    'num.recovery.threads.per.data.dir': 1,
    ...config.overrides,
  };
  const lines = Object.entries(properties).map(([key, value]) => `${key}=${escapeProperty(String(value))}`);
  return `# Written by Eddy's development broker (connectors/kafka/dev-broker) at every start.\n${lines.join('\n')}\n`;
}

/** Java properties syntax: backslashes (Windows paths) and leading spaces would be eaten. */
function escapeProperty(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/^ /, '\\ ');
}

/**
 * reload4j configuration: INFO to stdout (which the starter sends to the broker's log file), minus
 * the per-request and state-change chatter that Kafka's own distribution also routes away.
 */
export function renderLog4jProperties(): string {
  return [
    'log4j.rootLogger=INFO, stdout',
    'log4j.appender.stdout=org.apache.log4j.ConsoleAppender',
    'log4j.appender.stdout.layout=org.apache.log4j.PatternLayout',
    'log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n',
    'log4j.logger.kafka.request.logger=WARN',
    'log4j.logger.state.change.logger=WARN',
    'log4j.logger.kafka.authorizer.logger=WARN',
    '',
  ].join('\n');
}

/**
 * A new cluster id in the form Kafka's `Uuid.randomUuid()` gives and `kafka-storage.sh format -t`
 * accepts: 16 random bytes, URL-safe base64 without padding, never starting with '-' (it would read
 * as an option) and never one of the two reserved ids (all zeros, or zeros ending in 1). Made here
 * rather than by `kafka-storage.sh random-uuid`, which costs a JVM start (about a second).
 */
export function newClusterId(): string {
  for (;;) {
    const bytes = randomBytes(16);
    const isReserved = bytes.subarray(0, 15).every((b) => b === 0) && bytes[15]! <= 1;
    const id = bytes.toString('base64url');
    if (!isReserved && !id.startsWith('-')) return id;
  }
}

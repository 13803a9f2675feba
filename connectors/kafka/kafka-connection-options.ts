import { z } from 'zod';
import type { KafkaConnectionSettings, KafkaSaslOptions, KafkaSslOptions } from './kafka-client.ts';

/**
 * The connection options every Kafka connector takes, and the wording of option errors: shared by
 * `kafkaSource` and `kafkaSink` so that both check them alike.
 */

/** Default kafkajs client id. */
export const DEFAULT_CLIENT_ID = 'eddy';
/** Default bound of connecting. */
export const DEFAULT_CONNECTION_TIMEOUT_MS = 10_000;
/** Default bound of one request, as the Java clients' `request.timeout.ms`. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/** Kafka's rule for topic names. */
export const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;
/** `host:port` or `[ipv6]:port`. */
const BROKER_ADDRESS = /^(\[[0-9a-fA-F:.]+\]|[^\s:,[\]]+):(\d{1,5})$/;

const positiveInt = (what: string) => z.number().int(`${what} must be a whole number`).positive(`${what} must be > 0`);

/** zod fields of the connection options (spread into a connector's options schema). */
export const connectionOptionFields = {
  brokers: z.union([z.string(), z.array(z.string())], 'must be a list of host:port, or a comma-separated string of them'),
  clientId: z.string().min(1, 'must not be empty').optional(),
  ssl: z.union([z.boolean(), z.record(z.string(), z.unknown())], 'must be true or tls.connect options').optional(),
  sasl: z
    .custom<KafkaSaslOptions>(
      (value) => typeof value === 'object' && value !== null && typeof (value as { mechanism?: unknown }).mechanism === 'string',
      "must be kafkajs's SASL options, e.g. { mechanism: 'scram-sha-512', username, password }",
    )
    .optional(),
  connectionTimeoutMs: positiveInt('connectionTimeoutMs').optional(),
  requestTimeoutMs: positiveInt('requestTimeoutMs').optional(),
  logLevel: z.enum(['nothing', 'error', 'warn', 'info', 'debug'], "must be 'nothing', 'error', 'warn', 'info' or 'debug'").optional(),
  log: z.custom<(line: string) => void>((value) => typeof value === 'function', 'must be a function (line) => void').optional(),
};

/** The parsed connection options. */
type ConnectionOptions = z.infer<z.ZodObject<typeof connectionOptionFields>>;

function defaultLog(line: string): void {
  process.stderr.write(`eddy: ${line}\n`);
}

/**
 * The settings of parsed connection options, defaults filled in; `fail` throws the connector's
 * ConfigurationError for a bad `brokers` entry.
 */
export function connectionSettings(options: ConnectionOptions, fail: (message: string) => never): KafkaConnectionSettings {
  const brokers = (typeof options.brokers === 'string' ? options.brokers.split(',') : [...options.brokers]).map((broker) => broker.trim()).filter(Boolean);
  if (brokers.length === 0) fail("option 'brokers' must name at least one broker, e.g. 'localhost:9092'");
  for (const broker of brokers) {
    const match = BROKER_ADDRESS.exec(broker);
    const port = match === null ? 0 : Number(match[2]);
    if (port < 1 || port > 65_535) fail(`option 'brokers': '${broker}' is not host:port (e.g. 'localhost:9092')`);
  }
  return {
    brokers,
    clientId: options.clientId ?? DEFAULT_CLIENT_ID,
    ssl: options.ssl as KafkaSslOptions | undefined,
    sasl: options.sasl,
    connectionTimeoutMs: options.connectionTimeoutMs ?? DEFAULT_CONNECTION_TIMEOUT_MS,
    requestTimeoutMs: options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
    logLevel: options.logLevel ?? 'warn',
    log: options.log ?? defaultLog,
  };
}

/**
 * Parses `options` with `schema` (input reported, so that a wrong type is not mistaken for a missing
 * option); the first problem goes to `fail`, worded "unknown option 'x'" or "option 'x' <what>".
 */
export function parseOptions<S extends z.ZodType>(schema: S, options: unknown, fail: (message: string) => never): z.infer<S> {
  const parsed = schema.safeParse(options, { reportInput: true });
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  if (issue.code === 'unrecognized_keys') {
    fail(`unknown option${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((key) => `'${key}'`).join(', ')}`);
  }
  const where = issue.path.length === 0 ? 'options' : `option '${issue.path.map(String).join('.')}'`;
  const what = issue.code === 'invalid_type' && issue.input === undefined ? 'is required' : issue.message;
  return fail(`${where} ${what}`);
}

import { unpack } from 'msgpackr';
import type { ZodType } from 'zod';
import { ConfigurationError, describeError } from '../../src/core/errors.ts';

/**
 * Turns a Kafka record's key or value bytes into what the job sees. `deserialize` throws (any error,
 * with a message naming the problem) when the bytes are not a valid record: the source then treats the
 * record as a poison record (`onPoisonRecord`). Synchronous, called once per record on the hot path.
 */
export interface KafkaDeserializer<T> {
  /** `json`, `string`, `bytes`, `msgpack` or a custom name: for descriptions and errors. */
  readonly name: string;
  deserialize(bytes: Buffer): T;
}

/** Options of {@link json} and {@link msgpack}. */
export interface SchemaOptions<T> {
  /** A zod schema each decoded value must satisfy; a value that does not is a poison record. Its output is what the job sees. */
  readonly schema?: ZodType<T>;
}

/**
 * Formats a schema failure as one sentence naming the field(s): `field 'amount': Invalid input:
 * expected number, received string`. At most three issues are listed.
 */
function describeSchemaIssues(issues: ReadonlyArray<{ readonly path: readonly PropertyKey[]; readonly message: string }>): string {
  const parts: string[] = [];
  const shown = Math.min(issues.length, 3);
  for (let i = 0; i < shown; i++) {
    const issue = issues[i]!;
    const where = issue.path.length === 0 ? 'record' : `field '${issue.path.map(String).join('.')}'`;
    parts.push(`${where}: ${issue.message}`);
  }
  if (issues.length > shown) parts.push(`and ${issues.length - shown} more`);
  return `schema mismatch: ${parts.join('; ')}`;
}

function checkSchema<T>(what: string, options: SchemaOptions<T> | undefined): ZodType<T> | undefined {
  if (options === undefined) return undefined;
  if (typeof options !== 'object' || options === null) {
    throw new ConfigurationError(`${what}(options) takes { schema?: <zod schema> }, got ${describeValue(options)}`);
  }
  const schema = options.schema;
  if (schema === undefined) return undefined;
  if (typeof schema !== 'object' || schema === null || typeof (schema as { safeParse?: unknown }).safeParse !== 'function') {
    throw new ConfigurationError(`${what}({ schema }) needs a zod schema (z.object({...}) from 'eddy'), got ${describeValue(schema)}`);
  }
  return schema;
}

function describeValue(value: unknown): string {
  if (typeof value === 'function') return 'a function';
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** Validates `value` against `schema` (when given); throws the issues as one sentence. */
function validated<T>(schema: ZodType<T> | undefined, value: unknown): T {
  if (schema === undefined) return value as T;
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new Error(describeSchemaIssues(result.error.issues));
}

/** UTF-8 JSON, optionally checked (and transformed) by a zod schema. */
export function json<T = unknown>(options?: SchemaOptions<T>): KafkaDeserializer<T> {
  const schema = checkSchema('json', options);
  return {
    name: 'json',
    deserialize(bytes: Buffer): T {
      let parsed: unknown;
      try {
        parsed = JSON.parse(bytes.toString('utf8'));
      } catch (error) {
        throw new Error(`invalid JSON: ${describeError(error)}`);
      }
      return validated(schema, parsed);
    },
  };
}

/** The bytes as a UTF-8 string (invalid sequences become U+FFFD, as Node decodes them). */
export function text(): KafkaDeserializer<string> {
  return {
    name: 'string',
    deserialize(bytes: Buffer): string {
      return bytes.toString('utf8');
    },
  };
}

/**
 * The bytes themselves, copied out of the fetched response (so a kept record does not pin the whole
 * response in memory). A Buffer in the source task; a Uint8Array once it crossed to another task.
 */
export function bytes(): KafkaDeserializer<Buffer> {
  return {
    name: 'bytes',
    deserialize(value: Buffer): Buffer {
      return Buffer.from(value);
    },
  };
}

/** MessagePack (msgpackr), optionally checked (and transformed) by a zod schema. */
export function msgpack<T = unknown>(options?: SchemaOptions<T>): KafkaDeserializer<T> {
  const schema = checkSchema('msgpack', options);
  return {
    name: 'msgpack',
    deserialize(bytes: Buffer): T {
      let decoded: unknown;
      try {
        decoded = unpack(bytes) as unknown;
      } catch (error) {
        throw new Error(`invalid MessagePack: ${describeError(error)}`);
      }
      return validated(schema, decoded);
    },
  };
}

/** Whether `value` looks like a {@link KafkaDeserializer}. */
export function isKafkaDeserializer(value: unknown): value is KafkaDeserializer<unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { deserialize?: unknown }).deserialize === 'function' &&
    typeof (value as { name?: unknown }).name === 'string'
  );
}

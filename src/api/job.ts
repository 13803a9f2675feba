import type { ZodObject, ZodRawShape, output } from 'zod';
import { ConfigurationError } from '../core/errors.ts';
import type { StreamEnvironment } from './stream-environment.ts';

/**
 * A job is a module exporting `job = defineJob({...})`. Every worker imports the same module and calls
 * `build` with the same arguments, so `build` must be deterministic and free of side effects: it only
 * describes the graph. Arguments are parsed and validated with the job's zod schema before anything
 * runs; `eddy run <job> --help` lists them with their descriptions.
 */
export interface JobDefinition<Shape extends ZodRawShape = ZodRawShape> {
  /** Letters, digits, `-` and `_`; the job name in plans and reports. */
  readonly name: string;
  /** One line for `eddy run <job> --help`; may be empty. */
  readonly description: string;
  /** The job's options: each key becomes `--kebab-case-name`; `.describe()` texts appear in help. */
  readonly args: ZodObject<Shape>;
  /** Describes the graph on `env` from the parsed arguments; called once in every worker. */
  readonly build: (env: StreamEnvironment, args: output<ZodObject<Shape>>) => void;
}

/**
 * Declares a job (export it as `job`). Throws ConfigurationError when the name is not letters, digits, `-` or
 * `_` (starting with a letter or digit) or `build` is not a function; `description` defaults to empty.
 */
export function defineJob<Shape extends ZodRawShape>(definition: {
  readonly name: string;
  readonly description?: string;
  readonly args: ZodObject<Shape>;
  readonly build: (env: StreamEnvironment, args: output<ZodObject<Shape>>) => void;
}): JobDefinition<Shape> {
  if (typeof definition.name !== 'string' || !/^[a-z0-9][a-z0-9-_]*$/i.test(definition.name)) {
    throw new ConfigurationError(
      `a job needs a name of letters, digits, '-' or '_', got ${JSON.stringify(definition.name)}`,
    );
  }
  if (typeof definition.build !== 'function') {
    throw new ConfigurationError(`job '${definition.name}' needs a build(env, args) function`);
  }
  return { description: '', ...definition };
}

/** Where a job comes from, so that every worker can import it and build the same graph. */
export interface JobModuleRef {
  /** Absolute path (or file URL) of the job module. */
  readonly modulePath: string;
  /** The export holding the JobDefinition; `job` by default. */
  readonly exportName: string;
  /** The raw (unparsed) job arguments; each worker parses them with the job's schema. */
  readonly rawArgs: Readonly<Record<string, unknown>>;
}

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
  readonly name: string;
  readonly description: string;
  readonly args: ZodObject<Shape>;
  readonly build: (env: StreamEnvironment, args: output<ZodObject<Shape>>) => void;
}

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

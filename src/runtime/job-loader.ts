import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { JobDefinition, JobModuleRef } from '../api/job.ts';
import { StreamEnvironment, type EnvironmentOptions } from '../api/stream-environment.ts';
import { ConfigurationError } from '../core/errors.ts';
import type { StreamGraph } from '../graph/stream-graph.ts';

/** Imports a job module and returns its JobDefinition (`ref.exportName`, `job` by default). */
export async function loadJobDefinition(ref: JobModuleRef): Promise<JobDefinition> {
  const url = ref.modulePath.startsWith('file:')
    ? ref.modulePath
    : pathToFileURL(isAbsolute(ref.modulePath) ? ref.modulePath : `${process.cwd()}/${ref.modulePath}`).href;
  const module: Record<string, unknown> = await import(url);
  const exportName = ref.exportName === '' ? 'job' : ref.exportName;
  const job = module[exportName] as Partial<JobDefinition> | undefined;
  if (job === undefined || typeof job !== 'object' || typeof job.build !== 'function' || job.args === undefined) {
    throw new ConfigurationError(
      `${ref.modulePath} has no job export '${exportName}': export const ${exportName} = defineJob({ ... })`,
    );
  }
  return job as JobDefinition;
}

/**
 * Builds the job's StreamGraph the way every worker does: a fresh environment, the job's `build` with
 * its arguments parsed by its own schema. Deterministic by contract, so every build gives the same
 * graph (checked by fingerprint).
 */
export async function buildJobGraph(ref: JobModuleRef, environment: EnvironmentOptions): Promise<StreamGraph> {
  const job = await loadJobDefinition(ref);
  const env = new StreamEnvironment(environment);
  const parsed = job.args.safeParse(ref.rawArgs);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(arguments)'}: ${issue.message}`);
    throw new ConfigurationError(`invalid arguments for job '${job.name}': ${problems.join('; ')}`);
  }
  job.build(env, parsed.data);
  return env.getStreamGraph();
}

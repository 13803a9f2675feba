import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { ConfigurationError, describeError } from '../core/errors.ts';
import type { JobDefinition } from '../api/job.ts';

/** The folder of Eddy's bundled jobs (`eddy run wordcount` ▶ `jobs/wordcount.ts`). */
export const BUNDLED_JOBS_DIR = fileURLToPath(new URL('../../jobs/', import.meta.url));

/** A job module, imported, with the export its definition came from (what workers import again). */
export interface LoadedJob {
  readonly definition: JobDefinition;
  readonly modulePath: string;
  readonly exportName: string;
}

/** Resolves `<job>`: a path to a job module, or the name of a job under `jobs/`. */
export function resolveJobPath(reference: string, cwd = process.cwd()): string {
  const candidates = [path.resolve(cwd, reference)];
  if (!reference.includes('/') && !reference.includes('\\')) {
    candidates.push(path.join(BUNDLED_JOBS_DIR, `${reference}.ts`), path.join(BUNDLED_JOBS_DIR, `${reference}.js`));
  }
  for (const candidate of candidates) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  throw new ConfigurationError(
    `job '${reference}' not found: give the path of a job module (e.g. jobs/wordcount.ts) or the name of a job in ${BUNDLED_JOBS_DIR}`,
  );
}

/** Imports a job module and returns its `job` export, with errors that say what is wrong. */
export async function loadJob(modulePath: string, exportName = 'job'): Promise<LoadedJob> {
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(modulePath).href)) as Record<string, unknown>;
  } catch (error) {
    throw new ConfigurationError(`job module ${modulePath} failed to load: ${describeError(error)}`, { cause: error });
  }
  const definition = module[exportName];
  if (!isJobDefinition(definition)) {
    throw new ConfigurationError(
      `job module ${modulePath} has no '${exportName}' export made with defineJob(...): export const ${exportName} = defineJob({ name, args, build })`,
    );
  }
  return { definition, modulePath, exportName };
}

function isJobDefinition(candidate: unknown): candidate is JobDefinition {
  if (candidate === null || typeof candidate !== 'object') return false;
  const record = candidate as Record<string, unknown>;
  return typeof record['name'] === 'string' && typeof record['build'] === 'function' && typeof record['args'] === 'object';
}

import type { ZodType } from 'zod';
import type { JobDefinition } from '../api/job.ts';
import { camelToKebab } from './argv.ts';
import { ENGINE_OPTIONS } from './engine-options.ts';

/** What `eddy`, `eddy help` and `eddy --help` print. */
export const USAGE = `eddy — a stateful stream processor for TypeScript

Usage:
  eddy run <job> [engine options] [job options]   run a job on a local mini-cluster
  eddy run <job> --help                           list the job's options and the engine options
  eddy --version

<job> is the path of a job module (e.g. jobs/wordcount.ts) or the name of a bundled job
(wordcount, moving-average, pattern-alert, sessionize, correlate).
Durations are written 500ms, 10s, 5m, 1h (or plain milliseconds).
`;

/** What `eddy run --help` prints without a job: the usage line and the engine options. */
export const RUN_USAGE = `Usage: eddy run <job> [engine options] [job options]

Engine options:
${formatEngineOptions()}
`;

function formatEngineOptions(): string {
  return ENGINE_OPTIONS.map((option) => `  --${option.name.padEnd(22)} ${option.description} (default: ${option.defaultText})`).join('\n');
}

/** The help of one job: its description, its own options (from its zod schema) and the engine options. */
export function formatJobHelp(job: JobDefinition, reference: string): string {
  const lines = [`Usage: eddy run ${reference} [engine options] [job options]`, ''];
  if (job.description !== '') lines.push(job.description, '');
  lines.push(`Job options (${job.name}):`);
  for (const [name, schema] of Object.entries(job.args.shape as Record<string, ZodType>)) {
    const description = schema.description ?? '';
    const defaultValue = defaultOf(schema);
    const requirement = defaultValue !== undefined ? `(default: ${defaultValue})` : schema.isOptional() ? '(optional)' : '(required)';
    lines.push(`  --${camelToKebab(name).padEnd(22)} ${description} ${requirement}`.trimEnd());
  }
  lines.push('', 'Engine options:', formatEngineOptions(), '');
  return lines.join('\n');
}

function defaultOf(schema: ZodType): string | undefined {
  let current: unknown = schema;
  for (let depth = 0; depth < 8 && current !== undefined; depth++) {
    const def = (current as { def?: { type?: string; defaultValue?: unknown; innerType?: unknown; in?: unknown } }).def;
    if (def === undefined) return undefined;
    // durationArg / integerArg use prefault (the default goes through the parser, like a CLI value).
    if (def.type === 'default' || def.type === 'prefault') {
      return typeof def.defaultValue === 'string' ? def.defaultValue : JSON.stringify(def.defaultValue);
    }
    current = def.innerType ?? def.in;
  }
  return undefined;
}

import { ConfigurationError } from '../core/errors.ts';

/**
 * Splits a command line into positionals and `--name value` / `--name=value` / `--flag` options.
 * A value that starts with `--` is never taken as the previous option's value, so `--flag --next x`
 * reads as a boolean flag followed by an option.
 */
export interface ParsedArgv {
  readonly positionals: readonly string[];
  /** Option names as written (kebab-case), without the dashes. */
  readonly options: ReadonlyMap<string, string | true>;
}

/**
 * Parses a command line (without `node` and the script). `-h` means `--help`; everything after `--` is
 * positional. Throws ConfigurationError for a single-dash flag, an invalid option name or an option given
 * twice.
 */
export function parseArgv(argv: readonly string[]): ParsedArgv {
  const positionals: string[] = [];
  const options = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (token === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!token.startsWith('--') || token === '-') {
      if (token.startsWith('-') && token.length > 1 && token !== '-h') {
        throw new ConfigurationError(`unknown flag '${token}': options are written --name value`);
      }
      if (token === '-h') options.set('help', true);
      else positionals.push(token);
      continue;
    }
    const equals = token.indexOf('=');
    const name = equals === -1 ? token.slice(2) : token.slice(2, equals);
    if (!/^[a-z][a-z0-9-]*$/i.test(name)) {
      throw new ConfigurationError(`'${token}' is not an option name: use --kebab-case-names`);
    }
    if (options.has(name)) throw new ConfigurationError(`option --${name} is given twice`);
    if (equals !== -1) {
      options.set(name, token.slice(equals + 1));
      continue;
    }
    const next = argv[i + 1];
    if (next === undefined || next.startsWith('--')) {
      options.set(name, true);
    } else {
      options.set(name, next);
      i++;
    }
  }
  return { positionals, options };
}

/** `max-parallelism` ▶ `maxParallelism`: option names to job-argument keys. */
export function kebabToCamel(name: string): string {
  return name.replace(/-([a-z0-9])/g, (_match, letter: string) => letter.toUpperCase());
}

/** `maxParallelism` ▶ `max-parallelism`: job-argument keys to option names, for help and errors. */
export function camelToKebab(name: string): string {
  return name.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}

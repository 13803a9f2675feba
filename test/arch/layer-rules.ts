import { builtinModules } from 'node:module';
import path from 'node:path';
import type { ImportRef } from './source-scan.ts';

/**
 * The dependency rules of DESIGN.md §12 and STYLE.md as data, and a pure checker over (file, its
 * imports). Every rule names itself in the violation it reports, so a failing run says which import
 * broke which rule.
 *
 * Units: `src/<layer>/**` is layer `<layer>`; `src/index.ts` is the public entry (`eddy`);
 * `connectors/<name>/**` is connector `<name>`; `jobs/**` are the bundled jobs. A file may always import
 * files of its own unit.
 */

/** An allowed target layer; `typesOnly`: only `import type` / `export type`; `files`: only these files of it. */
export interface Allowance {
  readonly layer: string;
  readonly isTypesOnly?: boolean;
  readonly files?: readonly string[];
}

const ALL_SRC_LAYERS = ['core', 'state', 'time', 'checkpoint', 'connector', 'operators', 'windows', 'graph', 'api', 'runtime', 'cluster', 'cli'];
const allExcept = (...excluded: string[]): Allowance[] =>
  ALL_SRC_LAYERS.filter((layer) => !excluded.includes(layer)).map((layer) => ({ layer }));

/**
 * What each layer of src may import (besides itself). `index` is src/index.ts, the public API; nothing
 * inside src imports it (it would make every layer depend on every other). `checkpoint` and `cluster`
 * do not exist yet; their rows follow DESIGN.md §12 so that adding them needs no change here.
 */
export const SRC_LAYER_RULES: ReadonlyMap<string, readonly Allowance[]> = new Map<string, readonly Allowance[]>([
  ['core', []],
  ['state', [{ layer: 'core' }]],
  ['time', [{ layer: 'core' }, { layer: 'state' }]],
  ['checkpoint', [{ layer: 'core' }, { layer: 'state' }]],
  // The connector SPI (source/sink contracts) is what connectors/* build on: it sees only core.
  ['connector', [{ layer: 'core' }]],
  [
    'operators',
    [
      { layer: 'core' },
      { layer: 'state' },
      { layer: 'time' },
      { layer: 'checkpoint' },
      { layer: 'connector' },
      // The user-function interfaces live with the API; operators call them but never build graphs.
      { layer: 'api', isTypesOnly: true, files: ['src/api/functions.ts'] },
    ],
  ],
  ['windows', [{ layer: 'core' }, { layer: 'state' }, { layer: 'time' }, { layer: 'checkpoint' }, { layer: 'operators' }]],
  // The graph is plain data: it names operators, sources and strategies by type only.
  [
    'graph',
    [{ layer: 'core' }, { layer: 'connector', isTypesOnly: true }, { layer: 'operators', isTypesOnly: true }, { layer: 'time', isTypesOnly: true }],
  ],
  ['api', allExcept('runtime', 'cluster', 'cli')],
  // runtime ▶ api: workers import the job module and build its graph (src/runtime/job-loader.ts).
  ['runtime', allExcept('cluster', 'cli')],
  ['cluster', allExcept('cli')],
  ['cli', allExcept()],
  ['index', allExcept('runtime', 'cluster', 'cli')],
]);

/** How a module specifier resolved: a repo file, a Node builtin, or an npm package. */
export type ResolvedImport =
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'builtin' }
  | { readonly kind: 'package'; readonly name: string }
  | { readonly kind: 'unresolved'; readonly reason: string };

export interface PackageInfo {
  readonly name: string;
  /** `exports` of package.json: subpath ▶ repo-relative file (`./connectors/file` ▶ `connectors/file/index.ts`). */
  readonly exports: ReadonlyMap<string, string>;
  readonly dependencies: ReadonlySet<string>;
}

export function resolveImport(
  fromFile: string,
  specifier: string,
  pkg: PackageInfo,
  fileExists: (repoPath: string) => boolean,
): ResolvedImport {
  if (specifier.startsWith('./') || specifier.startsWith('../')) {
    const target = path.posix.normalize(path.posix.join(path.posix.dirname(fromFile), specifier));
    // No extension guessing: STYLE.md wants explicit `.ts` extensions, and Node resolves nothing else.
    return fileExists(target) ? { kind: 'file', path: target } : { kind: 'unresolved', reason: `no file ${target}` };
  }
  if (specifier.startsWith('node:') || builtinModules.includes(specifier)) return { kind: 'builtin' };
  if (specifier === pkg.name || specifier.startsWith(`${pkg.name}/`)) {
    const subpath = specifier === pkg.name ? '.' : `./${specifier.slice(pkg.name.length + 1)}`;
    const target = pkg.exports.get(subpath);
    return target === undefined
      ? { kind: 'unresolved', reason: `'${subpath}' is not in the exports of package.json` }
      : { kind: 'file', path: target };
  }
  const parts = specifier.split('/');
  const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
  return { kind: 'package', name };
}

/** Which unit a repo file belongs to: `src:<layer>`, `src:index`, `connector:<name>`, `jobs`, or `other`. */
export function unitOf(file: string): string {
  const parts = file.split('/');
  if (parts[0] === 'src') return parts.length === 2 ? (file === 'src/index.ts' ? 'src:index' : 'src:root') : `src:${parts[1]}`;
  if (parts[0] === 'connectors') return parts.length === 2 ? 'connector:root' : `connector:${parts[1]}`;
  if (parts[0] === 'jobs') return 'jobs';
  return 'other';
}

/** The violation for one import of `file`, or undefined when it is allowed. */
export function checkImport(file: string, ref: ImportRef, resolved: ResolvedImport, pkg: PackageInfo): string | undefined {
  const unit = unitOf(file);
  const where = `${file}:${ref.line} ${ref.isTypeOnly ? 'type-imports' : 'imports'} '${ref.specifier}'`;
  if (resolved.kind === 'unresolved') return `${where}, which does not resolve (${resolved.reason})`;

  if (unit === 'jobs') {
    const isEntryPoint = ref.specifier === pkg.name || ref.specifier.startsWith(`${pkg.name}/connectors/`);
    return isEntryPoint && resolved.kind === 'file'
      ? undefined
      : `${where}: jobs/* may import only the package entry points ('${pkg.name}', '${pkg.name}/connectors/*')`;
  }
  if (resolved.kind === 'builtin') return undefined;
  if (resolved.kind === 'package') {
    return pkg.dependencies.has(resolved.name)
      ? undefined
      : `${where}: '${resolved.name}' is not in the dependencies of package.json (shipped code may not use dev dependencies)`;
  }
  const target = resolved.path;
  const targetUnit = unitOf(target);

  if (unit.startsWith('connector:')) {
    const own = unit.slice('connector:'.length);
    const isAllowed =
      targetUnit === unit ||
      targetUnit === 'connector:base' ||
      targetUnit === 'src:connector' ||
      targetUnit === 'src:core' ||
      target === 'src/index.ts';
    return isAllowed
      ? undefined
      : `${where} (${target}): connectors/${own} may import only src/connector/*, src/core/*, src/index.ts ('${pkg.name}'), connectors/base/* and its own folder`;
  }

  if (!unit.startsWith('src:')) return undefined;
  const layer = unit.slice('src:'.length);
  if (!targetUnit.startsWith('src:')) return `${where} (${target}): src/ may import only src/ (never connectors/, jobs/ or test/)`;
  if (targetUnit === unit) return undefined;
  const targetLayer = targetUnit.slice('src:'.length);
  const rules = SRC_LAYER_RULES.get(layer);
  if (rules === undefined) return `${where}: src/${layer} is a layer with no rule in test/arch/layer-rules.ts: add its row (DESIGN.md §12)`;
  if (targetLayer === 'index') return `${where}: nothing inside src imports src/index.ts (the public entry point)`;
  const allowance = rules.find((rule) => rule.layer === targetLayer);
  const allowedText = rules.length === 0 ? 'nothing else of src' : rules.map(describeAllowance).join(', ');
  const rule = `${layer === 'index' ? 'src/index.ts' : `src/${layer}`} may import only ${allowedText}`;
  if (allowance === undefined) return `${where} (${target}): ${rule}`;
  if (allowance.files !== undefined && !allowance.files.includes(target)) return `${where} (${target}): ${rule}`;
  if (allowance.isTypesOnly === true && !ref.isTypeOnly) return `${where} (${target}) as a value import: ${rule}`;
  return undefined;
}

function describeAllowance(allowance: Allowance): string {
  const what = allowance.files === undefined ? allowance.layer : allowance.files.join(' | ');
  return allowance.isTypesOnly === true ? `${what} (types)` : what;
}

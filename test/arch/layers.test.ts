import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkImport, resolveImport, SRC_LAYER_RULES, type PackageInfo } from './layer-rules.ts';
import { listSourceFiles, readSource, scanSource } from './source-scan.ts';

/**
 * The architecture, enforced (DESIGN.md §12, STYLE.md): the dependency direction between the layers of
 * src/, connectors/* using only the connector SPI, core and the public API, jobs/* using only the
 * package entry points; no default exports; no `any`; no focused or skipped tests. Each failure lists
 * the offending file:line, the import and the rule it breaks.
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function readPackage(): PackageInfo {
  const json = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
    name: string;
    exports: Record<string, string>;
    dependencies: Record<string, string>;
  };
  const exports = new Map(Object.entries(json.exports).map(([subpath, target]) => [subpath, path.posix.normalize(target)]));
  return { name: json.name, exports, dependencies: new Set(Object.keys(json.dependencies)) };
}

const pkg = readPackage();
const fileExists = (repoPath: string): boolean => existsSync(path.join(ROOT, repoPath)) && statSync(path.join(ROOT, repoPath)).isFile();
const SHIPPED = ['src', 'connectors', 'jobs'].flatMap((dir) => listSourceFiles(ROOT, dir, ['.ts', '.js', '.mjs']));
const TESTS = listSourceFiles(ROOT, 'test', ['.ts', '.js', '.mjs']);
const scans = new Map([...SHIPPED, ...TESTS].map((file) => [file, scanSource(file, readSource(ROOT, file))]));

function importViolations(files: readonly string[]): string[] {
  const violations: string[] = [];
  for (const file of files) {
    for (const ref of scans.get(file)!.imports) {
      const violation = checkImport(file, ref, resolveImport(file, ref.specifier, pkg, fileExists), pkg);
      if (violation !== undefined) violations.push(violation);
    }
  }
  return violations;
}

describe('the source tree', () => {
  it('is found (the scan reads the real tree)', () => {
    expect(SHIPPED).toContain('src/core/key-group.ts');
    expect(SHIPPED).toContain('src/cli/bin.js');
    expect(SHIPPED).toContain('connectors/file/index.ts');
    expect(SHIPPED).toContain('jobs/wordcount.ts');
    expect(SHIPPED.length).toBeGreaterThan(100);
    const importCount = SHIPPED.reduce((sum, file) => sum + scans.get(file)!.imports.length, 0);
    expect(importCount).toBeGreaterThan(300);
  });

  it('has a rule for every layer of src', () => {
    const layers = new Set(SHIPPED.filter((file) => file.split('/').length > 2 && file.startsWith('src/')).map((file) => file.split('/')[1]!));
    expect([...layers].filter((layer) => !SRC_LAYER_RULES.has(layer))).toEqual([]);
  });

  it('respects the layers of src/ (DESIGN.md §12)', () => {
    expect(importViolations(SHIPPED.filter((file) => file.startsWith('src/')))).toEqual([]);
  });

  it('has connectors/* use only the connector SPI, core, the public API, connectors/base and their own folder', () => {
    expect(importViolations(SHIPPED.filter((file) => file.startsWith('connectors/')))).toEqual([]);
  });

  it("has jobs/* use only the package entry points ('eddy', 'eddy/connectors/*')", () => {
    expect(importViolations(SHIPPED.filter((file) => file.startsWith('jobs/')))).toEqual([]);
  });

  it('has no default exports in src/, connectors/ or jobs/', () => {
    const found = SHIPPED.flatMap((file) => scans.get(file)!.defaultExports.map((f) => `${file}:${f.line} ${f.text}`));
    expect(found).toEqual([]);
  });

  it('has no `any` type anywhere (src/, connectors/, jobs/, test/): use unknown and narrow', () => {
    const found = [...SHIPPED, ...TESTS].flatMap((file) => scans.get(file)!.anyTypes.map((f) => `${file}:${f.line} ${f.text}`));
    expect(found).toEqual([]);
  });

  it('has no .only or .skip in test/', () => {
    const found = TESTS.flatMap((file) => scans.get(file)!.focusedOrSkippedTests.map((f) => `${file}:${f.line} ${f.text}`));
    expect(found).toEqual([]);
  });

  it('has every relative import of test/ resolve to a file (explicit extensions)', () => {
    const unresolved = TESTS.flatMap((file) =>
      scans
        .get(file)!
        .imports.filter((ref) => ref.specifier.startsWith('.'))
        .filter((ref) => resolveImport(file, ref.specifier, pkg, fileExists).kind === 'unresolved')
        .map((ref) => `${file}:${ref.line} '${ref.specifier}'`),
    );
    expect(unresolved).toEqual([]);
  });
});

/** The checker itself: each rule must be able to fail. */
describe('the layer rules', () => {
  const check = (file: string, specifier: string, source = `import { x } from '${specifier}';`): string | undefined => {
    const ref = scanSource(file, source).imports[0]!;
    const exists = (repoPath: string): boolean => fileExists(repoPath) || repoPath.endsWith('/made-up.ts');
    return checkImport(file, ref, resolveImport(file, ref.specifier, pkg, exists), pkg);
  };

  it('rejects an upward import and names the file, line, import and rule', () => {
    expect(check('src/core/made-up.ts', '../runtime/task.ts')).toBe(
      "src/core/made-up.ts:1 imports '../runtime/task.ts' (src/runtime/task.ts): src/core may import only nothing else of src",
    );
    expect(check('src/state/made-up.ts', '../time/watermark-valve.ts')).toMatch(/src\/state may import only core$/);
    expect(check('src/time/made-up.ts', '../operators/operator-base.ts')).toMatch(/src\/time may import only core, state$/);
    expect(check('src/windows/made-up.ts', '../api/data-stream.ts')).toMatch(/src\/windows may import only/);
    expect(check('src/api/made-up.ts', '../runtime/local-executor.ts')).toMatch(/src\/api may import only/);
    expect(check('src/runtime/made-up.ts', '../cli/main.ts')).toMatch(/src\/runtime may import only/);
    expect(check('src/api/made-up.ts', '../index.ts')).toMatch(/nothing inside src imports src\/index\.ts/);
  });

  it('allows the downward imports of the table', () => {
    expect(check('src/state/made-up.ts', '../core/errors.ts')).toBeUndefined();
    expect(check('src/windows/made-up.ts', '../operators/operator-base.ts')).toBeUndefined();
    expect(check('src/runtime/made-up.ts', '../api/stream-environment.ts')).toBeUndefined();
    expect(check('src/cli/made-up.ts', '../runtime/local-executor.ts')).toBeUndefined();
    expect(check('src/index.ts', './windows/index.ts')).toBeUndefined();
  });

  it('tells type imports from value imports', () => {
    expect(check('src/operators/made-up.ts', '../api/functions.ts', "import type { MapFunction } from '../api/functions.ts';")).toBeUndefined();
    expect(check('src/operators/made-up.ts', '../api/functions.ts')).toMatch(/as a value import: src\/operators may import only/);
    // Inline `type` specifiers keep the statement (verbatimModuleSyntax): the module still loads.
    expect(check('src/operators/made-up.ts', '../api/functions.ts', "import { type MapFunction } from '../api/functions.ts';")).toMatch(/value import/);
    expect(check('src/operators/made-up.ts', '../api/data-stream.ts', "import type { DataStream } from '../api/data-stream.ts';")).toMatch(
      /src\/operators may import only .*src\/api\/functions\.ts \(types\)/,
    );
    expect(check('src/graph/made-up.ts', '../operators/operator.ts', "export type { StreamOperator } from '../operators/operator.ts';")).toBeUndefined();
    expect(check('src/graph/made-up.ts', '../operators/map-operator.ts')).toMatch(/value import/);
  });

  it('confines connectors and jobs', () => {
    expect(check('connectors/file/made-up.ts', '../../src/core/errors.ts')).toBeUndefined();
    expect(check('connectors/file/made-up.ts', '../base/index.ts')).toBeUndefined();
    expect(check('connectors/file/made-up.ts', 'eddy')).toBeUndefined();
    expect(check('connectors/file/made-up.ts', '../../src/runtime/task.ts')).toMatch(/connectors\/file may import only/);
    expect(check('connectors/file/made-up.ts', '../generator/index.ts')).toMatch(/connectors\/file may import only/);
    expect(check('connectors/file/made-up.ts', 'vitest')).toMatch(/not in the dependencies/);
    expect(check('jobs/made-up.ts', 'eddy/connectors/file')).toBeUndefined();
    expect(check('jobs/made-up.ts', '../src/api/job.ts')).toMatch(/jobs\/\* may import only the package entry points/);
    expect(check('jobs/made-up.ts', 'eddy/src/api/job.ts')).toMatch(/does not resolve/);
    expect(check('src/api/made-up.ts', '../../connectors/file/index.ts')).toMatch(/src\/ may import only src\//);
  });

  it('sees multi-line imports, export-from, dynamic imports and import types, and ignores comments', () => {
    const scan = scanSource(
      'src/x.ts',
      [
        '/**',
        " * import { fake } from 'not-an-import';",
        ' */',
        'import {',
        '  a,',
        '  b,',
        "} from './a.ts';",
        "export * from './b.ts';",
        "export type { C } from './c.ts';",
        "const later = await import('./d.ts');",
        "let e: import('./e.ts').E;",
        "const text = \"import { g } from './g.ts'\";",
      ].join('\n'),
    );
    expect(scan.imports).toEqual([
      { specifier: './a.ts', line: 4, isTypeOnly: false },
      { specifier: './b.ts', line: 8, isTypeOnly: false },
      { specifier: './c.ts', line: 9, isTypeOnly: true },
      { specifier: './d.ts', line: 10, isTypeOnly: false },
      { specifier: './e.ts', line: 11, isTypeOnly: true },
    ]);
  });

  it('finds default exports, `any` and focused or skipped tests', () => {
    const scan = scanSource(
      'test/x.test.ts',
      [
        'export default function f(): void {}',
        'const a = 1 as any;',
        'let b: any;',
        'const c = new Map<any, string>();',
        // Built from parts so that no grep for focused tests (CI hooks) mistakes these samples for real ones.
        `// it.${'only'}('commented', () => {});`,
        "const s = 'as any';",
        `it.${'only'}('a', () => {});`,
        `describe.${'skip'}('b', () => {});`,
        "it.each([1])('c', () => {});",
        "test.each([1]).skip('d', () => {});",
      ].join('\n'),
    );
    expect(scan.defaultExports.map((f) => f.line)).toEqual([1]);
    expect(scan.anyTypes.map((f) => f.line)).toEqual([2, 3, 4]);
    expect(scan.focusedOrSkippedTests.map((f) => f.line)).toEqual([7, 8, 10]);
  });
});

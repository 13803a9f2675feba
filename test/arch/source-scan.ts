import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

/**
 * Reads the module structure of a source file with the TypeScript parser (syntax only, no type
 * checking: ~150 files parse in well under a second). A parser rather than regexes, so that an import
 * written over several lines, a doc comment showing an `import` line, or the word `any` in a string
 * is neither missed nor reported.
 */

/** One module reference: `import … from`, `export … from`, `import 'x'`, `import('x')` or a type `import('x').T`. */
export interface ImportRef {
  readonly specifier: string;
  /** 1-based line of the statement. */
  readonly line: number;
  /**
   * Whether the reference disappears at run time: `import type`, `export type … from`, or a type query
   * `import('x').T`. `import { type A } from 'x'` is *not* type-only: with verbatimModuleSyntax the
   * statement stays, and loads 'x'.
   */
  readonly isTypeOnly: boolean;
}

export interface Finding {
  readonly line: number;
  readonly text: string;
}

export interface SourceScan {
  readonly imports: readonly ImportRef[];
  /** `export default …` and `export = …`. */
  readonly defaultExports: readonly Finding[];
  /** Every `any` keyword in a type position (`: any`, `as any`, `<any>`, `any[]`, …). */
  readonly anyTypes: readonly Finding[];
  /** `describe.only`, `it.skip`, `test.each(…).only`, … */
  readonly focusedOrSkippedTests: readonly Finding[];
}

const TEST_FUNCTIONS = new Set(['describe', 'suite', 'it', 'test', 'bench']);

export function scanSource(fileName: string, text: string): SourceScan {
  const kind = fileName.endsWith('.ts') ? ts.ScriptKind.TS : ts.ScriptKind.JS;
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, kind);
  const imports: ImportRef[] = [];
  const defaultExports: Finding[] = [];
  const anyTypes: Finding[] = [];
  const focusedOrSkippedTests: Finding[] = [];
  const lineOf = (node: ts.Node): number => source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
  const finding = (node: ts.Node): Finding => ({ line: lineOf(node), text: node.getText(source).split('\n')[0]!.slice(0, 120) });

  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      imports.push({ specifier: node.moduleSpecifier.text, line: lineOf(node), isTypeOnly: node.importClause?.isTypeOnly === true });
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier !== undefined && ts.isStringLiteral(node.moduleSpecifier)) {
      imports.push({ specifier: node.moduleSpecifier.text, line: lineOf(node), isTypeOnly: node.isTypeOnly });
    } else if (ts.isImportTypeNode(node)) {
      const argument = node.argument;
      if (ts.isLiteralTypeNode(argument) && ts.isStringLiteral(argument.literal)) {
        imports.push({ specifier: argument.literal.text, line: lineOf(node), isTypeOnly: true });
      }
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const argument = node.arguments[0];
      if (argument !== undefined && ts.isStringLiteralLike(argument)) {
        imports.push({ specifier: argument.text, line: lineOf(node), isTypeOnly: false });
      }
    } else if (ts.isExportAssignment(node)) {
      defaultExports.push(finding(node));
    } else if (node.kind === ts.SyntaxKind.AnyKeyword) {
      anyTypes.push(finding(node.parent));
    } else if (ts.isPropertyAccessExpression(node) && (node.name.text === 'only' || node.name.text === 'skip')) {
      if (TEST_FUNCTIONS.has(rootIdentifier(node.expression))) focusedOrSkippedTests.push(finding(node));
    }
    if (ts.canHaveModifiers(node)) {
      const modifiers = ts.getModifiers(node) ?? [];
      const isExported = modifiers.some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
      if (isExported && modifiers.some((m) => m.kind === ts.SyntaxKind.DefaultKeyword)) defaultExports.push(finding(node));
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return { imports, defaultExports, anyTypes, focusedOrSkippedTests };
}

/** `it.each([...])` ▶ 'it'; `describe.concurrent` ▶ 'describe'; anything else ▶ ''. */
function rootIdentifier(expression: ts.Expression): string {
  let current: ts.Expression = expression;
  for (;;) {
    if (ts.isIdentifier(current)) return current.text;
    if (ts.isPropertyAccessExpression(current)) current = current.expression;
    else if (ts.isCallExpression(current)) current = current.expression;
    else return '';
  }
}

/** Every source file under `dir` (recursive; node_modules and dot folders skipped), as repo-relative paths. */
export function listSourceFiles(root: string, dir: string, extensions: readonly string[]): string[] {
  const result: string[] = [];
  const walk = (relative: string): void => {
    for (const name of readdirSync(path.join(root, relative)).sort()) {
      if (name === 'node_modules' || name.startsWith('.')) continue;
      const child = `${relative}/${name}`;
      if (statSync(path.join(root, child)).isDirectory()) walk(child);
      else if (extensions.some((extension) => name.endsWith(extension))) result.push(child);
    }
  };
  if (existsSync(path.join(root, dir))) walk(dir);
  return result;
}

export function readSource(root: string, file: string): string {
  return readFileSync(path.join(root, file), 'utf8');
}

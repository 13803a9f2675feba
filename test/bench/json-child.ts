import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Runs `node --import tsx <script> …args` from the repository root (a fresh process, so that its peak
 * RSS is its own), its stderr passed through, and parses the last line it printed on stdout as JSON —
 * how every benchmark's child reports its measurement. Rejects naming `what` when it exits non-zero.
 */
export function runJsonChild<T>(script: string, args: readonly string[], what: string): Promise<T> {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) {
        reject(new Error(`${what} exited with code ${code}`));
        return;
      }
      resolve(JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as T);
    });
  });
}

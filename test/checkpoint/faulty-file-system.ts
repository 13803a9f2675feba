import path from 'node:path';
import { nodeCheckpointFileSystem, type CheckpointFileSystem } from '../../src/checkpoint/checkpoint-file-system.ts';

/**
 * A CheckpointFileSystem over the real one that records every call and fails chosen ones with a Node-style
 * error (`code` set), the way a full or read-only disk would. Tests run as root, where chmod cannot
 * make a folder unwritable, so faults are injected here, at the storage boundary.
 */
export type FileSystemOperation = keyof CheckpointFileSystem;

export interface InjectedFault {
  readonly operation: FileSystemOperation;
  /** Fails only calls whose (first) path matches; any path when absent. */
  readonly pathMatches?: (filePath: string) => boolean;
  readonly code: string;
  /** Calls it fails before it is used up; unlimited when absent. */
  times?: number;
}

export class FaultyFileSystem implements CheckpointFileSystem {
  readonly calls: Array<{ readonly operation: FileSystemOperation; readonly path: string }> = [];
  private readonly faults: InjectedFault[] = [];
  private readonly inner: CheckpointFileSystem;

  constructor(inner: CheckpointFileSystem = nodeCheckpointFileSystem) {
    this.inner = inner;
  }

  inject(fault: InjectedFault): this {
    this.faults.push(fault);
    return this;
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  /** The recorded calls as `operation relative-path` lines, relative to `root`. */
  callsUnder(root: string): string[] {
    return this.calls.map((call) => `${call.operation} ${path.relative(root, call.path) || '.'}`);
  }

  private enter(operation: FileSystemOperation, filePath: string): void {
    this.calls.push({ operation, path: filePath });
    const fault = this.faults.find(
      (f) => f.operation === operation && (f.pathMatches === undefined || f.pathMatches(filePath)) && (f.times ?? 1) > 0,
    );
    if (fault === undefined) return;
    if (fault.times !== undefined) fault.times -= 1;
    const messages: Record<string, string> = {
      ENOSPC: 'no space left on device',
      EACCES: 'permission denied',
      EIO: 'i/o error',
    };
    const error = new Error(`${fault.code}: ${messages[fault.code] ?? 'injected failure'}, ${operation} '${filePath}'`);
    Object.assign(error, { code: fault.code, path: filePath });
    throw error;
  }

  async mkdir(filePath: string): Promise<void> {
    this.enter('mkdir', filePath);
    await this.inner.mkdir(filePath);
  }

  async writeFileDurably(filePath: string, data: Uint8Array): Promise<void> {
    this.enter('writeFileDurably', filePath);
    await this.inner.writeFileDurably(filePath, data);
  }

  async rename(from: string, to: string): Promise<void> {
    this.enter('rename', from);
    await this.inner.rename(from, to);
  }

  async syncDirectory(filePath: string): Promise<void> {
    this.enter('syncDirectory', filePath);
    await this.inner.syncDirectory(filePath);
  }

  async readFile(filePath: string): Promise<Uint8Array> {
    this.enter('readFile', filePath);
    return this.inner.readFile(filePath);
  }

  async readdir(filePath: string): Promise<string[]> {
    this.enter('readdir', filePath);
    return this.inner.readdir(filePath);
  }

  async exists(filePath: string): Promise<boolean> {
    this.enter('exists', filePath);
    return this.inner.exists(filePath);
  }

  async rm(filePath: string): Promise<void> {
    this.enter('rm', filePath);
    await this.inner.rm(filePath);
  }

  async importFile(from: string, to: string): Promise<void> {
    this.enter('importFile', to);
    await this.inner.importFile(from, to);
  }

  async hashFile(filePath: string): Promise<{ readonly bytes: number; readonly sha256: string }> {
    this.enter('hashFile', filePath);
    return this.inner.hashFile(filePath);
  }
}

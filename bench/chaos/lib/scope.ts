// What a chaos scenario started (processes, servers, temp dirs), released in reverse order when it ends, however it ends.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export type Release = () => Promise<void> | void;

/** Scopes not closed yet: an interrupted run (SIGINT/SIGTERM) closes them all, so no child outlives it. */
const open = new Set<Scope>();

export async function closeAllScopes(): Promise<void> {
  for (const scope of [...open].reverse()) await scope.close();
}

export class Scope {
  private readonly releases: Release[] = [];

  constructor() {
    open.add(this);
  }

  add(release: Release): void {
    this.releases.push(release);
  }

  /** Runs every release once, newest first; a failing release is reported and does not stop the others. */
  async close(): Promise<void> {
    open.delete(this);
    while (this.releases.length > 0) {
      const release = this.releases.pop() as Release;
      try {
        await release();
      } catch (err) {
        process.stderr.write(`chaos cleanup failed: ${err instanceof Error ? err.message : String(err)}\n`);
      }
    }
  }
}

/** A temp dir removed when the scope closes. */
export async function scopedTempDir(scope: Scope, prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  scope.add(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

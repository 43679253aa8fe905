// One node per data dir: a live holder blocks a second node; a lock left by a killed node is taken over.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lockDataDir } from './data-dir-lock.ts';
import { ConfigError } from './errors.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'spanda-lock-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('lockDataDir', () => {
  it('refuses a data dir a live spanda process holds, naming its pid', async () => {
    const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)', 'spanda-up-stand-in'], { stdio: 'ignore' });
    try {
      await writeFile(path.join(dir, 'spanda.pid'), `${holder.pid}\n`);
      await expect(lockDataDir(dir)).rejects.toThrow(ConfigError);
      await expect(lockDataDir(dir)).rejects.toThrow(new RegExp(`pid ${holder.pid}`));
    } finally {
      holder.kill('SIGKILL');
    }
  });

  it('takes over a lock whose process is gone, and releases it', async () => {
    const gone = spawn(process.execPath, ['-e', '0', 'spanda-up-stand-in'], { stdio: 'ignore' });
    await new Promise((r) => gone.once('exit', r));
    await writeFile(path.join(dir, 'spanda.pid'), `${gone.pid}\n`);
    const lock = await lockDataDir(dir);
    expect((await readFile(path.join(dir, 'spanda.pid'), 'utf8')).trim()).toBe(String(process.pid));
    await lock.release();
    await expect(readFile(path.join(dir, 'spanda.pid'), 'utf8')).rejects.toThrow();
  });
});

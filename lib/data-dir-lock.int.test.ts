// One node per data dir: a live holder blocks a second node; a lock left by a killed node is taken over.
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lockDataDir, lockFile } from './data-dir-lock.ts';
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

  it("sweeps the drafts dead processes left (SIGKILLed between writing one and linking it), never a live process's", async () => {
    const gone = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
    await new Promise((r) => gone.once('exit', r));
    const alive = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
    try {
      await writeFile(path.join(dir, `spanda.pid.${gone.pid}-0123abcd.new`), `${gone.pid}\n`);
      await writeFile(path.join(dir, `spanda.pid.${alive.pid}-4567cdef.new`), `${alive.pid}\n`);
      await writeFile(path.join(dir, 'other.lock.1-89abcdef.new'), '1\n'); // another lock's draft: not this lock's to sweep
      const lock = await lockDataDir(dir);
      expect((await readdir(dir)).sort()).toEqual(['other.lock.1-89abcdef.new', `spanda.pid.${alive.pid}-4567cdef.new`, 'spanda.pid'].sort());
      await lock.release();
    } finally {
      alive.kill('SIGKILL');
    }
  });
});

describe('lockFile', () => {
  // Each contender takes the lock the moment a shared start time comes, says whether it got it, and holds it a while.
  const contender = (file: string, startAt: number) =>
    new Promise<string>((resolve, reject) => {
      const script =
        `const { lockFile } = await import(${JSON.stringify(path.resolve('lib/data-dir-lock.ts'))});` +
        `await new Promise((r) => setTimeout(r, ${startAt} - Date.now()));` +
        `try { await lockFile(${JSON.stringify(file)}, 'the generation'); console.log('took'); await new Promise((r) => setTimeout(r, 1500)); }` +
        `catch (err) { console.log(err.message); }`;
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, 'spanda-replay-stand-in'], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.once('error', reject);
      child.once('exit', () => resolve(out.trim()));
    });

  for (const stale of [false, true]) {
    it(`lets exactly one of several processes racing for ${stale ? 'a stale lock' : 'a free lock'} take it`, async () => {
      const file = path.join(dir, 'g.lock');
      if (stale) {
        const gone = spawn(process.execPath, ['-e', '0', 'spanda-up-stand-in'], { stdio: 'ignore' });
        await new Promise((r) => gone.once('exit', r));
        await writeFile(file, `${gone.pid}\n`);
      }
      const startAt = Date.now() + 2_500; // after every contender has loaded
      const outcomes = await Promise.all(Array.from({ length: 6 }, () => contender(file, startAt)));
      expect(outcomes.filter((o) => o === 'took')).toHaveLength(1);
      for (const o of outcomes.filter((o) => o !== 'took')) expect(o).toMatch(/^the generation is held by another spanda process \(pid \d+\)/);
      // The winner exited without releasing (as a killed holder would): its lock stays, and no draft or moved file is left.
      expect((await readdir(dir)).filter((f) => f !== 'g.lock')).toEqual([]);
    }, 30_000);
  }
});


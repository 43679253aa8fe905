// The spanda executable as npx and a global install run it: straight from its shebang, with 32 MB young-generation semi-spaces.
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { freePort } from '../streams/server.ts';
import { BIN } from '../test/helpers/cli.ts';

const linux = process.platform === 'linux';
if (!linux) console.warn('[bin] /proc is Linux only: the check of the node flags the shebang passes is skipped');

describe('bin/spanda.js run as an executable', () => {
  it('answers help', async () => {
    const child = spawn(BIN, ['help'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(0);
    expect(out).toMatch(/usage: spanda <command>/);
  });

  it.skipIf(!linux)('runs node with --max-semi-space-size=32 (the default young generation doubled GC time while indexing)', async () => {
    // publish waits for a NATS server that is not there, which leaves time to read the process's command line.
    const url = `nats://127.0.0.1:${await freePort()}`;
    const child = spawn(BIN, ['publish', '-', '--nats-url', url], { stdio: ['pipe', 'ignore', 'ignore'] });
    try {
      let argv: string[] = [];
      const deadline = Date.now() + 10_000;
      // Until env has exec'd node, the process is env itself (whose arguments hold the flag too).
      while (Date.now() < deadline) {
        argv = (await readFile(`/proc/${child.pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
        if (argv[0]?.endsWith('node')) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(argv[0]).toMatch(/node$/);
      expect(argv).toContain('--max-semi-space-size=32');
      expect(argv.some((a) => a.endsWith('bin/spanda.js'))).toBe(true);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

// Workers started from TypeScript modules: they run from a cached bundle that keeps each module's own URL and stack lines.
import { once } from 'node:events';
import { chmod, mkdir, mkdtemp, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { Worker } from 'node:worker_threads';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startWorker, withoutTsxFlags } from './workers.ts';
import { bundledWorker } from './worker-bundle.mjs';

const fixture = new URL('./workers-fixture-worker.ts', import.meta.url);
const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const run = promisify(execFile);

interface FixtureReply {
  url: string;
  schema: string;
  stack: string;
}

async function reply(worker: Worker): Promise<FixtureReply> {
  try {
    const [message] = (await once(worker, 'message')) as [FixtureReply];
    return message;
  } finally {
    await worker.terminate();
  }
}

let cache: string;
const previous = process.env.SPANDA_WORKER_CACHE;
beforeEach(async () => {
  cache = await mkdtemp(path.join(os.tmpdir(), 'spanda-worker-cache-'));
  process.env.SPANDA_WORKER_CACHE = cache;
});
afterEach(async () => {
  if (previous === undefined) delete process.env.SPANDA_WORKER_CACHE;
  else process.env.SPANDA_WORKER_CACHE = previous;
  await rm(cache, { recursive: true, force: true });
});

describe('startWorker with a TypeScript module', () => {
  it('runs it from a bundle in the cache, with its own import.meta.url, packages and TypeScript stack lines', async () => {
    const got = await reply(startWorker(fixture));
    expect(got.url).toBe(fixture.href);
    expect(got.schema).toBe('zod works');
    expect(got.stack).toContain(`${path.join('lib', 'workers-fixture-worker.ts')}:6:`);
    const files = await readdir(cache);
    expect(files.filter((f) => f.endsWith('.mjs'))).toHaveLength(1);
  });

  it('reuses the bundle while the sources are unchanged', async () => {
    await reply(startWorker(fixture));
    // The manifest is written only by a build (the bundle's own time is touched at every start).
    const [manifest] = (await readdir(cache)).filter((f) => f.endsWith('.mjs.json'));
    const first = await stat(path.join(cache, manifest as string));
    await reply(startWorker(fixture));
    const second = await stat(path.join(cache, manifest as string));
    expect(second.mtimeMs).toBe(first.mtimeMs);
  });

  // Node refuses V8 options in a worker's execArgv (a worker inherits them all the same): the spanda executable runs
  // node with --max-semi-space-size=32, and benchmarks add tsx's flags to it.
  it.each([
    ['as the spanda executable runs it (tsx registered in-process)', ['--max-semi-space-size=32', '-e', "import('tsx/esm/api').then((tsx) => { tsx.register(); return import('./lib/workers-fixture-main.ts'); })"]],
    ['under the tsx CLI, with V8 options beside its flags', ['--max-semi-space-size=32', '--import', 'tsx', 'lib/workers-fixture-main.ts']],
  ])('starts workers in a process started %s', async (_how, args) => {
    const { stdout } = await run(process.execPath, args, { cwd: repoRoot, env: { ...process.env, SPANDA_WORKER_CACHE: cache } });
    expect(stdout).toBe('zod works');
  });

  it('removes bundles nothing has started for 30 days when it builds one', async () => {
    const stale = path.join(cache, 'gone-0123456789abcdef01234567.mjs');
    const fresh = path.join(cache, 'kept-0123456789abcdef01234567.mjs');
    await writeFile(stale, '');
    await writeFile(fresh, '');
    const old = new Date(Date.now() - 31 * 24 * 3600 * 1000);
    await utimes(stale, old, old);
    await reply(startWorker(fixture));
    const files = await readdir(cache);
    expect(files).not.toContain(path.basename(stale));
    expect(files).toContain(path.basename(fresh));
  });

  it('builds the bundle again when it is gone but its manifest is not (a temp-dir cleaner)', async () => {
    await reply(startWorker(fixture));
    const [bundle] = (await readdir(cache)).filter((f) => f.endsWith('.mjs'));
    await rm(path.join(cache, bundle as string));
    expect((await reply(startWorker(fixture))).schema).toBe('zod works');
    expect(await readdir(cache)).toContain(bundle);
  });

  it('falls back to tsx when no bundle can be written', async () => {
    const blocker = path.join(cache, 'a-file');
    await writeFile(blocker, 'not a directory');
    process.env.SPANDA_WORKER_CACHE = path.join(blocker, 'cache');
    const worker = startWorker(fixture, undefined, { stderr: true });
    let stderr = '';
    worker.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const got = await reply(worker);
    expect(got.url).toBe(fixture.href);
    expect(got.schema).toBe('zod works');
    expect(stderr).toContain('could not bundle the worker module');
    expect(stderr).toContain('loading it through tsx instead');
  });
});

describe('the worker cache', () => {
  it('is refused when other users may write to it: a bundle placed there would run in this process', async () => {
    const shared = path.join(cache, 'shared');
    await mkdir(shared);
    await chmod(shared, 0o777);
    process.env.SPANDA_WORKER_CACHE = shared;
    await expect(bundledWorker(fixture.href)).rejects.toThrow(/writable by others\); set SPANDA_WORKER_CACHE/);
    expect(await readdir(shared)).toEqual([]);
  });
});

describe('the default worker cache', () => {
  const saved = { XDG_CACHE_HOME: process.env.XDG_CACHE_HOME, TMPDIR: process.env.TMPDIR };
  afterEach(() => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  it('is the temp dir when the user cache directory cannot be created (a read-only home)', async () => {
    delete process.env.SPANDA_WORKER_CACHE;
    const blocker = path.join(cache, 'a-file');
    await writeFile(blocker, 'not a directory');
    process.env.XDG_CACHE_HOME = path.join(blocker, 'cache');
    process.env.TMPDIR = cache;
    const bundle = await bundledWorker(fixture.href);
    expect(path.dirname(new URL(bundle).pathname)).toBe(path.join(cache, `spanda-workers-${process.getuid?.() ?? 'user'}`));
  });
});

describe('bundledWorker', () => {
  it('rebuilds the bundle when a module it imports changes', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'spanda-worker-src-'));
    try {
      const entry = path.join(dir, 'entry.ts');
      const dep = path.join(dir, 'dep.ts');
      await writeFile(entry, "import { parentPort } from 'node:worker_threads';\nimport { value } from './dep.ts';\nparentPort?.postMessage(value);\n");
      await writeFile(dep, "export const value: string = 'first';\n");
      const run = async () => {
        const bundle = await bundledWorker(pathToFileURL(entry).href);
        const worker = new Worker(new URL(bundle));
        try {
          return (await once(worker, 'message'))[0] as string;
        } finally {
          await worker.terminate();
        }
      };
      expect(await run()).toBe('first');
      await writeFile(dep, "export const value: string = 'second, a longer value';\n");
      expect(await run()).toBe('second, a longer value');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('withoutTsxFlags', () => {
  it('drops the flags the tsx CLI loads itself with and keeps every other flag', () => {
    const argv = ['--max-semi-space-size=32', '--require', '/repo/node_modules/tsx/dist/preflight.cjs', '--import', 'file:///repo/node_modules/tsx/dist/loader.mjs', '--import=file:///repo/node_modules/tsx/dist/loader.mjs', '--import', 'tsx', '--import', './other.mjs'];
    expect(withoutTsxFlags(argv)).toEqual(['--max-semi-space-size=32', '--import', './other.mjs']);
  });

  it('leaves a process without tsx flags to its workers as it is', () => {
    expect(withoutTsxFlags(['--max-semi-space-size=32', '--enable-source-maps'])).toBeUndefined();
    expect(withoutTsxFlags([])).toBeUndefined();
  });
});

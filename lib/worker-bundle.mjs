// A worker's TypeScript module graph bundled into one cached ES module (esbuild), so a worker starts without a loader thread.
//
// tsx in a worker registers its hooks on a loader thread of the worker's own and sends every import through it: a store
// worker took ~460 ms to start on an idle machine (an empty worker takes ~40), and the test suite starts ~370 workers.
// The bundle holds the project's own modules; packages stay outside it, imported by the file URL esbuild resolved them
// to (the bundle can live anywhere), and each module keeps its own import.meta.url (the URL of its source file), so
// paths built from it (other workers, package files) are the same as when the module runs from source.
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { isBuiltin } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { threadId } from 'node:worker_threads';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** Bumped when the bundle's shape changes, so bundles cached by an older version are rebuilt. */
const FORMAT = 1;

/**
 * Where bundles are cached, in order of preference: SPANDA_WORKER_CACHE alone when set, else spanda/workers in the
 * user's cache directory (XDG_CACHE_HOME or ~/.cache), then spanda-workers-<uid> in the temp dir (a read-only home, as in
 * a container with a read-only root file system).
 */
export function workerCacheDirs() {
  if (process.env.SPANDA_WORKER_CACHE) return [process.env.SPANDA_WORKER_CACHE];
  return [
    path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'spanda', 'workers'),
    path.join(os.tmpdir(), `spanda-workers-${process.getuid?.() ?? 'user'}`),
  ];
}

/**
 * The first cache directory that can be created (private to the user) and that no other user can write to: a bundle
 * placed there by someone else would run in this process.
 */
async function trustedCacheDir() {
  const problems = [];
  for (const dir of workerCacheDirs()) {
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const s = await stat(dir);
      const uid = process.getuid?.();
      if ((uid !== undefined && s.uid !== uid && s.uid !== 0) || (s.mode & 0o022) !== 0) {
        problems.push(`${dir} is owned by another user or writable by others`);
        continue;
      }
      return dir;
    } catch (err) {
      problems.push(`${dir}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  throw new Error(`no usable worker cache (${problems.join('; ')}); set SPANDA_WORKER_CACHE to a directory of your own`);
}

/**
 * The file URL of an up-to-date bundle of the TypeScript module at `moduleUrl`, built when missing or when any of its
 * source files changed since (their sizes and modification times are kept beside it and checked at every start).
 */
export async function bundledWorker(moduleUrl) {
  const dir = await trustedCacheDir();
  const key = createHash('sha256').update(`${FORMAT}\n${process.versions.node}\n${moduleUrl}`).digest('hex').slice(0, 24);
  const name = path.basename(fileURLToPath(moduleUrl), '.ts');
  const bundle = path.join(dir, `${name}-${key}.mjs`);
  const manifest = `${bundle}.json`;
  if (await upToDate(bundle, manifest)) {
    // Its time says when it was last used, so pruning (below) only takes bundles nothing has started for a month.
    const now = new Date();
    await utimes(bundle, now, now).catch(() => undefined);
    return pathToFileURL(bundle).href;
  }
  const { code, inputs } = await build(fileURLToPath(moduleUrl), bundle);
  // Written aside and renamed: a worker starting meanwhile reads the old files or the new ones, never half of one.
  const temp = `.${process.pid}-${threadId}.tmp`;
  try {
    await writeFile(bundle + temp, code);
    await rename(bundle + temp, bundle);
    await writeFile(manifest + temp, JSON.stringify({ moduleUrl, inputs }));
    await rename(manifest + temp, manifest);
  } catch (err) {
    await Promise.all([rm(bundle + temp, { force: true }), rm(manifest + temp, { force: true })]);
    throw err;
  }
  await pruneStale(dir);
  return pathToFileURL(bundle).href;
}

/** Bundles nothing has started for this long are removed when another is built (moved checkouts leave theirs behind). */
const STALE_MS = 30 * 24 * 3600 * 1000;

/** Removes stale bundles and manifests (a worker reads its bundle only as it starts; a removed one is built again). */
async function pruneStale(dir) {
  const now = Date.now();
  const names = await readdir(dir).catch(() => []);
  await Promise.all(
    names.map(async (name) => {
      const file = path.join(dir, name);
      const s = await stat(file).catch(() => undefined);
      if (s?.isFile() && now - s.mtimeMs > STALE_MS) await rm(file, { force: true }).catch(() => undefined);
    }),
  );
}

/**
 * Whether the bundle is there and every source file recorded for it still has the size and modification time it was
 * bundled with (a temp-dir cleaner may have taken the bundle and left its manifest).
 */
async function upToDate(bundle, manifest) {
  let recorded;
  try {
    recorded = JSON.parse(await readFile(manifest, 'utf8'));
    await stat(bundle);
  } catch {
    return false;
  }
  if (!Array.isArray(recorded?.inputs) || recorded.inputs.length === 0) return false;
  const checks = await Promise.all(
    recorded.inputs.map(([file, mtimeMs, size]) =>
      stat(file).then(
        (s) => s.mtimeMs === mtimeMs && s.size === size,
        () => false,
      ),
    ),
  );
  return checks.every(Boolean);
}

/**
 * Bundles `entry` (an absolute .ts path) for `outfile` (source map paths are relative to it); returns the code and each
 * source file with the size and time it was read at.
 */
async function build(entry, outfile) {
  const esbuild = await import('esbuild');
  const inputs = new Map();
  const plugin = {
    name: 'spanda-worker-bundle',
    setup(b) {
      // Packages (and anything else outside the bundle) are imported by the absolute URL esbuild resolves them to.
      b.onResolve({ filter: /^[^./]/ }, async (args) => {
        if (args.pluginData === 'resolving' || isBuiltin(args.path)) return undefined;
        const resolved = await b.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, pluginData: 'resolving' });
        if (resolved.errors.length > 0) return { errors: resolved.errors };
        return { path: pathToFileURL(resolved.path).href, external: true };
      });
      b.onLoad({ filter: /\.[mc]?ts$/ }, async (args) => {
        const before = await stat(args.path);
        const source = await readFile(args.path, 'utf8');
        inputs.set(args.path, [args.path, before.mtimeMs, before.size]);
        const contents = source.replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href));
        if (/import\.meta\b/.test(contents)) {
          return { errors: [{ text: `${args.path} uses import.meta beyond import.meta.url, which a bundle cannot keep per module` }] };
        }
        return { contents, loader: 'ts' };
      });
    },
  };
  try {
    const result = await esbuild.build({
      entryPoints: [entry],
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: `node${process.versions.node.split('.')[0]}`,
      write: false,
      outfile,
      metafile: true,
      // Stack traces name the TypeScript sources (the bootstrap turns source maps on for the worker).
      sourcemap: 'inline',
      sourcesContent: false,
      logLevel: 'silent',
      plugins: [plugin],
    });
    const output = result.outputFiles[0];
    if (!output) throw new Error('esbuild produced no output');
    // Inputs read by esbuild itself (JSON, plain JavaScript) are recorded as they are now.
    for (const input of Object.keys(result.metafile.inputs)) {
      const file = path.resolve(input);
      if (!inputs.has(file)) {
        const s = await stat(file);
        inputs.set(file, [file, s.mtimeMs, s.size]);
      }
    }
    // The bundler itself too: a change to how bundles are made rebuilds them.
    const self = fileURLToPath(import.meta.url);
    const s = await stat(self);
    inputs.set(self, [self, s.mtimeMs, s.size]);
    return { code: output.text, inputs: [...inputs.values()] };
  } finally {
    await esbuild.stop?.();
  }
}

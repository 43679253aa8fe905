// Worker thread entry: runs the module named in workerData.module; a .ts module from its cached bundle, else through tsx.
import { workerData } from 'node:worker_threads';

const moduleUrl = workerData?.module;
if (typeof moduleUrl !== 'string') throw new Error('worker-bootstrap: workerData.module must be the URL of the module to run');

/** The bundle to run instead of a .ts module (see worker-bundle.mjs), or undefined to load it through tsx. */
async function bundled() {
  if (!moduleUrl.endsWith('.ts') || process.env.SPANDA_WORKER_BUNDLE === '0') return undefined;
  try {
    const { bundledWorker } = await import('./worker-bundle.mjs');
    return await bundledWorker(moduleUrl);
  } catch (err) {
    process.emitWarning(`could not bundle the worker module ${moduleUrl} (${err instanceof Error ? err.message : String(err)}); loading it through tsx instead, which starts slower`);
    return undefined;
  }
}

/** Runs the module through tsx (a .ts module) or as it is. */
async function fromSource() {
  if (moduleUrl.endsWith('.ts')) {
    const { register } = await import('tsx/esm/api');
    register();
  }
  await import(moduleUrl);
}

const bundle = await bundled();
if (bundle) {
  process.setSourceMapsEnabled(true);
  try {
    await import(bundle);
  } catch (err) {
    // Removed between the check and the import (another process pruning the cache): nothing of it ran, so run the source.
    if (err?.code !== 'ERR_MODULE_NOT_FOUND' || !String(err.message).includes(new URL(bundle).pathname)) throw err;
    await fromSource();
  }
} else {
  await fromSource();
}

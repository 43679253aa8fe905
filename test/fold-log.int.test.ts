// Folding the log with its slices read at once (the digest of `spanda verify` and replay): a failing slice stops the others,
// a broker restart mid-read loses nothing, and a full temp dir says so.
import { spawnSync } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UnavailableError } from '../lib/errors.ts';
import { silentLogger } from '../lib/log.ts';
import { generationRuntime, inferenceSpec } from '../cli/inference-runtime.ts';
import { foldLog, logDigest } from '../projections/log-digest.ts';
import type { StoreOp } from '../projections/store.ts';
import { documentInputSchema, publishDocument } from '../streams/document-log.ts';
import { STREAMS, provision } from '../streams/provision.ts';
import { mapLimit } from '../streams/publisher.ts';
import { tempDir } from './helpers/nats.ts';
import { startTestSystem, type TestSystem } from './helpers/system.ts';

const DOCUMENTS = 3_000;
const MODEL = { id: 'hash-256', dims: 256 };

let node: TestSystem;

beforeAll(async () => {
  node = await startTestSystem();
  const docs = Array.from({ length: DOCUMENTS }, (_, i) =>
    documentInputSchema.parse({ id: `doc-${i}`, source: 'fold', text: `Note ${i} about rivers, glaciers and compilers.` }),
  );
  await mapLimit(docs, 64, (doc) => publishDocument(node.system.nats, 'default', doc));
  // Every document chunked and embedded: one CHUNKS and one EMBEDDINGS message each.
  const deadline = Date.now() + 120_000;
  for (;;) {
    const chunks = (await node.system.nats.jsm.streams.info(STREAMS.CHUNKS)).state.messages;
    const vectors = (await node.system.nats.jsm.streams.info(STREAMS.EMBEDDINGS)).state.messages;
    if (chunks >= DOCUMENTS && vectors >= DOCUMENTS) break;
    if (Date.now() > deadline) throw new Error(`not indexed in time: ${chunks} CHUNKS, ${vectors} EMBEDDINGS messages`);
    await new Promise((r) => setTimeout(r, 200));
  }
}, 180_000);
afterAll(async () => {
  await node?.destroy();
});

describe('foldLog with the slices read at once', () => {
  it('reads every slice to its checkpoint, and a slice whose store fails stops the others at their next batch', async () => {
    const { kv } = await provision(node.system.nats);
    const runtime = generationRuntime(node.system.nats, kv, node.config, [], silentLogger);
    const projection = runtime.projectionFor(await inferenceSpec(node.config, MODEL, 'sqlite'));
    const checkpoints: Record<string, number> = {};
    for (const s of projection.sources) checkpoints[s.key] = (await node.system.nats.jsm.streams.info(s.stream)).state.last_seq;

    // All of both slices when nothing fails: every document's chunks and vectors, each slice to its end.
    const applied = { chunks: 0, vectors: 0 };
    const count = (ops: StoreOp[]) => {
      for (const op of ops) if (op.kind === 'chunks' || op.kind === 'vectors') applied[op.kind] += 1;
    };
    const read = await foldLog(node.system.nats, projection, checkpoints, count, { applyAll: count, slicesAtOnce: true });
    expect(applied).toEqual({ chunks: DOCUMENTS, vectors: DOCUMENTS });
    expect(read).toBe(2 * DOCUMENTS);

    // The store refuses vectors as a full disk would: the fold fails with that error, and the CHUNKS slice, slowed
    // down here, stops after the batch it was applying rather than reading its remaining batches (1,000 messages each).
    let chunkBatches = 0;
    const failing = async (ops: StoreOp[]) => {
      if (ops.some((op) => op.kind === 'vectors')) throw new UnavailableError('disk full while applying vectors', 5);
      chunkBatches += 1;
      await new Promise((r) => setTimeout(r, 150));
    };
    await expect(foldLog(node.system.nats, projection, checkpoints, failing, { applyAll: failing, slicesAtOnce: true })).rejects.toThrow(
      'disk full while applying vectors',
    );
    await new Promise((r) => setTimeout(r, 1_000)); // a slice that kept going would go on applying meanwhile
    expect(chunkBatches).toBeGreaterThanOrEqual(1);
    expect(chunkBatches).toBeLessThan(DOCUMENTS / 1000);
  }, 60_000);
});

/** A 512 KB tmpfs (far smaller than the digest store of 3,000 documents), or why one cannot be mounted here. */
async function smallDisk(): Promise<{ dir: string; release(): Promise<void> } | string> {
  if (process.getuid?.() !== 0) return 'needs root to mount a small tmpfs';
  const dir = await tempDir('spanda-small-tmp-');
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=512k', 'tmpfs', dir], { encoding: 'utf8' });
  if (mounted.status !== 0) {
    await rm(dir, { recursive: true, force: true });
    return `cannot mount a tmpfs here: ${(mounted.stderr || mounted.error?.message || '').trim()}`;
  }
  return {
    dir,
    release: async () => {
      spawnSync('umount', [dir]);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

describe('logDigest failures', () => {
  const digestOf = async (onProgress?: () => void) => {
    const { kv } = await provision(node.system.nats);
    const runtime = generationRuntime(node.system.nats, kv, node.config, [], silentLogger);
    const projection = runtime.projectionFor(await inferenceSpec(node.config, MODEL, 'sqlite'));
    const checkpoints: Record<string, number> = {};
    for (const s of projection.sources) checkpoints[s.key] = (await node.system.nats.jsm.streams.info(s.stream)).state.last_seq;
    return logDigest(node.system.nats, projection, MODEL, checkpoints, onProgress);
  };

  it('a temp dir too small for the throwaway store: says to free space or point TMPDIR elsewhere', async (ctx) => {
    const disk = await smallDisk();
    if (typeof disk === 'string') {
      ctx.skip(`skipped: ${disk}`);
      return;
    }
    const previous = process.env.TMPDIR;
    process.env.TMPDIR = disk.dir;
    try {
      await expect(digestOf()).rejects.toThrow(/throwaway store .* which failed .*: free space there or point TMPDIR at a larger disk/);
    } finally {
      if (previous === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = previous;
      await disk.release();
    }
  }, 60_000);

  it('nats-server killed mid-read and restarted: the read goes on from where it was, and the digest is the same', async () => {
    const expected = await digestOf();
    // Killed (as a crash would) once the first batch is in: the node's supervisor starts it again on the same store.
    const pidFile = path.join(node.config.dataDir, 'nats', 'nats-server.pid');
    const pid = Number((await readFile(pidFile, 'utf8')).trim());
    let killed = false;
    const after = await digestOf(() => {
      if (killed) return;
      killed = true;
      process.kill(pid, 'SIGKILL');
    });
    expect(killed).toBe(true);
    expect(Number((await readFile(pidFile, 'utf8')).trim())).not.toBe(pid);
    expect(after.events).toBe(expected.events);
    expect(after.digest).toBe(expected.digest);
  }, 90_000);
});

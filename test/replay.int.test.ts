// Replayable projections on a whole node: rebuild and rollback under query load, model migration, verify, read-your-writes.
import Database from 'better-sqlite3';
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../lib/log.ts';
import { generationRuntime, inferenceSpec, INFERENCE_ROLE, modelInfoOf } from '../cli/inference-runtime.ts';
import { replayCatalog, verifyCatalog } from '../projections/catalog-serving.ts';
import type { FoldProgress } from '../projections/log-digest.ts';
import { replayGeneration, verifyGeneration, storeSnapshot } from '../projections/replay.ts';
import { sqliteStorePath } from '../projections/stores/sqlite/factory.ts';
import type { GenerationRuntime } from '../projections/serving.ts';
import { STREAMS, provision } from '../streams/provision.ts';
import { startTestSystem, type TestSystem } from './helpers/system.ts';
import { jsonApi } from './helpers/http.ts';

let node: TestSystem;
let runtime: GenerationRuntime;

beforeAll(async () => {
  // Two models: hash-256 serves; hash-128 is configured too, so its embedder backfills EMBEDDINGS from the start.
  node = await startTestSystem({ SPANDA_MODELS: 'hash-128' });
  const { kv } = await provision(node.system.nats);
  runtime = generationRuntime(node.system.nats, kv, node.config, [], silentLogger);
});
afterAll(async () => {
  await node?.destroy();
});

const api = jsonApi(() => node.system.apiUrl);

const TOPICS = ['volcano magma eruption', 'salmon river spawning', 'compiler borrow checker', 'glacier ice melt', 'orbit satellite launch'];

/** Queries in a loop until stopped; counts failures and the models and generations that answered. */
function queryLoad() {
  let stopped = false;
  const seen: Array<{ model: string; generation: string }> = [];
  const failures: string[] = [];
  const running = (async () => {
    let i = 0;
    while (!stopped) {
      const topic = TOPICS[i++ % TOPICS.length] as string;
      try {
        const r = await api('POST', '/v1/query', { query: topic, k: 3 });
        if (r.status !== 200) failures.push(`${r.status} ${JSON.stringify(r.json).slice(0, 200)}`);
        else seen.push({ model: r.json.model, generation: r.json.generation });
      } catch (err) {
        failures.push(String(err));
      }
    }
  })();
  return {
    seen,
    failures,
    stop: async () => {
      stopped = true;
      await running;
    },
  };
}

async function until(predicate: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('replayable projections', () => {
  let lastSeq = 0;

  it('makes a document queryable before answering when the query says after_seq', async () => {
    const docs = Array.from({ length: 40 }, (_, i) => ({
      id: `doc-${i}`,
      title: `Note ${i}`,
      text: `${TOPICS[i % TOPICS.length]} note number ${i}. ${'Filler words about nothing in particular. '.repeat(5)}`,
    }));
    const published = await api('POST', '/v1/documents', { documents: docs });
    expect(published.status).toBe(202);
    lastSeq = Math.max(...published.json.accepted.map((a: { seq: number }) => a.seq));
    // No polling: after_seq makes the query wait until the serving generation has applied the batch.
    const r = await api('POST', '/v1/query', { query: 'note number 39', mode: 'keyword', k: 3, after_seq: lastSeq });
    expect(r.status).toBe(200);
    expect(r.json.results.map((h: { docId: string }) => h.docId)).toContain('doc-39');
    expect(r.json.model).toBe('hash-256');

    const future = await api('POST', '/v1/query', { query: 'x', after_seq: lastSeq + 1000 });
    expect(future.status).toBe(400);
    expect(future.json.detail).toMatch(/past the last DOCUMENTS sequence/);
  });

  it('rebuilds the serving generation while queries run: zero failures, same digest, then rolls back with zero failures', async () => {
    const before = node.system.serving.current();
    const oldRecord = before.record;
    if (!oldRecord) throw new Error('the serving generation has no record');
    const load = queryLoad();
    const spec = await inferenceSpec(node.config, { id: 'hash-256', dims: 256 });
    const result = await replayGeneration(runtime, spec, { vectorWeight: before.vectorWeight });
    expect(result.verified).toBe(true);
    expect(result.previous).toBe(before.id);
    expect(result.generation).not.toBe(before.id);
    await until(() => node.system.serving.current().id === result.generation);
    // Same log, same content: the rebuilt generation's digest equals the live one's at the same checkpoints.
    const oldSnapshot = await storeSnapshot(runtime, oldRecord);
    expect(oldSnapshot.checkpoints).toEqual(result.checkpoints);
    expect(oldSnapshot.digest).toBe(result.digest);

    // Roll back to the kept generation, still under load.
    const { alias, revision } = await runtime.generations.alias(INFERENCE_ROLE);
    expect(alias?.previous).toBe(before.id);
    await runtime.generations.switchAlias(INFERENCE_ROLE, before.id, revision);
    await until(() => node.system.serving.current().id === before.id);
    await new Promise((r) => setTimeout(r, 200));
    await load.stop();
    expect(load.failures).toEqual([]);
    const generations = new Set(load.seen.map((s) => s.generation));
    expect(generations.has(result.generation)).toBe(true);
    expect(generations.has(before.id)).toBe(true);
    expect((await runtime.generations.get(INFERENCE_ROLE, result.generation))?.state).toBe('retired');
  });

  it('migrates to a second model with no downtime and nothing re-chunked', async () => {
    const chunksBefore = (await node.system.nats.jsm.streams.info(STREAMS.CHUNKS)).state.messages;
    const load = queryLoad();
    const spec = await inferenceSpec(node.config, modelInfoOf('hash-128'));
    const projecting: Array<{ applied: number; total: number }> = [];
    const result = await replayGeneration(runtime, spec, {
      vectorWeight: 0.5,
      onProgress: (p) => {
        if (p.phase === 'project') projecting.push({ applied: p.applied, total: p.total });
      },
    });
    expect(result.model).toBe('hash-128');
    // Progress counts the events the build applies: all of CHUNKS and this model's EMBEDDINGS, not the other model's
    // messages that share the stream's sequences.
    let events = 0;
    for (const source of runtime.projectionFor(spec).sources) {
      const slice = await node.system.nats.js.consumers.get(source.stream, { filter_subjects: source.filterSubject });
      events += (await slice.info()).num_pending;
    }
    expect(events).toBeLessThan((await node.system.nats.jsm.streams.info(STREAMS.CHUNKS)).state.last_seq + (await node.system.nats.jsm.streams.info(STREAMS.EMBEDDINGS)).state.last_seq);
    expect(projecting.at(-1)).toEqual({ applied: events, total: events });
    expect(projecting.every((p, i) => p.applied <= p.total && (i === 0 || p.applied >= (projecting[i - 1] as { applied: number }).applied))).toBe(true);
    await until(() => node.system.serving.current().id === result.generation);
    await new Promise((r) => setTimeout(r, 200));
    await load.stop();
    expect(load.failures).toEqual([]);
    // Every query before the swap reports the old model, every one after it the new: never a mix within an answer.
    const switchAt = load.seen.findIndex((s) => s.model === 'hash-128');
    expect(switchAt).toBeGreaterThan(-1);
    expect(load.seen.slice(0, switchAt).every((s) => s.model === 'hash-256')).toBe(true);
    expect(load.seen.slice(switchAt).every((s) => s.model === 'hash-128' && s.generation === result.generation)).toBe(true);
    expect((await node.system.nats.jsm.streams.info(STREAMS.CHUNKS)).state.messages).toBe(chunksBefore);
    const r = await api('POST', '/v1/query', { query: 'glacier ice melt', mode: 'vector', k: 3 });
    expect(r.json.model).toBe('hash-128');
    expect(r.json.results.length).toBe(3);
  });

  it('verifies the serving generation against the log, and names the document a tampered store has wrong', async () => {
    // The log's digest folds into a file in the temp dir: removed after, and those of dead processes removed before.
    const tmp = await mkdtemp(path.join(os.tmpdir(), 'spanda-test-tmpdir-'));
    const previousTmp = process.env.TMPDIR;
    const deadPid = spawnSync(process.execPath, ['-e', '']).pid as number;
    const abandoned = path.join(tmp, `spanda-log-digest-${deadPid}-abc123`);
    await mkdir(abandoned);
    await writeFile(path.join(abandoned, 'digest.sqlite'), 'left by a killed verify');
    const seen: FoldProgress[] = [];
    let ok: Awaited<ReturnType<typeof verifyGeneration>>;
    try {
      process.env.TMPDIR = tmp;
      ok = await verifyGeneration(runtime, INFERENCE_ROLE, undefined, (p) => seen.push(p));
      expect(await readdir(tmp)).toEqual([]);
    } finally {
      if (previousTmp === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = previousTmp;
      await rm(tmp, { recursive: true, force: true });
    }
    expect(ok.ok).toBe(true);
    expect(ok.digest).toBe(ok.logDigest);
    // The slices are read at once and reported as one: from the sum of their sizes, finished with read = total.
    const sources = Object.keys(ok.checkpoints);
    expect(sources).toHaveLength(2);
    expect([...new Set(seen.map((p) => p.source))]).toEqual([sources.join(' + ')]);
    const last = seen.at(-1) as FoldProgress;
    expect(last.read).toBeGreaterThan(0);
    expect(last.total).toBe(last.read);
    expect(seen[0]?.total).toBeGreaterThanOrEqual(last.read);
    expect(seen.every((p, i) => p.read <= p.total && (i === 0 || p.read >= (seen[i - 1] as FoldProgress).read))).toBe(true);

    const current = node.system.serving.current();
    const file = sqliteStorePath({ role: INFERENCE_ROLE, generation: current.id, config: runtime.storeConfig });
    const db = new Database(file);
    try {
      db.prepare(`UPDATE chunks SET text = 'tampered' WHERE id = (SELECT c.id FROM chunks c JOIN documents d ON d.id = c.doc WHERE d.doc_id = 'doc-7' LIMIT 1)`).run();
    } finally {
      db.close();
    }
    const bad = await verifyGeneration(runtime, INFERENCE_ROLE);
    expect(bad.ok).toBe(false);
    expect(bad.differing).toEqual(['default/api/doc-7']);
  });

  it("tells a document's story from the indexing catalog: every version, each stage with its time, chunk ids and models", async () => {
    const first = await api('POST', '/v1/documents', { id: 'story', text: 'A first version about volcano magma.' });
    const second = await api('POST', '/v1/documents', { id: 'story', text: 'A second version about glacier ice, much longer. '.repeat(3) });
    await api('POST', '/v1/query', { query: 'glacier', mode: 'keyword', after_seq: second.json.accepted[0].seq });
    const deleted = await api('DELETE', '/v1/documents/api/story');
    await api('POST', '/v1/query', { query: 'glacier', mode: 'keyword', after_seq: deleted.json.seq });
    const doc = await api('GET', '/v1/documents/api/story');
    expect(doc.status).toBe(200);
    expect(doc.json).toMatchObject({ id: 'story', seq: deleted.json.seq, deleted: true, chunks: 0, serving: { applied: true, seq: deleted.json.seq } });
    const versions = doc.json.versions as Array<any>;
    expect(versions.map((v) => [v.seq, v.deleted])).toEqual([
      [first.json.accepted[0].seq, false],
      [second.json.accepted[0].seq, false],
      [deleted.json.seq, true],
    ]);
    const v2 = versions[1];
    expect(v2.publishedAt).toMatch(/^\d{4}-/);
    expect(v2.chunked).toHaveLength(1);
    expect(v2.chunked[0].complete).toBe(true);
    expect(v2.chunked[0].chunkIds[0]).toMatch(new RegExp(`^${v2.seq}:[0-9a-f]{8}:0$`));
    expect(v2.embedded.map((e: { model: string }) => e.model).sort()).toEqual(['hash-128', 'hash-256']);
    expect(versions[2].removedBy.length).toBeGreaterThan(0);
    expect(doc.json.versionCount).toBe(3);
    expect(doc.json.olderVersionsBefore).toBeUndefined();
    expect((await api('GET', '/v1/documents/api/never-seen')).status).toBe(404);

    // A document with many versions is told a page at a time, newest first; `latest` is the newest whatever the page.
    const page = await api('GET', '/v1/documents/api/story?versions=2');
    expect(page.json.versions.map((v: { seq: number }) => v.seq)).toEqual([second.json.accepted[0].seq, deleted.json.seq]);
    expect(page.json).toMatchObject({ versionCount: 3, olderVersionsBefore: second.json.accepted[0].seq, latest: { seq: deleted.json.seq, deleted: true } });
    expect(page.json.versions[0]).toEqual(versions[1]);
    const older = await api('GET', `/v1/documents/api/story?versions=2&before=${page.json.olderVersionsBefore}`);
    expect(older.json.versions).toEqual([versions[0]]);
    expect(older.json).toMatchObject({ versionCount: 3, latest: { seq: deleted.json.seq, deleted: true } });
    expect(older.json.olderVersionsBefore).toBeUndefined();
    for (const bad of ['versions=0', 'versions=1001', 'before=-3', 'before=x', 'version=2']) {
      const refused = await api('GET', `/v1/documents/api/story?${bad}`);
      expect(refused.status, bad).toBe(400);
      expect(refused.json.detail, bad).toMatch(/invalid query string/);
    }
  });

  it('lists generations, checkpoints and lag at GET /v1/projections', async () => {
    const r = await api('GET', '/v1/projections');
    expect(r.status).toBe(200);
    const inference = r.json.projections.find((p: { role: string }) => p.role === 'inference');
    expect(inference.active).toBe(node.system.serving.current().id);
    expect(inference.generations.length).toBeGreaterThanOrEqual(3);
    expect(r.json.serving.generation).toBe(inference.active);
    expect(r.json.serving.sources.map((s: { key: string }) => s.key)).toEqual(['CHUNKS', 'EMBEDDINGS:hash-128']);
    expect(r.json.projections.find((p: { role: string }) => p.role === 'indexing').active).toBe(node.system.catalog.current().id);
  });

  it('rebuilds the indexing catalog by replay and verifies it against the log', async () => {
    const before = node.system.catalog.current().id;
    const result = await replayCatalog(node.system.nats, runtime.generations, node.config.dataDir);
    expect(result.verified).toBe(true);
    expect(result.previous).toBe(before);
    await until(() => node.system.catalog.current().id === result.generation);
    const again = await verifyCatalog(node.system.nats, runtime.generations, node.config.dataDir);
    expect(again.ok).toBe(true);
    expect((await api('GET', '/v1/documents/api/story')).json.versions).toHaveLength(3);
  });

  it('refuses to verify from a data dir without the generation instead of comparing an empty store with nothing', async () => {
    const elsewhere = await mkdtemp(path.join(os.tmpdir(), 'spanda-test-wrong-data-dir-'));
    try {
      const wrong = { ...runtime, storeConfig: { ...runtime.storeConfig, dataDir: elsewhere } };
      const inference = node.system.serving.current().id;
      await expect(verifyGeneration(wrong, INFERENCE_ROLE)).rejects.toThrow(
        `the inference generation ${inference} has no store file at ${path.join(elsewhere, 'inference', `${inference}.sqlite`)}: pass the --data-dir`,
      );
      const catalog = node.system.catalog.current().id;
      await expect(verifyCatalog(node.system.nats, runtime.generations, elsewhere)).rejects.toThrow(`the indexing generation ${catalog} has no store file`);
      expect(await readdir(elsewhere)).toEqual([]); // nothing created there
    } finally {
      await rm(elsewhere, { recursive: true, force: true });
    }
  });

  it('resumes a rebuild an earlier replay left unfinished once no live process holds it, from where it stopped', async () => {
    const current = node.system.serving.current();
    const spec = current.record?.spec;
    if (!spec) throw new Error('the serving generation has no record');
    const options = { vectorWeight: current.vectorWeight };
    // A rebuild (the serving generation has this spec) stopped as soon as it had applied something: Ctrl-C, a crash.
    let firstTotal = 0;
    const stopped = replayGeneration(runtime, spec, {
      ...options,
      onProgress: (p) => {
        if (p.phase !== 'project' || p.applied === 0) return;
        firstTotal = p.total;
        throw new Error('stopped mid-way');
      },
    });
    await expect(stopped).rejects.toThrow('stopped mid-way');
    const unfinished = (await runtime.generations.list(INFERENCE_ROLE)).filter((g) => g.state === 'building');
    expect(unfinished).toHaveLength(1);
    const left = unfinished[0]?.id as string;
    expect(left.startsWith(`${current.id.replace(/-r[0-9a-z]+$/, '')}-r`)).toBe(true);

    // While a live process holds its lock (another replay still at it), a replay builds a generation of its own.
    const lock = path.join(node.config.dataDir, INFERENCE_ROLE, `${left}.lock`);
    const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)', 'spanda-replay-stand-in'], { stdio: 'ignore' });
    try {
      await writeFile(lock, `${holder.pid}\n`);
      const beside = await replayGeneration(runtime, spec, options);
      expect(beside).toMatchObject({ resumed: false, verified: true });
      expect(beside.generation).not.toBe(left);
    } finally {
      holder.kill('SIGKILL');
      await new Promise((r) => holder.once('exit', r));
    }

    // Its holder gone (the lock file stale, as SIGKILL leaves it): the next replay continues it, not from the start.
    let resumedTotal = -1;
    const targets: unknown[] = [];
    const resumed = await replayGeneration(runtime, spec, {
      ...options,
      onProgress: (p) => p.phase === 'project' && (resumedTotal = p.total),
      onTarget: (t) => targets.push(t),
    });
    expect(resumed).toMatchObject({ generation: left, resumed: true, verified: true });
    expect(targets).toEqual([{ id: left, resumed: true }]);
    expect(firstTotal).toBeGreaterThan(0);
    expect(resumedTotal).toBeLessThan(firstTotal);
    await until(() => node.system.serving.current().id === left);
    expect((await runtime.generations.list(INFERENCE_ROLE)).filter((g) => g.state === 'building')).toEqual([]);
    expect((await verifyGeneration(runtime, INFERENCE_ROLE)).ok).toBe(true);
  });

  it('tells a query waiting for its write that the generation cannot apply (disk full), then answers once it can', async () => {
    const { store } = node.system.serving.current();
    const apply = store.apply.bind(store);
    // The disk fills: every write of the serving store fails as SQLite's does then.
    store.apply = async () => {
      throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
    };
    try {
      const published = await api('POST', '/v1/documents', { documents: [{ id: 'on-a-full-disk', text: 'A pangolin note written while the disk was full.' }] });
      expect(published.status).toBe(202);
      const seq = published.json.accepted[0].seq as number;
      const waited = await api('POST', '/v1/query', { query: 'pangolin', mode: 'keyword', after_seq: seq, timeout_ms: 6_000 });
      expect(waited.status).toBe(504);
      expect(waited.json.detail).toMatch(
        /^DOCUMENTS \d+ is not yet queryable after 6000 ms: generation \S+ has applied .* \(applying failed \d+ times in a row; last error: database or disk is full \(the disk holding the store is full: free space on it or move the data dir\)\); retry, or raise timeout_ms$/,
      );
      expect((await api('GET', '/readyz')).status).toBe(503);
      store.apply = apply; // space freed
      const answered = await api('POST', '/v1/query', { query: 'pangolin', mode: 'keyword', k: 1, after_seq: seq, timeout_ms: 30_000 });
      expect(answered.status).toBe(200);
      expect(answered.json.results[0].docId).toBe('on-a-full-disk');
    } finally {
      store.apply = apply;
    }
  });
});


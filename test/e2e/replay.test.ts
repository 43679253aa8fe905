// End to end: `spanda replay` beside a serving `spanda up` on the same data dir, `spanda verify`, rollback, and crash consistency.
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../streams/server.ts';
import { eventually, exited, runCli, startUp, type Up } from '../helpers/cli.ts';
import { tempDir } from '../helpers/nats.ts';
import { jsonApi } from '../helpers/http.ts';

let dataDir: string;
let natsUrl: string;
let port: number;
let up: Up | undefined;

const args = () => ['--port', String(port), '--nats-url', natsUrl, '--data-dir', dataDir, '--embedder', 'hash', '--no-sample'];
const cli = (command: string[]) => runCli([...command, '--nats-url', natsUrl, '--data-dir', dataDir]);

const api = jsonApi(() => up?.api ?? '');

beforeAll(async () => {
  dataDir = await tempDir('spanda-e2e-replay-');
  natsUrl = `nats://127.0.0.1:${await freePort()}`;
  port = await freePort();
});

afterAll(async () => {
  if (up && up.child.exitCode === null) {
    up.child.kill('SIGTERM');
    await exited(up.child);
  }
  try {
    process.kill(Number((await readFile(path.join(dataDir, 'nats', 'nats-server.pid'), 'utf8')).trim()), 'SIGKILL');
  } catch {
    // already gone
  }
  await rm(dataDir, { recursive: true, force: true });
});

describe('replay and verify from the command line', () => {
  it('gives the same digest as the log after SIGKILLs at random moments of indexing', async () => {
    up = await startUp(args());
    const docs = Array.from({ length: 400 }, (_, i) => ({ id: `d${i}`, text: `Document ${i} about ${['rivers', 'stars', 'soil', 'glass'][i % 4]}. ${'Words of filler. '.repeat(40)}` }));
    const batches = [docs.slice(0, 200), docs.slice(200)];
    let lastSeq = 0;
    for (const [round, batch] of batches.entries()) {
      const published = await api('POST', '/v1/documents', { documents: batch });
      expect(published.status).toBe(202);
      lastSeq = Math.max(...published.json.accepted.map((a: { seq: number }) => a.seq));
      // Kill the node while it indexes (a different moment each round), then start it again on the same data dir.
      await new Promise((r) => setTimeout(r, 150 + round * 200));
      up.child.kill('SIGKILL');
      await exited(up.child);
      up = await startUp(args());
    }
    const deleted = await api('DELETE', '/v1/documents/api/d7');
    up.child.kill('SIGKILL');
    await exited(up.child);
    up = await startUp(args());
    const r = await eventually(
      () => api('POST', '/v1/query', { query: 'Document 399', mode: 'keyword', k: 1, after_seq: Math.max(lastSeq, deleted.json.seq), timeout_ms: 30_000 }),
      (x) => x.status === 200,
      90_000,
    );
    expect(r.json.results[0].docId).toBe('d399');
    const verify = await cli(['verify', '--json']);
    expect(verify.code).toBe(0);
    const result = JSON.parse(verify.stdout) as { ok: boolean; digest: string; logDigest: string };
    expect(result).toMatchObject({ ok: true });
    expect(result.digest).toBe(result.logDigest);
  });

  it('replays into a new generation while the node serves, swaps with no restart, and rolls back', async () => {
    const before = (await api('GET', '/v1/projections')).json.serving.generation as string;
    const replay = await cli(['replay', '--projection', 'inference', '--json']);
    expect(replay.code).toBe(0);
    const summary = JSON.parse(replay.stdout) as { status: string; generation: string; previous: string; verified: boolean };
    expect(summary).toMatchObject({ status: 'swapped', previous: before, verified: true });
    await eventually(() => api('GET', '/v1/projections'), (x) => x.json.serving.generation === summary.generation, 30_000);
    expect((await api('POST', '/v1/query', { query: 'Document 12', mode: 'keyword', k: 1 })).json).toMatchObject({ generation: summary.generation });

    const list = JSON.parse((await cli(['projections', 'list', '--json'])).stdout) as { active: string; generations: Array<{ generation: string; state: string }> };
    expect(list.active).toBe(summary.generation);
    expect(list.generations.find((g) => g.generation === before)?.state).toBe('retired');
    // The table: the replayed generation shows the positions it was completed at, the one built while serving a dash.
    const table = (await cli(['projections', 'list'])).stdout;
    expect(table).toMatch(new RegExp(`^${summary.generation} +active .*\\{"CHUNKS":\\d+`, 'm'));
    expect(table).toMatch(new RegExp(`^${before} +retired .* –$`, 'm'));

    const rollback = await cli(['projections', 'rollback', '--json']);
    expect(rollback.code).toBe(0);
    await eventually(() => api('GET', '/v1/projections'), (x) => x.json.serving.generation === before, 30_000);
    const verify = await cli(['verify']);
    expect(verify.code).toBe(0);
    expect(verify.stdout).toMatch(new RegExp(`generation ${before} matches the log`));
  });

  it('refuses --from-seq on a log that still holds its start (the generation could never match it)', async () => {
    const before = (await api('GET', '/v1/projections')).json.serving.generation as string;
    const partial = await cli(['replay', '--projection', 'inference', '--from-seq', '200']);
    expect(partial.code).toBe(1);
    expect(partial.stderr).toMatch(/--from-seq 200 would leave out what (CHUNKS|EMBEDDINGS) still holds from sequence 1: --from-seq is for a log whose start is gone/);
    expect((await api('GET', '/v1/projections')).json.serving.generation).toBe(before);
    const list = JSON.parse((await cli(['projections', 'list', '--json'])).stdout) as { generations: Array<{ state: string }> };
    expect(list.generations.filter((g) => g.state === 'building')).toEqual([]);
  });

  it('refuses odd input with a clear message and exit 2', async () => {
    const bad = await cli(['replay', '--projection', 'nonsense']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--projection must be inference or indexing/);
    const seq = await cli(['replay', '--from-seq', '-3']);
    expect(seq.code).toBe(2);
    const catalogModel = await cli(['replay', '--projection', 'indexing', '--model', 'hash-128']);
    expect(catalogModel.code).toBe(2);
    expect(catalogModel.stderr).toMatch(/--model and --from-seq apply to the inference projection/);
    const catalogGeneration = await cli(['verify', '--projection', 'indexing', '--generation', 'totally-nosuch']);
    expect(catalogGeneration.code).toBe(2);
    expect(catalogGeneration.stderr).toMatch(/--generation picks an inference generation/);
    const generation = await cli(['verify', '--generation', '']);
    expect(generation.code).toBe(2);
    expect(generation.stderr).toMatch(/--generation "" is not a generation id; `spanda projections list` shows them/);
    const model = await cli(['replay', '--model', 'gpt-9']);
    expect(model.code).toBe(1);
    expect(model.stderr).toMatch(/unknown embedding model "gpt-9"/);
    const gc = await cli(['projections', 'gc', '--keep', '0', '--json']);
    expect(gc.code).toBe(0);
    // The active generation and its rollback target always stay.
    expect(JSON.parse(gc.stdout).removed).toEqual([]);
  });
});

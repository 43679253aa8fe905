// `spanda replay --from-seq` as a user runs it: a start past the end of the log is refused, and a partial build is only resumed by the same start.
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config.ts';
import { silentLogger } from '../../lib/log.ts';
import { generationId } from '../../projections/generations.ts';
import { provision } from '../../streams/provision.ts';
import { runCli } from '../../test/helpers/cli.ts';
import { startTestNats, tempDir, type TestNats } from '../../test/helpers/nats.ts';
import { generationRuntime, inferenceSpec, modelInfoOf } from '../inference-runtime.ts';

let nats: TestNats;
let dataDir: string;

beforeAll(async () => {
  nats = await startTestNats();
  dataDir = await tempDir('spanda-replay-from-');
});
afterAll(async () => {
  await nats?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

const replay = (args: string[]) => runCli(['replay', '--model', 'hash-256', ...args, '--nats-url', nats.server.url, '--data-dir', dataDir]);

describe('spanda replay --from-seq', () => {
  it('refuses a start past the end of the streams instead of building a generation that would skip what comes', async () => {
    const { kv } = await provision(nats.handle);
    const past = await replay(['--from-seq', '99999999']);
    expect(past.code).toBe(1);
    expect(past.stderr).toMatch(/--from-seq 99999999 is past the end of [A-Z]+ \(its last sequence is 0\): .*use at most 1/);
    // Nothing was built or switched.
    const { generations } = generationRuntime(nats.handle, kv, loadConfig({ SPANDA_DATA_DIR: dataDir }, {}), [], silentLogger);
    expect(await generations.list('inference')).toEqual([]);
    expect((await generations.alias('inference')).alias).toBeUndefined();
  });

  it('refuses a model size out of range and a store that is not configured before recording a generation', async () => {
    const { kv } = await provision(nats.handle);
    const { generations } = generationRuntime(nats.handle, kv, loadConfig({ SPANDA_DATA_DIR: dataDir }, {}), [], silentLogger);
    const before = (await generations.list('inference')).length;
    for (const model of ['hash-0', 'hash-99999999']) {
      const odd = await runCli(['replay', '--model', model, '--nats-url', nats.server.url, '--data-dir', dataDir]);
      expect(odd.code, model).toBe(1);
      expect(odd.stderr, model).toMatch(new RegExp(`model ${model}: hash-<dims> takes 1 to 4096 dimensions`));
    }
    const qdrant = await runCli(['replay', '--model', 'hash-256', '--store', 'qdrant', '--nats-url', nats.server.url, '--data-dir', dataDir], { QDRANT_URL: '' });
    expect(qdrant.code).toBe(1);
    expect(qdrant.stderr).toMatch(/store kind qdrant needs a Qdrant URL: set QDRANT_URL/);
    expect(qdrant.stderr).not.toMatch(/left unfinished/);
    expect((await generations.list('inference')).length).toBe(before);
  });

  it('does not resume a partial build (--from-seq) from a replay of the whole log, and says how to go on', async () => {
    const config = loadConfig({ SPANDA_DATA_DIR: dataDir }, {});
    const { kv } = await provision(nats.handle);
    const { generations } = generationRuntime(nats.handle, kv, config, [], silentLogger);
    const spec = await inferenceSpec(config, modelInfoOf('hash-256'), 'sqlite');
    // What `spanda replay --from-seq 5` leaves when it stops before the swap (killed, or its verification failed).
    await generations.ensure(spec, 0.5, '1', generationId(spec), undefined, 5);
    const whole = await replay([]);
    expect(whole.code).toBe(1);
    expect(whole.stderr).toMatch(
      /left unfinished by a replay of the log from sequence 5 \(--from-seq 5\), not the whole log: replay with --from-seq 5 to resume it, or drop it first with `spanda projections gc --building`/,
    );
    expect((await generations.get('inference', generationId(spec)))?.state).toBe('building');
  });
});

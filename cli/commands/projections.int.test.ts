// `spanda projections gc --building` as a user runs it: generations a failed replay left unfinished go, unless a live process holds one.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config.ts';
import { silentLogger } from '../../lib/log.ts';
import { sqliteStorePath } from '../../projections/stores/sqlite/factory.ts';
import { provision } from '../../streams/provision.ts';
import { runCli } from '../../test/helpers/cli.ts';
import { startTestNats, tempDir, type TestNats } from '../../test/helpers/nats.ts';
import { generationRuntime, inferenceSpec } from '../inference-runtime.ts';

let nats: TestNats;
let dataDir: string;
let holder: ChildProcess | undefined;

beforeAll(async () => {
  nats = await startTestNats();
  dataDir = await tempDir('spanda-gc-');
});
afterAll(async () => {
  holder?.kill('SIGKILL');
  await nats?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('spanda projections gc', () => {
  it('keeps unfinished generations by default, removes them with --building, and never one a live process holds', async () => {
    const config = loadConfig({ SPANDA_DATA_DIR: dataDir }, {});
    const { kv } = await provision(nats.handle);
    const { generations } = generationRuntime(nats.handle, kv, config, [], silentLogger);
    const spec = await inferenceSpec(config, { id: 'hash-256', dims: 256 });
    const storeConfig = { dataDir };
    for (const id of ['left-behind', 'still-building']) {
      await generations.ensure(spec, 0.5, '1', id);
      const file = sqliteStorePath({ role: 'inference', generation: id, config: storeConfig });
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, 'a store file');
    }
    // A replay still building one: a live process whose command line names spanda holds its lock file.
    holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 120000)', 'spanda-replay'], { stdio: 'ignore' });
    await writeFile(path.join(dataDir, 'inference', 'still-building.lock'), `${holder.pid}\n`);
    const cli = (args: string[]) => runCli(['projections', 'gc', ...args, '--nats-url', nats.server.url, '--data-dir', dataDir]);

    const plain = await cli([]);
    expect(plain.stderr).toBe('');
    expect(plain.code).toBe(0);
    expect(plain.stdout).toMatch(/^removed 0 generation\(s\); 2 unfinished \(building\) kept: .*--building/);

    const building = await cli(['--building']);
    expect(building.code).toBe(1);
    expect(building.stdout).toMatch(/^removed 1 generation\(s\): left-behind\n$/);
    expect(building.stderr).toMatch(new RegExp(`kept still-building: .*held by another spanda process \\(pid ${holder.pid}\\)`));
    expect((await generations.list('inference')).map((r) => r.id)).toEqual(['still-building']);
    expect(existsSync(sqliteStorePath({ role: 'inference', generation: 'left-behind', config: storeConfig }))).toBe(false);
    expect(existsSync(sqliteStorePath({ role: 'inference', generation: 'still-building', config: storeConfig }))).toBe(true);

    holder.kill('SIGKILL');
    await new Promise((resolve) => holder?.once('exit', resolve));
    const after = await cli(['--building', '--json']);
    expect(after.code).toBe(0);
    expect(JSON.parse(after.stdout)).toEqual({ removed: ['still-building'], kept: 0 });
  });

  it('removes unfinished generations whose store is not configured (a replay to Weaviate that never started) along with the rest', async () => {
    const config = loadConfig({ SPANDA_DATA_DIR: dataDir }, {});
    const { kv } = await provision(nats.handle);
    const { generations } = generationRuntime(nats.handle, kv, config, [], silentLogger);
    await generations.ensure(await inferenceSpec(config, { id: 'hash-256', dims: 256 }, 'weaviate'), 0.5, '1', 'to-weaviate');
    await generations.ensure(await inferenceSpec(config, { id: 'hash-256', dims: 256 }), 0.5, '1', 'to-sqlite');
    const result = await runCli(['projections', 'gc', '--building', '--nats-url', nats.server.url, '--data-dir', dataDir]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^removed 2 generation\(s\): /);
    expect(result.stderr).toMatch(/removed the record of to-weaviate; its weaviate store could not be dropped \(.+\): drop what it may have created there yourself/);
    expect((await generations.list('inference')).map((r) => r.id).filter((id) => id.startsWith('to-'))).toEqual([]);
  });

  it('names keys that hold no generation record instead of failing, refuses to roll back to one, and gc --building removes them', async () => {
    const { kv } = await provision(nats.handle);
    await kv.put('gen.inference.weird', JSON.stringify({ id: 'weird', state: 'active' }));
    await kv.put('gen.inference.junk', 'not json');
    const cli = (args: string[]) => runCli(['projections', ...args, '--nats-url', nats.server.url, '--data-dir', dataDir]);
    const list = await cli(['list']);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stderr).toMatch(/gen\.inference\.weird but it is not a generation record \(no createdAt\); `spanda projections gc --building` removes it/);
    expect(list.stderr).toMatch(/gen\.inference\.junk but it is not a generation record \(not valid JSON\)/);
    const rollback = await cli(['rollback', '--to', 'weird']);
    expect(rollback.code).toBe(1);
    expect(rollback.stderr).toMatch(/not a generation record/);
    const gc = await cli(['gc', '--building']);
    expect(gc.code, gc.stderr).toBe(0);
    expect(gc.stderr).toMatch(/removed gen\.inference\.weird, which held no generation record/);
    expect(gc.stderr).toMatch(/removed gen\.inference\.junk, which held no generation record/);
    expect((await cli(['list'])).stderr).toBe('');
  });

  it('collects ready generations that never served (a replay that lost the alias) like retired ones, beyond --keep', async () => {
    const config = loadConfig({ SPANDA_DATA_DIR: dataDir }, {});
    const { kv } = await provision(nats.handle);
    const { generations } = generationRuntime(nats.handle, kv, config, [], silentLogger);
    const spec = await inferenceSpec(config, { id: 'hash-256', dims: 256 });
    for (const id of ['serving', 'lost-race-1', 'lost-race-2', 'lost-race-3']) {
      await generations.ensure(spec, 0.5, '1', id);
      const file = sqliteStorePath({ role: 'inference', generation: id, config: { dataDir } });
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, 'a store file');
      await generations.update('inference', id, (r) => ({ ...r, state: 'ready' }));
      await new Promise((r) => setTimeout(r, 5)); // distinct update times: "newest" is well defined
    }
    await generations.switchAlias('inference', 'serving', (await generations.alias('inference')).revision);
    const result = await runCli(['projections', 'gc', '--keep', '1', '--json', '--nats-url', nats.server.url, '--data-dir', dataDir]);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ removed: ['lost-race-2', 'lost-race-1'], kept: 2 });
    expect((await generations.list('inference')).map((r) => r.id).sort()).toEqual(['lost-race-3', 'serving']);
    expect(existsSync(sqliteStorePath({ role: 'inference', generation: 'lost-race-1', config: { dataDir } }))).toBe(false);
  });
});

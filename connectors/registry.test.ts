// The connectors file: each problem names the entry and the key; one Postgres table listed twice is refused.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../test/helpers/nats.ts';
import { loadConnectors } from './registry.ts';

async function file(entries: unknown): Promise<string> {
  const f = path.join(await tempDir('spanda-connectors-file-'), 'connectors.json');
  await writeFile(f, JSON.stringify(entries));
  return f;
}

const pgEntry = (url: string, table: string) => ({ kind: 'postgres', url, table, mapping: { idColumns: ['id'], textColumns: ['body'] } });

describe('loadConnectors', () => {
  it('builds a Postgres entry into its source and its change consumer, and RSS entries as they are', async () => {
    const connectors = await loadConnectors(await file([pgEntry('postgres://db-a/app', 'public.notes'), { kind: 'rss', feeds: ['https://example.com/feed'] }, { kind: 'rss', feeds: ['https://example.org/feed'] }]));
    expect(connectors.map((c) => c.connector.name)).toEqual(['cdc:cdc.public.notes', 'postgres:spanda_public_notes', 'rss', 'rss']);
  });

  it('reads a relative Debezium mapping file next to the connectors file, not in the working directory', async () => {
    const f = await file([{ kind: 'debezium', subjects: 'dbserver1.>', mapping: 'mapping.json' }]);
    await writeFile(path.join(path.dirname(f), 'mapping.json'), JSON.stringify({ tables: { 'public.articles': { idColumns: ['id'], textColumns: ['body'] } } }));
    const connectors = await loadConnectors(f);
    expect(connectors.map((c) => c.connector.name)).toEqual(['cdc:dbserver1.>']);
    await expect(loadConnectors(await file([{ kind: 'debezium', subjects: 'dbserver1.>', mapping: 'missing.json' }]))).rejects.toThrow(/cannot read the CDC mapping .*missing\.json/);
  });

  it('reads a Postgres URL from the environment variable an entry names, and says when it is not set', async () => {
    const entry = { ...pgEntry('', 'public.notes'), url: { env: 'SPANDA_TEST_CDC_URL' } };
    delete process.env.SPANDA_TEST_CDC_URL;
    await expect(loadConnectors(await file([entry]))).rejects.toThrow(/entry 0 key url: the environment variable SPANDA_TEST_CDC_URL is not set/);
    process.env.SPANDA_TEST_CDC_URL = 'postgres://spanda:secret@db/app';
    try {
      expect((await loadConnectors(await file([entry]))).map((c) => c.connector.name)).toEqual(['cdc:cdc.public.notes', 'postgres:spanda_public_notes']);
    } finally {
      delete process.env.SPANDA_TEST_CDC_URL;
    }
    await expect(loadConnectors(await file([{ ...entry, url: { env: 'not a name' } }]))).rejects.toThrow(/entry 0 key url/);
  });

  it('refuses one Postgres table listed twice, even on two servers, naming both entries', async () => {
    const f = await file([pgEntry('postgres://db-a/app', 'public.notes'), { kind: 'rss', feeds: ['https://example.com/feed'] }, pgEntry('postgres://db-b/app', 'notes')]);
    await expect(loadConnectors(f)).rejects.toThrow(/entries 0 and 2 both read the Postgres table public\.notes; .* list it once/);
  });

  it('names the entry of a table name it cannot read', async () => {
    await expect(loadConnectors(await file([pgEntry('postgres://db-a/app', 'a.b.c')]))).rejects.toThrow(/entry 0 key table: "a\.b\.c": use schema\.table/);
  });

  it('names the entry and key of a value of the wrong form', async () => {
    await expect(loadConnectors(await file([{ kind: 'rss', feeds: ['https://example.com/feed'], every: '10 minutes' }]))).rejects.toThrow(/entry 0 key every: a duration such as 30s/);
    await expect(loadConnectors(await file([{ kind: 'kafka' }]))).rejects.toThrow(/entry 0 key kind/);
  });
});

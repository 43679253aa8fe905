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

  it('reads several tables on one slot from "name" and "tables": a change consumer per table, one source', async () => {
    const mapping = { idColumns: ['id'], textColumns: ['body'] };
    const connectors = await loadConnectors(await file([{ kind: 'postgres', url: 'postgres://db/app', name: 'app', tables: { 'public.notes': mapping, comments: mapping } }]));
    expect(connectors.map((c) => c.connector.name)).toEqual(['cdc:cdc.public.notes', 'cdc:cdc.public.comments', 'postgres:spanda_app']);
  });

  it('says which Postgres form an entry mixes or misses', async () => {
    const mapping = { idColumns: ['id'], textColumns: ['body'] };
    const load = async (entry: Record<string, unknown>) => loadConnectors(await file([{ kind: 'postgres', url: 'postgres://db/app', ...entry }]));
    await expect(load({ tables: { 'public.notes': mapping } })).rejects.toThrow(/entry 0 key name: "tables" needs a "name"/);
    await expect(load({ name: 'app', tables: { 'public.notes': mapping }, table: 'public.other', mapping })).rejects.toThrow(/entry 0 key tables: give either "table" with "mapping", or "name" with "tables"/);
    await expect(load({ name: 'app', tables: {} })).rejects.toThrow(/key tables: list at least one table/);
    await expect(load({ mapping })).rejects.toThrow(/entry 0 key table: required/);
    await expect(load({ table: 'public.notes' })).rejects.toThrow(/entry 0 key mapping: required/);
    await expect(load({ name: 'bad name!', tables: { 'public.notes': mapping } })).rejects.toThrow(/entry 0 key name: letters, digits and _/);
    await expect(load({ name: 'app', tables: { 'a.b.c': mapping } })).rejects.toThrow(/entry 0 key tables\.a\.b\.c: "a\.b\.c": use schema\.table/);
  });

  it('refuses one table in two entries and one slot for two entries', async () => {
    const mapping = { idColumns: ['id'], textColumns: ['body'] };
    const many = { kind: 'postgres', url: 'postgres://db/app', name: 'app', tables: { 'public.notes': mapping, 'public.comments': mapping } };
    await expect(loadConnectors(await file([many, pgEntry('postgres://db/app', 'public.comments')]))).rejects.toThrow(/entries 0 and 1 both read the Postgres table public\.comments/);
    await expect(loadConnectors(await file([many, { ...many, tables: { 'public.other': mapping } }]))).rejects.toThrow(/entries 0 and 1 would share the replication slot spanda_app; give each a "name" of its own/);
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

// A served generation whose SQLite file is damaged while the node runs: set aside and built again from the log, no restart, no 500s.
import { openSync, readdirSync, closeSync, fstatSync, writeSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { documentInputSchema, publishDocument } from '../streams/document-log.ts';
import { until } from '../test/helpers/eventually.ts';
import { jsonApi, type JsonApi } from '../test/helpers/http.ts';
import { startTestSystem, type TestSystem } from '../test/helpers/system.ts';

let node: TestSystem;
let api: JsonApi;

beforeAll(async () => {
  node = await startTestSystem();
  api = jsonApi(() => `http://127.0.0.1:${node.config.port}`);
}, 60_000);
afterAll(async () => {
  await node?.destroy();
});

const publish = (id: string, text: string) =>
  publishDocument(node.system.nats, 'default', documentInputSchema.parse({ id, source: 'api', text, contentType: 'text/plain' }));

/** Ids of the documents a keyword query finds. */
async function found(query: string): Promise<{ status: number; ids: string[] }> {
  const r = await api('POST', '/v1/query', { query, mode: 'keyword', k: 5 });
  return { status: r.status, ids: r.status === 200 ? (r.json.results as Array<{ docId: string }>).map((x) => x.docId) : [] };
}

/**
 * Overwrites the file after its first two pages (the schema still reads, the rows do not), and the frames of its WAL,
 * where a store written since its last checkpoint holds its newest pages.
 */
function damage(file: string): void {
  for (const [name, keep] of [[file, 8192], [`${file}-wal`, 32]] as const) {
    let fd: number;
    try {
      fd = openSync(name, 'r+');
    } catch {
      continue; // no WAL
    }
    const size = fstatSync(fd).size;
    if (size > keep) writeSync(fd, Buffer.alloc(size - keep, 0xab), 0, size - keep, keep);
    closeSync(fd);
  }
}

describe('a damaged store file under a running node', () => {
  it('is set aside and built again from the log: old and new documents become queryable, with 503s meanwhile and never a 500', async () => {
    // A few MB of rows, checkpointed from the WAL into the file by the time they are all applied.
    for (let i = 0; i < 400; i++) await publish(`doc-${i}`, `document ${i} about tidepools and ${'barnacle limpet anemone '.repeat(150)} marker${i}`);
    await until(async () => ((await found('marker399')).ids.includes('doc-399') ? true : undefined), 'the corpus indexed', 30_000);

    const dir = path.join(node.dir, 'inference');
    const [file] = readdirSync(dir).filter((f) => f.endsWith('.sqlite'));
    expect(file).toBeDefined();
    damage(path.join(dir, file as string));
    // The indexing catalog's file too (each process projects its own).
    const catalogDir = path.join(node.dir, 'indexing');
    const [catalogFile] = readdirSync(catalogDir).filter((f) => f.endsWith('.sqlite'));
    expect(catalogFile).toBeDefined();
    damage(path.join(catalogDir, catalogFile as string));

    await publish('after-damage', 'written after the store file was damaged: quokka wombat');
    const statuses = new Set<number>();
    const readiness = new Set<number>();
    // Clients and a load balancer's probe keep asking; the damage shows when SQLite reads a damaged page (a count for
    // /readyz, a batch applied), and the file is then set aside for inspection.
    const setAside = () => readdirSync(dir).some((f) => f.startsWith(`${file}.damaged-`));
    const catalogSetAside = () => readdirSync(catalogDir).some((f) => f.startsWith(`${catalogFile}.damaged-`));
    await until(async () => {
      readiness.add((await api('GET', '/readyz')).status);
      statuses.add((await found('marker7')).status);
      statuses.add((await api('GET', '/v1/documents/api/doc-7')).status);
      return setAside() && catalogSetAside() ? true : undefined;
    }, 'the damaged files set aside', 30_000);
    await until(async () => {
      const late = await found('quokka wombat');
      const early = await found('marker7');
      statuses.add(late.status).add(early.status);
      return late.ids.includes('after-damage') && early.ids.includes('doc-7') ? true : undefined;
    }, 'the rebuilt store to answer for old and new documents', 30_000);
    expect([...statuses].filter((s) => s !== 200 && s !== 503)).toEqual([]);
    expect([...readiness].filter((s) => s !== 200 && s !== 503)).toEqual([]);
    const ready = await until(async () => {
      const r = await api('GET', '/readyz');
      return r.status === 200 ? r.json : undefined;
    }, 'readiness', 30_000);
    expect(ready.status).toBe('ready');
    expect((await found('marker399')).ids).toContain('doc-399');
    // The rebuilt catalog tells each document's versions again, the one published after the damage included.
    const lineage = await until(async () => {
      const r = await api('GET', '/v1/documents/api/after-damage');
      statuses.add(r.status);
      return r.status === 200 && r.json.versionCount === 1 ? r.json : undefined;
    }, 'the rebuilt catalog', 30_000);
    expect(lineage.serving.applied).toBe(true);
    expect((await api('GET', '/v1/documents/api/doc-7')).json.versionCount).toBe(1);
    expect([...statuses].filter((s) => s !== 200 && s !== 503)).toEqual([]);

  }, 90_000);
});

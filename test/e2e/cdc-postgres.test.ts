// End to end: a real Postgres table followed by `spanda ingest postgres` (a child process) into a whole node; SIGKILL mid-stream loses nothing and applies nothing twice.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeChange } from '../../connectors/cdc/envelope.ts';
import { decodeEvent } from '../../streams/codec.ts';
import type { NatsHandle } from '../../streams/nats.ts';
import { eventually as eventuallyWithin } from '../helpers/cli.ts';
import { postgresUnavailableReason, startTestPostgres, type TestPostgres } from '../helpers/postgres.ts';
import { startTestSystem, type TestSystem } from '../helpers/system.ts';

const BIN = path.resolve('bin/spanda.js');
const skipReason = postgresUnavailableReason();
if (skipReason) console.warn(`skipping the Postgres CDC end-to-end test: ${skipReason}`);

let postgres: TestPostgres;
let node: TestSystem;
let db: pg.Client;
let child: ChildProcess | undefined;
let childOutput = '';

function startIngest(): ChildProcess {
  const args = [BIN, 'ingest', 'postgres', '--url', postgres.url, '--table', 'public.notes', '--id-column', 'id', '--text-columns', 'title,body', '--title-column', 'title', '--metadata-columns', 'tag', '--source', 'notes', '--nats-url', node.config.natsUrl];
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout?.on('data', (d: Buffer) => (childOutput += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (childOutput += d.toString()));
  return proc;
}

/** Polls until `accept` holds; a failure shows the node's last output. */
const eventually = <T,>(probe: () => Promise<T>, accept: (v: T) => boolean, timeoutMs = 20_000): Promise<T> =>
  eventuallyWithin(probe, accept, timeoutMs, () => childOutput.slice(-2000));

async function queryIds(word: string): Promise<string[]> {
  const res = await fetch(`${node.system.apiUrl}/v1/query`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: word, mode: 'keyword', k: 10 }) });
  if (!res.ok) throw new Error(`query answered ${res.status}`);
  return ((await res.json()) as { results: Array<{ docId: string }> }).results.map((r) => r.docId);
}

/** Every message of a stream, in order. */
async function readAll(handle: NatsHandle, stream: string): Promise<Array<{ seq: number; subject: string; data: Uint8Array; headers: import('@nats-io/transport-node').MsgHdrs | undefined }>> {
  const info = await handle.jsm.streams.info(stream);
  const out = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
    const m = await handle.jsm.streams.getMessage(stream, { seq });
    if (m) out.push({ seq: m.seq, subject: m.subject, data: m.data, headers: m.header });
  }
  return out;
}

describe.skipIf(skipReason !== undefined)('spanda ingest postgres into a whole node', () => {
  beforeAll(async () => {
    postgres = await startTestPostgres();
    node = await startTestSystem();
    db = new pg.Client(postgres.url);
    await db.connect();
    await db.query('CREATE TABLE notes (id int PRIMARY KEY, title text NOT NULL, body text, tag text, views int DEFAULT 0)');
    for (let i = 1; i <= 20; i++) await db.query('INSERT INTO notes (id, title, body, tag) VALUES ($1, $2, $3, $4)', [i, `Note ${i}`, `snapshotword${i} body`, 'seed']);
  });

  afterAll(async () => {
    child?.kill('SIGKILL');
    await db?.end().catch(() => undefined);
    await node?.destroy();
    await postgres?.stop();
  });

  it('snapshots, then every insert, update and delete becomes queryable (or disappears) within seconds', async () => {
    child = startIngest();
    expect(await eventually(() => queryIds('snapshotword7'), (ids) => ids.includes('7'))).toEqual(['7']);

    await db.query("INSERT INTO notes (id, title, body, tag) VALUES (100, 'Fresh', 'insertedword here', 'new')");
    await eventually(() => queryIds('insertedword'), (ids) => ids.includes('100'), 10_000);

    await db.query("UPDATE notes SET body = 'updatedword now' WHERE id = 7");
    await eventually(() => queryIds('updatedword'), (ids) => ids.includes('7'), 10_000);
    expect(await eventually(() => queryIds('snapshotword7'), (ids) => ids.length === 0, 10_000)).toEqual([]);

    await db.query('DELETE FROM notes WHERE id = 100');
    await eventually(() => queryIds('insertedword'), (ids) => ids.length === 0, 10_000);

    // An update of an unmapped column publishes nothing.
    const before = (await node.system.nats.jsm.streams.info('DOCUMENTS')).state.last_seq;
    await db.query('UPDATE notes SET views = views + 1 WHERE id = 3');
    await db.query("UPDATE notes SET body = 'markerword' WHERE id = 4");
    await eventually(() => queryIds('markerword'), (ids) => ids.includes('4'), 10_000);
    expect((await node.system.nats.jsm.streams.info('DOCUMENTS')).state.last_seq).toBe(before + 1);
  });

  it('is killed with SIGKILL mid-stream, restarted, and no change is lost or applied twice', async () => {
    const handle = node.system.nats;
    const startSeq = (await handle.jsm.streams.info('DOCUMENTS')).state.last_seq;
    let killed = false;
    let writerDone = false;
    // 300 changes, one transaction each: inserts, updates of each new row, deletes of some.
    const writer = (async () => {
      for (let i = 0; i < 100; i++) {
        const id = 1000 + i;
        await db.query('INSERT INTO notes (id, title, body, tag) VALUES ($1, $2, $3, $4)', [id, `Row ${id}`, `v1 of row ${id}`, 'load']);
        await db.query('UPDATE notes SET body = $2 WHERE id = $1', [id, `v2 of row ${id}`]);
        if (i % 5 === 0) await db.query('DELETE FROM notes WHERE id = $1', [id]);
        else await db.query('UPDATE notes SET body = $2, tag = $3 WHERE id = $1', [id, `v3 of row ${id}`, 'final']);
        await new Promise((r) => setTimeout(r, 10)); // a table that keeps changing for a second or two
      }
      writerDone = true;
    })();
    await eventually(async () => (await handle.jsm.streams.info('DOCUMENTS')).state.last_seq, (seq) => seq >= startSeq + 40, 20_000);
    // Mid-stream: the table is still changing and part of it is not in the log yet.
    expect(writerDone).toBe(false);
    expect((await handle.jsm.streams.info('DOCUMENTS')).state.last_seq).toBeLessThan(startSeq + 300);
    child?.kill('SIGKILL');
    killed = true;
    await new Promise((r) => child?.once('exit', r));
    await writer;
    expect(killed).toBe(true);
    // Some changes happened while nothing ran: the restart must pick them up from the slot.
    child = startIngest();
    await eventually(() => queryIds('final'), () => true);
    await eventually(async () => (await handle.jsm.streams.info('DOCUMENTS')).state.last_seq, (seq) => seq >= startSeq + 300, 30_000);

    const events = (await readAll(handle, 'DOCUMENTS')).map((m) => decodeEvent(m, { stream: 'DOCUMENTS', seq: m.seq })); // validates every event
    const load = events.filter((e) => e.position.seq > startSeq && 'id' in e.data && Number(e.data.id) >= 1000);
    const upserts = new Map<string, number>();
    const deletes = new Map<string, number>();
    for (const e of load) {
      if (e.type === 'document.upserted') upserts.set(`${e.data.id}|${e.data.text}`, (upserts.get(`${e.data.id}|${e.data.text}`) ?? 0) + 1);
      else if (e.type === 'document.deleted') deletes.set(e.data.id, (deletes.get(e.data.id) ?? 0) + 1);
    }
    const expectedUpserts: string[] = [];
    const expectedDeletes: string[] = [];
    for (let i = 0; i < 100; i++) {
      const id = 1000 + i;
      expectedUpserts.push(`${id}|Row ${id}\n\nv1 of row ${id}`, `${id}|Row ${id}\n\nv2 of row ${id}`);
      if (i % 5 === 0) expectedDeletes.push(String(id));
      else expectedUpserts.push(`${id}|Row ${id}\n\nv3 of row ${id}`);
    }
    // Every row version exactly once, every delete exactly once, nothing else.
    expect([...upserts.keys()].sort()).toEqual(expectedUpserts.sort());
    expect([...upserts.values()].every((n) => n === 1)).toBe(true);
    expect([...deletes.keys()].sort()).toEqual(expectedDeletes.sort());
    expect([...deletes.values()].every((n) => n === 1)).toBe(true);

    // The change events the source wrote are Debezium envelopes, one per change.
    const envelopes = await readAll(handle, 'DebeziumStream');
    for (const m of envelopes) expect(decodeChange(m.data).kind).toBe('change');
    const loadEnvelopes = envelopes.filter((m) => {
      const d = decodeChange(m.data);
      return d.kind === 'change' && Number((d.event.after ?? d.event.before)?.id) >= 1000;
    });
    expect(loadEnvelopes).toHaveLength(300);

    // And the final state is what the index answers.
    await eventually(() => queryIds('v3'), (ids) => ids.includes('1001'), 20_000);
    expect(await queryIds('1000')).not.toContain('1000');
  });
});

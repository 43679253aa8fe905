// CDC throughput: row changes/s from a real Postgres through the embedded source and the Debezium consumer to queryable, next to the raw JetStream publish rate.
import pg from 'pg';
import { debeziumConnector } from '../connectors/cdc/consumer.ts';
import { encodeChange } from '../connectors/cdc/envelope.ts';
import { parseMapping } from '../connectors/cdc/mapping.ts';
import { openConnectorBucket } from '../connectors/connector.ts';
import { changeEvent, jsonRow } from '../connectors/postgres/envelope-builder.ts';
import { postgresSource } from '../connectors/postgres/source.ts';
import { createLogger } from '../lib/log.ts';
import { postgresUnavailableReason, startTestPostgres } from '../test/helpers/postgres.ts';
import { loadAverage, note, onCleanup, round, runBenchmark, sleep, table, writeResult } from './lib/common.ts';
import { jetstreamBaseline } from './lib/jetstream.ts';
import { startNode, startPrivateNats } from './lib/node.ts';

const ROWS = Number(process.env.SPANDA_BENCH_CDC_ROWS ?? 3000);
const TX_ROWS = 100;

async function until(probe: () => Promise<boolean>, timeoutMs = 300_000): Promise<number> {
  const started = performance.now();
  while (!(await probe())) {
    if (performance.now() - started > timeoutMs) throw new Error(`not reached within ${timeoutMs} ms`);
    await sleep(20);
  }
  return performance.now();
}

await runBenchmark('cdc', async () => {
  const skip = postgresUnavailableReason();
  if (skip) {
    note(`cdc benchmark skipped: ${skip}`);
    return;
  }
  const startLoad = loadAverage();
  const postgres = await startTestPostgres();
  onCleanup(() => postgres.stop());
  const nats = await startPrivateNats();
  const node = await startNode(nats.url, { SPANDA_EMBEDDER: 'hash' });
  const db = new pg.Client(postgres.url);
  await db.connect();
  onCleanup(() => db.end());
  await db.query('CREATE TABLE items (id int PRIMARY KEY, title text NOT NULL, body text NOT NULL, tag text)');

  const handle = nats.handle;
  const ctx = { nats: handle, kv: await openConnectorBucket(handle), logger: createLogger('bench', 'warn') };
  const mapping = parseMapping({ tables: { 'public.items': { idColumns: ['id'], titleColumn: 'title', textColumns: ['title', 'body'], metadataColumns: ['tag'], source: 'items' } } });
  const consumer = await debeziumConnector({ subjects: 'cdc.public.items', mapping }).start(ctx);
  onCleanup(() => consumer.stop());
  const source = await postgresSource({ url: postgres.url, tables: ['public.items'], topicPrefix: 'cdc' }).start(ctx);
  onCleanup(() => source.stop());
  await source.snapshotted;

  const lastSeq = async (stream: string) => (await handle.jsm.streams.info(stream)).state.last_seq;
  const queryable = async (word: string, id: string) => {
    const res = await fetch(`${node.system.apiUrl}/v1/query`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: word, mode: 'keyword', k: 3 }) });
    return res.ok && ((await res.json()) as { results: Array<{ docId: string }> }).results.some((r) => r.docId === id);
  };

  /** Times one phase; without a marker (no node running) it ends when the documents are stored. */
  async function phase(label: string, write: () => Promise<void>, marker?: { word: string; id: string }) {
    const cdc0 = await lastSeq('DebeziumStream');
    const docs0 = await lastSeq('DOCUMENTS');
    const t0 = performance.now();
    await write();
    const written = performance.now();
    const toNats = await until(async () => (await lastSeq('DebeziumStream')) >= cdc0 + ROWS);
    const toDocuments = await until(async () => (await lastSeq('DOCUMENTS')) >= docs0 + ROWS);
    const toQueryable = marker ? await until(() => queryable(marker.word, marker.id)) : undefined;
    const s = (t: number) => (t - t0) / 1000;
    const result = {
      rows: ROWS,
      postgresWriteSeconds: round(s(written), 3),
      changeEventsStoredSeconds: round(s(toNats), 3),
      documentsStoredSeconds: round(s(toDocuments), 3),
      changeEventsPerSecond: Math.round(ROWS / s(toNats)),
      documentsPerSecond: Math.round(ROWS / s(toDocuments)),
      ...(toQueryable !== undefined ? { queryableSeconds: round(s(toQueryable), 3), queryablePerSecond: Math.round(ROWS / s(toQueryable)) } : {}),
    };
    note(`${label}: ${JSON.stringify(result)}`);
    return result;
  }

  // Rows from..from+ROWS-1: inserted, or updated, in transactions of TX_ROWS; each body carries `<mark><id>` to query by.
  const insertRows = (from: number, mark: string) => async () => {
    for (let at = from; at < from + ROWS; at += TX_ROWS) {
      await db.query(
        `INSERT INTO items (id, title, body, tag) SELECT g, 'Item ' || g, 'first version of item ' || g || ' ${mark}' || g, 'bench' FROM generate_series($1::int, $2::int) g`,
        [at, Math.min(at + TX_ROWS, from + ROWS) - 1],
      );
    }
  };
  const updateRows = (from: number, mark: string) => async () => {
    for (let at = from; at < from + ROWS; at += TX_ROWS) {
      await db.query(`UPDATE items SET body = 'second version of item ' || id || ' ${mark}' || id WHERE id BETWEEN $1 AND $2`, [at, Math.min(at + TX_ROWS, from + ROWS) - 1]);
    }
  };
  const last = String(ROWS - 1);
  const inserts = await phase('insert', insertRows(0, 'insertmark'), { word: `insertmark${last}`, id: last });
  const updates = await phase('update', updateRows(0, 'updatemark'), { word: `updatemark${last}`, id: last });

  // The same changes again on new rows with no node indexing next to the source and the consumer: the CDC path alone.
  await node.stop();
  const alone = { insert: await phase('insert, no node', insertRows(ROWS, 'insertmark')), update: await phase('update, no node', updateRows(ROWS, 'updatemark')) };

  // The raw JetStream rate for change events of the same size, on the same server, in the same run.
  const sample = (await db.query<Record<string, unknown>>('SELECT * FROM items LIMIT 1')).rows[0] ?? {};
  const envelope = encodeChange(changeEvent('u', { serverName: 'cdc', db: 'postgres', schema: 'public', table: 'items', tsMs: Date.now(), lsn: 1n }, null, jsonRow(sample)));
  const baseline = await jetstreamBaseline(handle, Array.from({ length: ROWS }, () => envelope), 'cdc', 64);

  const rows = [
    ['insert (100 rows/tx)', String(inserts.changeEventsPerSecond), String(inserts.documentsPerSecond), String(inserts.queryablePerSecond ?? '')],
    ['update (100 rows/tx)', String(updates.changeEventsPerSecond), String(updates.documentsPerSecond), String(updates.queryablePerSecond ?? '')],
    ['insert, no node', String(alone.insert.changeEventsPerSecond), String(alone.insert.documentsPerSecond), ''],
    ['update, no node', String(alone.update.changeEventsPerSecond), String(alone.update.documentsPerSecond), ''],
    ['raw JetStream publish', String(baseline.publish.perSecond), '', ''],
  ];
  console.log(table(['row changes/s', 'change events stored', 'documents stored', 'queryable'], rows));
  const file = await writeResult('cdc', startLoad, {
    rows: ROWS,
    rowsPerTransaction: TX_ROWS,
    envelopeBytes: envelope.byteLength,
    embedder: 'hash',
    insert: inserts,
    update: updates,
    withoutNode: alone,
    jetstreamBaseline: baseline,
    consumer: consumer.status().details,
    source: source.status().details,
  });
  console.log(`wrote ${file}`);
});

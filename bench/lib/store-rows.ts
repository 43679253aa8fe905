// The SQLite rows a replay's store cannot avoid writing, inserted plainly (replay benchmark), here or in a worker thread.
import { rmSync } from 'node:fs';
import path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { openDatabase } from '../../projections/stores/sqlite/schema.ts';
import type { TextChunk } from '../../processors/chunker/chunk.ts';
import { startWorker } from '../../lib/workers.ts';

export interface CorpusDocument {
  readonly id: string;
  readonly title: string | undefined;
  readonly chunks: readonly TextChunk[];
}

interface Model {
  readonly id: string;
  readonly dims: number;
}

/**
 * The SQLite work of the store's own rows with none of the replay's: plain INSERTs into the store's tables (schema.ts:
 * documents, chunks and vectors with their unique keys) with the build's file settings, ~2,000 chunks a transaction (a
 * replay's batch of 1,000 messages). No reads, no guard, no decoding: what the replay's store could not avoid.
 */
export function storeRowsInsert(dir: string, docs: readonly CorpusDocument[], model: Model): number {
  const file = path.join(dir, 'store-rows.sqlite');
  const db = openDatabase(file, model);
  db.pragma('journal_mode = TRUNCATE'); // a new file: its page size is already the store's
  db.pragma('synchronous = FULL');
  const insertDoc = db.prepare(
    `INSERT INTO documents (tenant, source, doc_id, doc_seq, deleted, title, url, metadata, total_chunks)
     VALUES ('default', 'bench', ?, ?, 0, ?, NULL, '{}', ?) RETURNING id`,
  );
  const insertChunk = db.prepare(
    'INSERT INTO chunks (doc, chunk_id, ordinal, text, start_char, end_char, tokens, heading) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id',
  );
  const insertVector = db.prepare('INSERT INTO vectors (chunk, window_index, vector) VALUES (?, 0, ?)');
  const blob = Buffer.alloc(model.dims * 4, 7);
  const insert = db.transaction((batch: readonly CorpusDocument[], firstSeq: number) => {
    batch.forEach((doc, i) => {
      const docKey = (insertDoc.get(doc.id, BigInt(firstSeq + i), doc.title ?? null, BigInt(doc.chunks.length)) as { id: number }).id;
      for (const c of doc.chunks) {
        const heading = c.heading ?? null;
        const row = insertChunk.get(BigInt(docKey), `${c.ordinal}:0`, BigInt(c.ordinal), c.text, BigInt(c.start), BigInt(c.end), BigInt(c.tokens), heading) as { id: number };
        insertVector.run(BigInt(row.id), blob);
      }
    });
  });
  const started = performance.now();
  for (let i = 0; i < docs.length; i += 500) insert(docs.slice(i, i + 500), i + 1);
  const ms = performance.now() - started;
  db.close();
  rmSync(file, { force: true });
  return ms;
}

/**
 * storeRowsInsert in a worker thread of its own, started and loaded before `together` runs: resolves when both are
 * done, with the time both took, the insert's own and what `together` returned (e.g. a JetStream read on this thread).
 */
export async function storeRowsInsertBeside<T>(
  dir: string,
  docs: readonly CorpusDocument[],
  model: Model,
  together: () => Promise<T>,
): Promise<{ ms: number; insertMs: number; value: T }> {
  const worker = startWorker(new URL(import.meta.url), { dir, docs, model });
  try {
    const message = (): Promise<unknown> =>
      new Promise((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
    if ((await message()) !== 'ready') throw new Error('the store-rows worker did not start');
    const done = message();
    const started = performance.now();
    worker.postMessage('go');
    const [insertMs, value] = await Promise.all([done, together()]);
    return { ms: performance.now() - started, insertMs: insertMs as number, value };
  } finally {
    await worker.terminate();
  }
}

// As a worker: waits for "go", inserts, answers with the milliseconds it took.
if (parentPort && (workerData as { data?: { docs?: unknown } } | undefined)?.data?.docs !== undefined) {
  const port = parentPort;
  const { dir, docs, model } = (workerData as { data: { dir: string; docs: CorpusDocument[]; model: Model } }).data;
  port.once('message', () => port.postMessage(storeRowsInsert(dir, docs, model)));
  port.postMessage('ready');
}

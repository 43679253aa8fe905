// Benchmark of the chunker on 1 MB documents of each format: normalise, chunk, and the whole handler path.
// Run: npm run bench:chunker   (writes bench/results/chunker.json; prints figures, never passes or fails)
import type { DocumentUpserted, StoredEvent } from '../streams/events/index.ts';
import { chunkText } from '../processors/chunker/chunk.ts';
import { createChunker } from '../processors/chunker/handler.ts';
import { normalizeText } from '../processors/chunker/normalize.ts';
import { generator, htmlDocument, markdownDocument, plainDocument, sentence } from '../processors/chunker/test-documents.ts';
import { loadAverage, round, writeResult } from './lib/common.ts';

const startLoad = loadAverage();

const TARGET_CHARS = 1_000_000;
const RUNS = 15;

function grow(make: (seed: number) => string): string {
  const parts: string[] = [];
  let length = 0;
  for (let seed = 1; length < TARGET_CHARS; seed++) {
    const part = make(seed);
    parts.push(part);
    length += part.length;
  }
  return parts.join('\n\n').slice(0, TARGET_CHARS);
}

const g = generator(2026);
const inputs: Array<{ name: string; text: string; contentType?: 'text/plain' | 'text/markdown' | 'text/html' }> = [
  { name: 'plain', text: grow((seed) => plainDocument(seed)), contentType: 'text/plain' },
  { name: 'markdown', text: grow((seed) => markdownDocument(seed)), contentType: 'text/markdown' },
  { name: 'html', text: grow((seed) => htmlDocument(seed)), contentType: 'text/html' },
  { name: 'sniffed md', text: grow((seed) => markdownDocument(seed)) },
  { name: 'one paragraph', text: grow(() => sentence(g)).replace(/\n+/g, ' '), contentType: 'text/plain' },
  { name: 'no spaces', text: 'QUJD'.repeat(TARGET_CHARS / 4), contentType: 'text/plain' },
];

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

function timed<T>(fn: () => T): [T, number] {
  const started = performance.now();
  const result = fn();
  return [result, performance.now() - started];
}

// CPU time of this process: on a shared machine wall time also counts the time spent waiting for a core.
function cpuMs<T>(fn: () => T): number {
  const started = process.cpuUsage();
  fn();
  const used = process.cpuUsage(started);
  return (used.user + used.system) / 1000;
}

console.log(`chunker benchmark: ${TARGET_CHARS.toLocaleString()} characters per document, median of ${RUNS} warm runs (node ${process.version})`);
console.log('document        cold total   normalize   chunk   total   total CPU   chunks');
const rows: Array<Record<string, string | number>> = [];
for (const { name, text, contentType } of inputs) {
  const [, cold] = timed(() => chunkText(normalizeText(text, contentType)));
  const normalizeMs: number[] = [];
  const chunkMs: number[] = [];
  let chunks = 0;
  for (let run = 0; run < RUNS; run++) {
    const [normalized, n] = timed(() => normalizeText(text, contentType));
    const [result, c] = timed(() => chunkText(normalized));
    normalizeMs.push(n);
    chunkMs.push(c);
    chunks = result.length;
  }
  const total = normalizeMs.map((n, i) => n + (chunkMs[i] ?? 0));
  const cpu = Array.from({ length: RUNS }, () => cpuMs(() => chunkText(normalizeText(text, contentType))));
  rows.push({
    document: name,
    chars: text.length,
    coldMs: round(cold, 1),
    normalizeMs: round(median(normalizeMs), 1),
    chunkMs: round(median(chunkMs), 1),
    totalMs: round(median(total), 1),
    totalCpuMs: round(median(cpu), 1),
    chunks,
    mbPerSecond: round(text.length / 1e6 / (median(total) / 1000), 1),
  });
  console.log(
    `${name.padEnd(15)} ${cold.toFixed(1).padStart(7)} ms ${median(normalizeMs).toFixed(1).padStart(8)} ms ${median(chunkMs).toFixed(1).padStart(5)} ms ${median(total).toFixed(1).padStart(5)} ms ${median(cpu).toFixed(1).padStart(8)} ms ${String(chunks).padStart(7)}`,
  );
}

const input: StoredEvent<DocumentUpserted> = {
  type: 'document.upserted',
  data: { tenant: 'bench', source: 'bench', id: 'doc', contentType: 'text/markdown', text: inputs[1]?.text ?? '', metadata: {}, contentHash: `sha256:${'0'.repeat(64)}` },
  metadata: { id: 'bench', source: '/bench', time: new Date(0).toISOString(), schemaVersion: 1 },
  position: { stream: 'DOCUMENTS', seq: 1, subject: 'docs.bench.bench.doc' },
};
const chunker = createChunker();
const handlerMs: number[] = [];
let parts = 0;
for (let run = 0; run < RUNS; run++) {
  const started = performance.now();
  const [outcome] = await chunker.handle([input], { maxPayloadBytes: 1024 * 1024 });
  handlerMs.push(performance.now() - started);
  parts = Array.isArray(outcome) ? outcome.length : 0;
}
console.log(`handler (markdown, normalise + chunk + parts + events): ${median(handlerMs).toFixed(1)} ms, ${parts} part(s) under 1 MiB`);

const written = await writeResult('chunker', startLoad, {
  settings: { charsPerDocument: TARGET_CHARS, runs: RUNS, chunker: 'default (size 800, overlap 120)', statistic: 'median of warm runs; cold = first run' },
  rows,
  handler: { document: 'markdown', ms: round(median(handlerMs), 1), parts, maxPayloadBytes: 1024 * 1024 },
});
console.log(`written to ${written}`);

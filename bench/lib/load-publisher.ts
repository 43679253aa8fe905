// An upstream system in a process of its own for the freshness benchmark: publishes prose documents to DOCUMENTS as a burst or at a steady rate.
// Run by startLoadPublisher (bench/lib/child-client.ts) with `node --import tsx`; talks JSON lines on stdin/stdout.
//
// Input, one JSON line: { natsUrl, tenant, source, producer } and either { burst: { count, minBytes, maxBytes, seed,
// prefix } } (a corpus as proseCorpus makes it, published 64 at a time) or { rate: { perSecond, bytes, seed, tickMs? } }
// (one document of `bytes` every 1/perSecond s, in ticks of tickMs, default 20 ms; a tick behind publishes the backlog,
// at most 256 in flight). It prints {"ready":true} once connected and its documents are made, starts on the line "go", and for a rate
// stops on the line "stop". Last it prints {"sent":N,"seconds":S} and exits.
import { createInterface } from 'node:readline';
import { silentLogger } from '../../lib/log.ts';
import { documentInputSchema, publishDocument, type ValidDocumentInput } from '../../streams/document-log.ts';
import { connectNats } from '../../streams/nats.ts';
import { mapLimit } from '../../streams/publisher.ts';
import { sleep } from './common.ts';
import { proseCorpus, proseDocument } from './prose.ts';

/** What the load publisher is asked to do (its first line of input). */
export interface LoadPublisherInput {
  readonly natsUrl: string;
  readonly tenant: string;
  readonly source: string;
  readonly producer: string;
  readonly burst?: { readonly count: number; readonly minBytes: number; readonly maxBytes: number; readonly seed: number; readonly prefix: string };
  /** tickMs: how often due documents are published (default 20 ms: a few at a time; 2 ms: about one at a time). */
  readonly rate?: { readonly perSecond: number; readonly bytes: number; readonly seed: number; readonly tickMs?: number };
}

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const next = async (): Promise<string> => {
  const line = await lines.next();
  if (line.done) throw new Error('stdin closed before the benchmark said what to do');
  return line.value;
};
const say = (message: unknown) => process.stdout.write(`${JSON.stringify(message)}\n`);

const input = JSON.parse(await next()) as LoadPublisherInput;
const handle = await connectNats({ url: input.natsUrl, name: 'bench-load-publisher', logger: silentLogger });
const asInput = (d: { id: string; title: string; text: string }): ValidDocumentInput =>
  documentInputSchema.parse({ id: d.id, source: input.source, title: d.title, text: d.text, contentType: 'text/plain' });
const publish = (d: ValidDocumentInput) => publishDocument(handle, input.tenant, d, { producer: input.producer });

let sent = 0;
let seconds = 0;
if (input.burst) {
  const b = input.burst;
  const docs = proseCorpus(b.count, b.minBytes, b.maxBytes, b.seed, b.prefix).map(asInput);
  say({ ready: true });
  if ((await next()) !== 'go') throw new Error('expected "go"');
  const started = performance.now();
  await mapLimit(docs, 64, publish);
  sent = docs.length;
  seconds = (performance.now() - started) / 1000;
} else if (input.rate) {
  const { perSecond, bytes, seed, tickMs = 20 } = input.rate;
  say({ ready: true });
  if ((await next()) !== 'go') throw new Error('expected "go"');
  let stopped = false;
  const stopping = next().then((line) => {
    if (line !== 'stop') throw new Error('expected "stop"');
    stopped = true;
  });
  const started = performance.now();
  const inFlight = new Set<Promise<unknown>>();
  while (!stopped) {
    const due = Math.floor(((performance.now() - started) / 1000) * perSecond);
    while (sent < due && inFlight.size < 256) {
      const d = proseDocument(seed + sent, bytes, `bg-${sent}`);
      const p = publish(asInput(d)).finally(() => inFlight.delete(p));
      inFlight.add(p);
      sent++;
    }
    await sleep(tickMs);
  }
  await stopping;
  await Promise.all(inFlight);
  seconds = (performance.now() - started) / 1000;
}
await handle.drain();
// stdin is still open (readline): exit once the result is written.
process.stdout.write(`${JSON.stringify({ sent, seconds })}\n`, () => process.exit(0));

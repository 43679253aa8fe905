// Worker thread of a threaded processor: builds the chunker or hash embedder it is named, handles each batch it is sent and encodes the outputs.
import { workerData } from 'node:worker_threads';
import { PermanentEventError, ValidationError } from '../../lib/errors.ts';
import { eventHeaderEntries, eventPayload } from '../../streams/codec.ts';
import { createChunker } from '../chunker/handler.ts';
import { createEmbedder } from '../embedder/handler.ts';
import { createHashEmbedder } from '../embedder/hash.ts';
import { serveTasks } from '../embedder/pool.ts';
import type { EmbeddingProvider } from '../embedder/provider.ts';
import type { Processor } from '../processor.ts';
import { toWireError, type EmbedCall, type HandleReply, type HandleRequest, type ThreadedSpec, type WireOutcome, type WireOutput } from './protocol.ts';

const spec = (workerData as { data: ThreadedSpec }).data;
const embeds: EmbedCall[] = [];

/** The provider, its embed calls recorded for the main thread's metrics (as lib/metrics-embedder.ts records them). */
function recorded(provider: EmbeddingProvider): EmbeddingProvider {
  return {
    ...provider,
    embed: async (texts) => {
      const started = performance.now();
      try {
        const vectors = await provider.embed(texts);
        embeds.push({ texts: texts.length, seconds: (performance.now() - started) / 1000 });
        return vectors;
      } catch (err) {
        const permanent = err instanceof PermanentEventError || err instanceof ValidationError;
        embeds.push({ texts: texts.length, seconds: (performance.now() - started) / 1000, failed: permanent ? 'permanent' : 'transient' });
        throw err;
      }
    },
  };
}

const processor: Processor =
  spec.kind === 'chunker' ? createChunker({ size: spec.size, overlap: spec.overlap }) : createEmbedder(recorded(createHashEmbedder({ dims: spec.provider.dims })));

serveTasks<HandleRequest, HandleReply>(async ({ inputs, maxPayloadBytes }) => {
  embeds.length = 0;
  const outcomes = await processor.handle(inputs, { maxPayloadBytes });
  // Payload JSON of every output, then one buffer holding them all: one transfer instead of one per output.
  const payloads: Uint8Array[] = [];
  let bytes = 0;
  const wire = outcomes.map((outcome): WireOutcome => {
    if (outcome instanceof Error) return { error: toWireError(outcome) };
    return {
      outputs: outcome.map((o): WireOutput => {
        const data = eventPayload(o.event);
        payloads.push(data);
        bytes += data.byteLength;
        return { subject: o.subject, type: o.event.type, msgId: o.msgId, headers: eventHeaderEntries(o.event, o.msgId), start: bytes - data.byteLength, end: bytes };
      }),
    };
  });
  const all = new Uint8Array(bytes);
  let at = 0;
  for (const p of payloads) {
    all.set(p, at);
    at += p.byteLength;
  }
  return { result: { outcomes: wire, payloads: all, embeds: [...embeds] }, transfer: [all.buffer] };
});

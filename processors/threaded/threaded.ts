// A processor whose handle() runs in a worker thread (chunking, hash embedding and encoding off the event loop); the runner still decodes, publishes and acks.
import { startWorker } from '../../lib/workers.ts';
import { PROVIDER_ERROR_KINDS, type SpandaMetrics } from '../../lib/metrics.ts';
import { headersFrom } from '../../streams/codec.ts';
import { createChunker } from '../chunker/handler.ts';
import { createEmbedder } from '../embedder/handler.ts';
import { createHashEmbedder } from '../embedder/hash.ts';
import { createWorkerPool } from '../embedder/pool.ts';
import type { EmbeddingProvider } from '../embedder/provider.ts';
import type { EncodedOutput, Outcome, Processor } from '../processor.ts';
import { fromWireError, type HandleReply, type HandleRequest, type ThreadedSpec } from './protocol.ts';

const workerModule = new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url);

/** The spec of a provider's embedder that can run in a worker thread (the hash embedder), or undefined. */
export function threadedEmbedderSpec(provider: EmbeddingProvider): ThreadedSpec | undefined {
  return provider.threadable ? { kind: 'embedder', provider: provider.threadable } : undefined;
}

/** The same processor as the factory would build on this thread (its name, version, stream, batch sizes) and its model. */
function localTwin(spec: ThreadedSpec): { processor: Processor; model?: string } {
  if (spec.kind === 'chunker') return { processor: createChunker({ size: spec.size, overlap: spec.overlap }) };
  const provider = createHashEmbedder({ dims: spec.provider.dims });
  return { processor: createEmbedder(provider), model: provider.info.id };
}

/**
 * The processor `spec` names, handling its batches in a worker thread of its own: the outputs come back encoded (the
 * bytes and headers publishEvent would build), so the main thread only decodes, publishes and acks. Same consumer,
 * same output ids and payloads as the processor built on this thread. A worker that dies fails the batch it held (the
 * runner retries it) and is replaced. `metrics` receives the embedder's batch figures, as instrumentEmbedder records them.
 */
export function threadedProcessor(spec: ThreadedSpec, options: { readonly metrics?: SpandaMetrics } = {}): Processor<EncodedOutput> {
  const { processor: twin, model } = localTwin(spec);
  const pool = createWorkerPool<HandleRequest, HandleReply>({ name: `${twin.name} worker`, size: 1, start: () => startWorker(workerModule, spec) });
  // Started now rather than on the first document: loading the worker's modules takes a while.
  pool.run({ inputs: [], maxPayloadBytes: 0 }).catch(() => undefined);
  const metrics = options.metrics;
  // Series exist from the start, as instrumentEmbedder makes them.
  if (metrics && model !== undefined) for (const kind of PROVIDER_ERROR_KINDS) metrics.providerErrors.labels(model, kind).inc(0);

  const record = (reply: HandleReply) => {
    if (!metrics || model === undefined) return;
    for (const call of reply.embeds) {
      metrics.embedderBatchSize.labels(model).observe(call.texts);
      metrics.embedderBatchSeconds.labels(model).observe(call.seconds);
      if (call.failed) metrics.providerErrors.labels(model, call.failed).inc();
    }
  };

  return {
    name: twin.name,
    version: twin.version,
    stream: twin.stream,
    filterSubjects: twin.filterSubjects,
    batchSize: twin.batchSize,
    ...(twin.maxInFlight !== undefined ? { maxInFlight: twin.maxInFlight } : {}),
    async handle(inputs, context) {
      const reply = await pool.run({ inputs, maxPayloadBytes: context.maxPayloadBytes });
      record(reply);
      return reply.outcomes.map((outcome): Outcome<EncodedOutput> => {
        if ('error' in outcome) return fromWireError(outcome.error);
        return outcome.outputs.map((o) => ({
          subject: o.subject,
          type: o.type,
          msgId: o.msgId,
          encoded: { headers: headersFrom(o.headers), data: reply.payloads.subarray(o.start, o.end) },
        }));
      });
    },
    close: () => pool.close(),
  };
}

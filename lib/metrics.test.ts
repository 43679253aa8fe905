// Metrics parts with plain values: per-node registries, the JetStream collector, freshness sampling, the embedder wrapper, the metrics listener.
import { describe, expect, it } from 'vitest';
import { PermanentEventError, TransientError } from './errors.ts';
import { createMetrics, defaultMetrics } from './metrics.ts';
import { createJetStreamCollector, type CollectorJsm } from './metrics-collector.ts';
import { instrumentEmbedder } from './metrics-embedder.ts';
import { createFreshnessProbe } from './metrics-freshness.ts';
import { startMetricsServer } from './metrics-server.ts';

const valuesOf = async (metric: { get(): Promise<{ values: Array<{ labels: Partial<Record<string, string | number>>; value: number }> }> }): Promise<Array<Record<string, unknown>>> =>
  (await metric.get()).values.map((v) => ({ ...v.labels, value: v.value }));

describe('createMetrics', () => {
  it('gives each node its own registry, and the process default is created once, on first use', async () => {
    const a = createMetrics();
    const b = createMetrics();
    a.queries.labels('hybrid').inc();
    expect(await valuesOf(a.queries)).toEqual([{ mode: 'hybrid', value: 1 }]);
    expect(await valuesOf(b.queries)).toEqual([]);
    expect(defaultMetrics()).toBe(defaultMetrics());
    expect(await a.registry.metrics()).toMatch(/spanda_process_nodejs_eventloop_lag_seconds/);
  });
});

describe('the JetStream collector', () => {
  function fakeJsm(state: { pending: number; ackPending: number; subjects: Record<string, number> }) {
    const calls: string[] = [];
    const jsm: CollectorJsm = {
      consumers: {
        info: async (stream, consumer) => {
          calls.push(`consumer ${stream}/${consumer}`);
          return { num_pending: state.pending, num_ack_pending: state.ackPending };
        },
      },
      streams: {
        info: async (stream, opts) => {
          calls.push(`stream ${stream} ${opts?.subjects_filter}`);
          return { state: { subjects: state.subjects } };
        },
      },
    };
    return { jsm, calls };
  }

  it('reports lag per consumer and DLQ entries per stage (0 for a watched stage with none)', async () => {
    const metrics = createMetrics();
    const state = { pending: 7, ackPending: 2, subjects: { 'dlq.embedder-m': 3 } as Record<string, number> };
    const { jsm, calls } = fakeJsm(state);
    const collector = createJetStreamCollector(metrics, jsm, 60_000);
    const unwatchChunker = collector.watch({ stream: 'DOCUMENTS', consumer: 'chunker', dlqStage: 'chunker' });
    const unwatchProjection = collector.watch({ dlqStage: 'projection-inference' });
    await collector.poll();
    expect(await valuesOf(metrics.consumerPending)).toEqual([{ stream: 'DOCUMENTS', consumer: 'chunker', value: 7 }]);
    expect(await valuesOf(metrics.consumerAckPending)).toEqual([{ stream: 'DOCUMENTS', consumer: 'chunker', value: 2 }]);
    expect(await valuesOf(metrics.dlqMessages)).toEqual(
      expect.arrayContaining([
        { processor: 'chunker', value: 0 },
        { processor: 'projection-inference', value: 0 },
        { processor: 'embedder-m', value: 3 },
      ]),
    );
    // A redrive empties the DLQ: the stage's series drops to 0 rather than keeping its last count.
    state.subjects = {};
    await collector.poll();
    expect((await valuesOf(metrics.dlqMessages)).find((v) => v.processor === 'embedder-m')).toBeUndefined();
    unwatchChunker();
    unwatchProjection();
    calls.length = 0;
    await collector.poll();
    expect(calls).toEqual(['stream DLQ dlq.>']);
  });
});

describe('the freshness probe', () => {
  it('looks each version up once, observes seconds since it entered the log, and samples a large batch', async () => {
    const metrics = createMetrics();
    const lookups: number[] = [];
    const probe = createFreshnessProbe(
      metrics,
      async (seq) => {
        lookups.push(seq);
        return seq === 404 ? undefined : 1_000_000;
      },
      { samplesPerBatch: 4 },
    );
    probe.observe('inference', [
      { source: 'CHUNKS', docSeq: 1 },
      { source: 'EMBEDDINGS:m', docSeq: 1 },
    ], 1_002_500);
    await probe.settled();
    probe.observe('inference', [{ source: 'CHUNKS', docSeq: 404 }], 1_002_500);
    await probe.settled();
    const hist = await metrics.freshnessSeconds.get();
    const count = hist.values.filter((v) => v.metricName === 'spanda_freshness_seconds_count');
    expect(count.map((v) => [v.labels.source, v.value])).toEqual([
      ['CHUNKS', 1],
      ['EMBEDDINGS:m', 1],
    ]);
    const sum = hist.values.find((v) => v.metricName === 'spanda_freshness_seconds_sum' && v.labels.source === 'CHUNKS');
    expect(sum?.value).toBe(2.5);
    expect(lookups.filter((s) => s === 1)).toHaveLength(1);

    lookups.length = 0;
    probe.observe('inference', Array.from({ length: 100 }, (_, i) => ({ source: 'CHUNKS', docSeq: 1000 + i })));
    await probe.settled();
    expect(lookups.length).toBe(4);
  });
});

describe('instrumentEmbedder', () => {
  it('counts texts, time and failures by kind, and keeps every other member of the provider', async () => {
    const metrics = createMetrics();
    let fail: Error | undefined;
    const provider = {
      info: { id: 'm', dims: 2 },
      windows: (t: string) => [t],
      embed: async (texts: readonly string[]) => {
        if (fail) throw fail;
        return texts.map(() => new Float32Array(2));
      },
    };
    const wrapped = instrumentEmbedder(provider, metrics);
    expect(wrapped.windows('x')).toEqual(['x']);
    expect(wrapped.info.id).toBe('m');
    expect(await wrapped.embed(['a', 'b', 'c'])).toHaveLength(3);
    fail = new TransientError('503');
    await expect(wrapped.embed(['a'])).rejects.toThrow('503');
    fail = new PermanentEventError('too long');
    await expect(wrapped.embed(['a'])).rejects.toThrow('too long');
    expect(await valuesOf(metrics.providerErrors)).toEqual([
      { model: 'm', kind: 'transient', value: 1 },
      { model: 'm', kind: 'permanent', value: 1 },
    ]);
    const size = (await metrics.embedderBatchSize.get()).values.find((v) => v.metricName === 'spanda_embedder_batch_size_sum');
    expect(size?.value).toBe(5);
  });
});

describe('startMetricsServer', () => {
  it('serves /metrics, /healthz and /readyz for a process without the API', async () => {
    const metrics = createMetrics();
    metrics.processorEvents.labels('chunker', 'ok').inc(3);
    let ok = false;
    const server = await startMetricsServer({ host: '127.0.0.1', port: 0, metrics, ready: () => ({ ok, detail: { nats: ok } }) });
    try {
      expect(await (await fetch(`${server.url}/metrics`)).text()).toMatch(/spanda_processor_events_total\{processor="chunker",outcome="ok"\} 3/);
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      expect((await fetch(`${server.url}/readyz`)).status).toBe(503);
      ok = true;
      expect(await (await fetch(`${server.url}/readyz`)).json()).toEqual({ status: 'ready', checks: { nats: true } });
      expect((await fetch(`${server.url}/nope`)).status).toBe(404);
    } finally {
      await server.close();
    }
  });

  it('refuses /metrics as its authorize hook says, with the status and headers of the error', async () => {
    const refusal = Object.assign(new Error('this route needs an API key'), { status: 401, headers: { 'www-authenticate': 'Bearer realm="spanda"' } });
    const server = await startMetricsServer({
      host: '127.0.0.1',
      port: 0,
      metrics: createMetrics(),
      authorize: (h) => {
        if (h !== 'Bearer admin-key') throw refusal;
      },
    });
    try {
      const refused = await fetch(`${server.url}/metrics`);
      expect(refused.status).toBe(401);
      expect(refused.headers.get('www-authenticate')).toBe('Bearer realm="spanda"');
      expect((await fetch(`${server.url}/metrics`, { headers: { authorization: 'Bearer admin-key' } })).status).toBe(200);
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('serves JSON routes behind their own guard, which a public /metrics does not open', async () => {
    const refusal = Object.assign(new Error('this route needs an API key'), { status: 401, headers: {} });
    const server = await startMetricsServer({
      host: '127.0.0.1',
      port: 0,
      metrics: createMetrics(),
      json: { '/v1/connectors': () => ({ connectors: [{ name: 'rss', state: 'running' }] }) },
      authorizeJson: (h) => {
        if (h !== 'Bearer admin-key') throw refusal;
      },
    });
    try {
      expect((await fetch(`${server.url}/metrics`)).status).toBe(200);
      expect((await fetch(`${server.url}/v1/connectors`)).status).toBe(401);
      const ok = await fetch(`${server.url}/v1/connectors`, { headers: { authorization: 'Bearer admin-key' } });
      expect(await ok.json()).toEqual({ connectors: [{ name: 'rss', state: 'running' }] });
      // Only own keys are routes: a name from Object.prototype is not.
      expect((await fetch(`${server.url}/toString`)).status).toBe(404);
      expect(await (await fetch(`${server.url}/nope`)).json()).toMatchObject({ routes: ['/metrics', '/healthz', '/readyz', '/v1/connectors'] });
    } finally {
      await server.close();
    }
  });
});

// The Prometheus metrics registry and every metric Spanda exports, named spanda_* (served at GET /metrics).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'spanda_process_' });

export const metrics = {
  processorEvents: new Counter({
    name: 'spanda_processor_events_total',
    help: 'Input events handled by a processor, by outcome (ok, retried, dead_lettered, skipped)',
    labelNames: ['processor', 'outcome'] as const,
    registers: [registry],
  }),
  processorOutputs: new Counter({
    name: 'spanda_processor_outputs_total',
    help: 'Events published by a processor',
    labelNames: ['processor'] as const,
    registers: [registry],
  }),
  processorBatchSeconds: new Histogram({
    name: 'spanda_processor_batch_seconds',
    help: 'Time to handle a batch and publish its outputs',
    labelNames: ['processor'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  }),
  projectionApplied: new Counter({
    name: 'spanda_projection_events_total',
    help: 'Events applied to a projection',
    labelNames: ['projection', 'source'] as const,
    registers: [registry],
  }),
  projectionPosition: new Gauge({
    name: 'spanda_projection_position',
    help: 'Last stream sequence a projection has applied',
    labelNames: ['projection', 'source'] as const,
    registers: [registry],
  }),
  projectionLag: new Gauge({
    name: 'spanda_projection_lag',
    help: 'Messages in the source stream not yet applied to the projection',
    labelNames: ['projection', 'source'] as const,
    registers: [registry],
  }),
  httpRequests: new Counter({
    name: 'spanda_http_requests_total',
    help: 'HTTP requests by route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  }),
  httpSeconds: new Histogram({
    name: 'spanda_http_request_seconds',
    help: 'HTTP request duration by route',
    labelNames: ['method', 'route'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  }),
  queries: new Counter({
    name: 'spanda_queries_total',
    help: 'Queries answered, by mode',
    labelNames: ['mode'] as const,
    registers: [registry],
  }),
};

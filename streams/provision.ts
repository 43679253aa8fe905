// Idempotent provisioning of Spanda's streams and KV bucket: creates what is missing, updates what drifted, never deletes data.
import {
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
  type StreamInfo,
} from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsHandle } from './nats.ts';

export const STREAMS = {
  DOCUMENTS: 'DOCUMENTS',
  CHUNKS: 'CHUNKS',
  EMBEDDINGS: 'EMBEDDINGS',
  QUERIES: 'QUERIES',
  DLQ: 'DLQ',
} as const;
export type StreamName = (typeof STREAMS)[keyof typeof STREAMS];

/** KV bucket for aliases and runtime settings (active embedding model, projection generations). */
export const CONFIG_BUCKET = 'spanda';

export interface ProvisionOptions {
  /** Window in which an identical Nats-Msg-Id is dropped as a duplicate. */
  readonly duplicateWindowMs?: number;
  /** Replicas for clustered deployments (1 on a single server). */
  readonly replicas?: number;
  /** Storage: file (default) or memory (tests). */
  readonly storage?: 'file' | 'memory';
}

const NS_PER_MS = 1_000_000;

/** How long the DLQ stream remembers entry ids (see streams/dlq.ts): a day of re-drives and replays add no duplicates. */
export const DLQ_DUPLICATE_WINDOW_MS = 24 * 60 * 60_000;

export function streamConfigs(options: ProvisionOptions = {}): Array<Partial<StreamConfig> & { name: StreamName; subjects: string[] }> {
  const common = {
    retention: RetentionPolicy.Limits,
    storage: options.storage === 'memory' ? StorageType.Memory : StorageType.File,
    num_replicas: options.replicas ?? 1,
    discard: DiscardPolicy.Old,
    allow_direct: true,
    duplicate_window: (options.duplicateWindowMs ?? 2 * 60_000) * NS_PER_MS,
  };
  return [
    { ...common, name: STREAMS.DOCUMENTS, subjects: ['docs.>'], description: 'Document changes from upstream systems (document.upserted, document.deleted)' },
    { ...common, name: STREAMS.CHUNKS, subjects: ['chunks.>'], description: 'Chunks of each document version (document.chunked, document.removed)' },
    { ...common, name: STREAMS.EMBEDDINGS, subjects: ['embeddings.>'], description: 'Vectors per model of each document version (document.embedded, document.removed)' },
    { ...common, name: STREAMS.QUERIES, subjects: ['queries.>'], description: 'Queries, answers and feedback (query.received, query.answered, feedback.given)' },
    {
      ...common,
      name: STREAMS.DLQ,
      subjects: ['dlq.>'],
      description: 'Events a processor rejected, with the reason in headers',
      // Entry ids name the rejected log event, so a second stage rejecting it within this window adds no second entry.
      duplicate_window: Math.max(common.duplicate_window, DLQ_DUPLICATE_WINDOW_MS * NS_PER_MS),
    },
  ];
}

async function streamInfo(handle: NatsHandle, name: string): Promise<StreamInfo | undefined> {
  try {
    return await handle.jsm.streams.info(name);
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) return undefined;
    throw err;
  }
}

export interface ProvisionResult {
  readonly created: string[];
  readonly updated: string[];
  readonly kv: KV;
}

/** Creates or updates the streams and KV bucket. Safe to run on every start and from many processes at once. */
export async function provision(handle: NatsHandle, options: ProvisionOptions = {}): Promise<ProvisionResult> {
  const created: string[] = [];
  const updated: string[] = [];
  for (const config of streamConfigs(options)) {
    const info = await streamInfo(handle, config.name);
    if (!info) {
      try {
        await handle.jsm.streams.add(config);
        created.push(config.name);
      } catch (err) {
        // Another process created it between our info and add: that is the state we wanted.
        if (!(await streamInfo(handle, config.name))) throw err;
      }
      continue;
    }
    const missing = config.subjects.filter((s) => !info.config.subjects?.includes(s));
    if (missing.length > 0 || info.config.duplicate_window !== config.duplicate_window || info.config.description !== config.description) {
      await handle.jsm.streams.update(config.name, {
        subjects: [...new Set([...(info.config.subjects ?? []), ...config.subjects])],
        ...(config.duplicate_window !== undefined ? { duplicate_window: config.duplicate_window } : {}),
        ...(config.description !== undefined ? { description: config.description } : {}),
      });
      updated.push(config.name);
    }
  }
  const kv = await new Kvm(handle.js).create(CONFIG_BUCKET, { history: 10, replicas: options.replicas ?? 1 });
  return { created, updated, kv };
}

export async function openConfigBucket(handle: NatsHandle): Promise<KV> {
  return new Kvm(handle.js).open(CONFIG_BUCKET);
}

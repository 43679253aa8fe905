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
import { DEFAULT_DLQ_MAX_AGE_MS, DEFAULT_QUERIES_MAX_AGE_MS } from '../lib/config.ts';
import { ConfigError, errorMessage } from '../lib/errors.ts';
import type { NatsHandle } from './nats.ts';

export const STREAMS = {
  DOCUMENTS: 'DOCUMENTS',
  CHUNKS: 'CHUNKS',
  EMBEDDINGS: 'EMBEDDINGS',
  QUERIES: 'QUERIES',
  DLQ: 'DLQ',
  ERASURES: 'ERASURES',
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
  /**
   * How much of QUERIES to keep (0: no limit), the oldest dropped first. Applied to an existing stream too; without it
   * a new stream gets the default age and an existing one keeps its limits.
   */
  readonly queries?: Retention;
  /** How much of the DLQ to keep, likewise. */
  readonly dlq?: Retention;
}

/** A stream's limits: the oldest messages are dropped past either (0: no limit). */
export interface Retention {
  readonly maxAgeMs: number;
  readonly maxBytes: number;
}

/** The streams whose limits a node sets (the log streams keep everything), by the option that carries them. */
const LIMITED: Partial<Record<StreamName, 'queries' | 'dlq'>> = { QUERIES: 'queries', DLQ: 'dlq' };

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
    duplicate_window: baseDuplicateWindowNs(STREAMS.DOCUMENTS, options),
  };
  return [
    { ...common, name: STREAMS.DOCUMENTS, subjects: ['docs.>'], description: 'Document changes from upstream systems (document.upserted, document.deleted)' },
    { ...common, name: STREAMS.CHUNKS, subjects: ['chunks.>'], description: 'Chunks of each document version (document.chunked, document.removed)' },
    { ...common, name: STREAMS.EMBEDDINGS, subjects: ['embeddings.>'], description: 'Vectors per model of each document version (document.embedded, document.removed)' },
    // Tiny and kept for good: the indexing catalog forgets the erased versions from it, in a replay too.
    { ...common, name: STREAMS.ERASURES, subjects: ['erasures.>'], description: 'Documents whose earlier versions spanda erase took out of the log (document.erased)' },
    {
      ...common,
      name: STREAMS.QUERIES,
      subjects: ['queries.>'],
      description: 'Queries, answers and feedback (query.received, query.answered, feedback.given)',
      // Every answer is an event with its passages: a busy chat would otherwise fill the disk the documents' log is on.
      ...streamLimits(options.queries ?? { maxAgeMs: DEFAULT_QUERIES_MAX_AGE_MS, maxBytes: 0 }, baseDuplicateWindowNs(STREAMS.QUERIES, options)),
    },
    {
      ...common,
      name: STREAMS.DLQ,
      subjects: ['dlq.>'],
      description: 'Events a processor rejected, with the reason in headers',
      // Entry ids name the rejected log event, so a second stage rejecting it within this window adds no second entry.
      // Junk injected onto a stream is copied here whole: the DLQ keeps 30 days by default, the originals stay in the log.
      ...streamLimits(options.dlq ?? { maxAgeMs: DEFAULT_DLQ_MAX_AGE_MS, maxBytes: 0 }, baseDuplicateWindowNs(STREAMS.DLQ, options)),
    },
  ];
}

/** A stream's duplicate window before its age limit shortens it: the DLQ remembers entry ids for a day. */
function baseDuplicateWindowNs(name: StreamName, options: ProvisionOptions): number {
  const common = (options.duplicateWindowMs ?? 2 * 60_000) * NS_PER_MS;
  return name === STREAMS.DLQ ? Math.max(common, DLQ_DUPLICATE_WINDOW_MS * NS_PER_MS) : common;
}

/** A stream's limits as stream settings; nats-server wants the duplicate window no longer than the age limit. */
function streamLimits(retention: Retention, duplicateWindowNs: number): { max_age: number; max_bytes: number; duplicate_window: number } {
  const maxAge = retention.maxAgeMs * NS_PER_MS;
  return { max_age: maxAge, max_bytes: retention.maxBytes > 0 ? retention.maxBytes : -1, duplicate_window: maxAge > 0 ? Math.min(duplicateWindowNs, maxAge) : duplicateWindowNs };
}

/** nats-server reserves a stream's max_bytes against its storage limit: a cap larger than that is a setting to fix. */
function noRoomFor(stream: StreamName, err: unknown): ConfigError | undefined {
  if (!/insufficient|resources|storage/i.test(errorMessage(err))) return undefined;
  const setting = stream === STREAMS.DLQ ? 'SPANDA_DLQ_MAX_BYTES' : 'SPANDA_QUERIES_MAX_BYTES';
  return new ConfigError(`nats-server cannot reserve ${setting} for the ${stream} stream (${errorMessage(err)}): lower it, or give JetStream more storage (max_file_store)`);
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
        if (await streamInfo(handle, config.name)) continue;
        throw (config.max_bytes !== undefined && config.max_bytes > 0 && noRoomFor(config.name, err)) || err;
      }
      continue;
    }
    const missing = config.subjects.filter((s) => !info.config.subjects?.includes(s));
    const limited = LIMITED[config.name];
    const retention = limited ? options[limited] : undefined;
    const limits = retention ? streamLimits(retention, config.duplicate_window ?? 0) : undefined;
    const limitsDiffer = limits !== undefined && (info.config.max_age !== limits.max_age || (info.config.max_bytes ?? -1) !== limits.max_bytes);
    // A limited stream's window follows its age limit, which only a node's own settings (options.queries, .dlq) change:
    // without them, the window its present age limit allows.
    const window =
      limited && !retention
        ? streamLimits({ maxAgeMs: (info.config.max_age ?? 0) / NS_PER_MS, maxBytes: 0 }, baseDuplicateWindowNs(config.name, options)).duplicate_window
        : config.duplicate_window;
    const windowDiffers = info.config.duplicate_window !== window;
    if (missing.length > 0 || windowDiffers || info.config.description !== config.description || limitsDiffer) {
      try {
        await handle.jsm.streams.update(config.name, {
          subjects: [...new Set([...(info.config.subjects ?? []), ...config.subjects])],
          ...(window !== undefined && windowDiffers ? { duplicate_window: window } : {}),
          ...(config.description !== undefined ? { description: config.description } : {}),
          ...(limits ?? {}),
        });
      } catch (err) {
        throw (limitsDiffer && noRoomFor(config.name, err)) || err;
      }
      updated.push(config.name);
    }
  }
  const kv = await new Kvm(handle.js).create(CONFIG_BUCKET, { history: 10, replicas: options.replicas ?? 1 });
  return { created, updated, kv };
}

export async function openConfigBucket(handle: NatsHandle): Promise<KV> {
  return new Kvm(handle.js).open(CONFIG_BUCKET);
}

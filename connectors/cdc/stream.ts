// The JetStream stream Debezium change events live in: Debezium Server's subject naming and finding or creating the stream for them.
import { DiscardPolicy, JetStreamApiCodes, JetStreamApiError, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import { ConfigError } from '../../lib/errors.ts';
import type { NatsHandle } from '../../streams/nats.ts';

/** Debezium Server's sink default (debezium.sink.nats-jetstream.stream-name) when it creates the stream itself. */
export const DEBEZIUM_STREAM = 'DebeziumStream';

/** Spanda's own subject roots: a Debezium topic prefix must not land change events in them. */
const RESERVED_ROOTS = new Set(['docs', 'chunks', 'embeddings', 'queries', 'dlq', '$KV', '$JS']);

/** JetStream API error code: a stream with that name already exists (with a different configuration). */
const STREAM_NAME_IN_USE = 10058;

const TOKEN = /^[^.*>\s]+$/;

/**
 * The subject Debezium Server's NATS JetStream sink writes a change to: the record's destination, which for Postgres is
 * the topic name `<topic.prefix>.<schema>.<table>` (no stream-name mapper configured).
 */
export function debeziumSubject(prefix: string, schema: string, table: string): string {
  for (const [what, token] of [['topic prefix', prefix], ['schema', schema], ['table', table]] as const) {
    if (!TOKEN.test(token)) throw new ConfigError(`the ${what} ${JSON.stringify(token)} cannot be a NATS subject token (no ".", "*", ">" or whitespace)`);
  }
  return `${prefix}.${schema}.${table}`;
}

/** Checks a subject filter such as `dbserver1.>` or `dbserver1.public.*` before anything is created. */
export function assertCdcSubjects(filter: string): string {
  const tokens = filter.split('.');
  if (tokens.some((t) => t === '' || /\s/.test(t)) || tokens.slice(0, -1).includes('>')) {
    throw new ConfigError(`invalid subject filter ${JSON.stringify(filter)}: use <topic.prefix>.> or <topic.prefix>.<schema>.<table>`);
  }
  if (RESERVED_ROOTS.has(tokens[0] as string) || tokens[0] === '*' || tokens[0] === '>') {
    throw new ConfigError(`subject filter ${JSON.stringify(filter)} overlaps Spanda's own streams; choose a Debezium topic prefix such as "cdc" or "dbserver1"`);
  }
  return filter;
}

export interface EnsureStreamOptions {
  /** Subject filter of the change events, e.g. `dbserver1.>`. */
  readonly subjects: string;
  /** Name for a stream Spanda creates (default DebeziumStream). An existing stream holding the subjects is used as it is. */
  readonly streamName?: string;
  /** Create the stream when none holds the subjects (default true); false fails with a ConfigError instead. */
  readonly create?: boolean;
  readonly storage?: 'file' | 'memory';
  /** Duplicate window: the embedded Postgres source relies on it to drop re-sent changes after a restart (default 10 min). */
  readonly duplicateWindowMs?: number;
}

/** Returns the stream holding the change-event subjects, creating it when allowed. The stream may belong to Debezium. */
export async function ensureCdcStream(handle: NatsHandle, options: EnsureStreamOptions): Promise<{ stream: string; created: boolean }> {
  const filter = assertCdcSubjects(options.subjects);
  try {
    return { stream: await handle.jsm.streams.find(filter), created: false };
  } catch (err) {
    // Also raised when several streams match: then creating one more fails below with a clear overlap error.
    if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound)) throw err;
  }
  const name = options.streamName ?? DEBEZIUM_STREAM;
  if (options.create === false) {
    throw new ConfigError(`no JetStream stream holds ${filter}; start Debezium Server with debezium.sink.nats-jetstream.create-stream=true, create stream ${name}, or allow Spanda to create it`);
  }
  try {
    await handle.jsm.streams.add({
      name,
      subjects: [filter],
      description: 'Debezium change events (Debezium Server NATS JetStream sink or the embedded Postgres CDC source)',
      retention: RetentionPolicy.Limits,
      storage: options.storage === 'memory' ? StorageType.Memory : StorageType.File,
      discard: DiscardPolicy.Old,
      allow_direct: true,
      duplicate_window: (options.duplicateWindowMs ?? 10 * 60_000) * 1_000_000,
    });
    return { stream: name, created: true };
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === STREAM_NAME_IN_USE) {
      // A stream of that name exists with other subjects: add ours rather than fail.
      const info = await handle.jsm.streams.info(name);
      await handle.jsm.streams.update(name, { subjects: [...new Set([...(info.config.subjects ?? []), filter])] });
      return { stream: name, created: false };
    }
    // Another process created it between find and add.
    try {
      return { stream: await handle.jsm.streams.find(filter), created: false };
    } catch {
      throw err;
    }
  }
}

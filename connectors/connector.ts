// The connector contract (name, start → running handle with stop/done/status) and the KV-backed state every connector keeps its cursors in.
import { createHash } from 'node:crypto';
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import { Kvm, type KV, type KvEntry } from '@nats-io/kv';
import type { z } from 'zod';
import { errorMessage } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import type { NatsHandle } from '../streams/nats.ts';

/** What a connector gets when it starts: the NATS connection (owned by the caller), its state bucket and a logger. */
export interface ConnectorContext {
  readonly nats: NatsHandle;
  /** The connectors' KV bucket (see openConnectorBucket); wrap it with connectorState(kv, name). */
  readonly kv: KV;
  readonly logger: Logger;
}

/**
 * Lifecycle of a running connector. `failed` means it stopped on its own because of an error it cannot get past. A
 * supervised connector (connectors/supervisor.ts) is `starting` before its first start and `retrying` between attempts.
 */
export type ConnectorState = 'starting' | 'running' | 'retrying' | 'stopping' | 'stopped' | 'failed';

/** A snapshot for health checks and `--json` output. `details` is connector-specific (per-feed results, replication position). */
export interface ConnectorStatus {
  readonly name: string;
  readonly state: ConnectorState;
  /** Documents published (new versions stored) since start. */
  readonly published: number;
  /** Last error, if any, with the upstream it concerns (feed URL, table) in the message. */
  readonly lastError?: string;
  readonly details?: Readonly<Record<string, unknown>>;
}

/** How a connector's run ended: `ok` false when it failed (the error says why) or when a one-shot run had failures. */
export interface ConnectorOutcome {
  readonly ok: boolean;
  readonly error?: string;
}

export interface RunningConnector {
  readonly name: string;
  /** Asks the connector to stop after the work in flight (a publish is never abandoned half-way); resolves when stopped. */
  stop(): Promise<void>;
  /** Settles when the connector has stopped, by stop() or on its own (a one-shot run that finished, or a fatal error). Never rejects. */
  readonly done: Promise<ConnectorOutcome>;
  status(): ConnectorStatus;
}

/**
 * An upstream system turned into DOCUMENTS events. A connector holds no state of its own between runs: cursors live in
 * KV (connectorState), so any node, or its own process, can run it. `start` resolves once it is running (or has
 * refused its configuration with a ConfigError/ValidationError).
 */
export interface Connector {
  readonly name: string;
  start(ctx: ConnectorContext): Promise<RunningConnector>;
}

/** The KV bucket holding every connector's state, separate from `spanda` (aliases, generations) so its history and size stay independent. */
export const CONNECTOR_BUCKET = 'spanda-connectors';

/** Creates the connectors' bucket if missing and returns it. Safe from many processes at once. */
export async function openConnectorBucket(handle: NatsHandle, options: { replicas?: number } = {}): Promise<KV> {
  // history 1: state is a cursor, not a log; compare-and-set still works on the revision.
  return new Kvm(handle.js).create(CONNECTOR_BUCKET, { history: 1, replicas: options.replicas ?? 1 });
}

const SAFE_TOKEN = /^[A-Za-z0-9_=-]{1,64}$/;

/**
 * Encodes one key part for a KV key (allowed: A-Z a-z 0-9 - _ = / and `.` as the separator). Short safe parts stay
 * readable; anything else (URLs, long ids) becomes `h-` + base64url(sha256), 45 characters, so keys have a bounded length.
 */
export function keyToken(part: string): string {
  if (SAFE_TOKEN.test(part) && !part.startsWith('h-')) return part;
  return `h-${createHash('sha256').update(part).digest('base64url')}`;
}

/** A versioned value read from state: `revision` is what a compare-and-set write must name. */
export interface Versioned<T> {
  readonly value: T;
  readonly revision: number;
}

/** A write lost a compare-and-set race (another runner of the same connector wrote first). */
export class StateConflictError extends Error {
  constructor(key: string, options?: { cause?: unknown }) {
    super(`connector state ${key} was changed by another runner; re-read it and retry`, options);
    this.name = 'StateConflictError';
  }
}

/** A connector's own namespace in the bucket: keys are `<connector>.<part>.<part>…`, values are JSON checked by a zod schema on read. */
export interface ConnectorStateStore {
  readonly prefix: string;
  /** The full KV key for these parts (for logs and tests). */
  key(...parts: readonly string[]): string;
  /** Reads and validates a value; undefined when absent or deleted. A value that fails the schema throws (naming the key). */
  get<T>(parts: readonly string[], schema: z.ZodType<T>): Promise<Versioned<T> | undefined>;
  /** Writes a value. With `expectedRevision` (0 = must not exist) it is a compare-and-set and throws StateConflictError on a race. */
  put(parts: readonly string[], value: unknown, options?: { expectedRevision?: number }): Promise<number>;
  delete(parts: readonly string[]): Promise<void>;
  /** Full keys under these parts (e.g. every item of one feed). */
  keys(parts: readonly string[]): Promise<string[]>;
  /** Reads a value by a full key returned by keys(). */
  getKey<T>(key: string, schema: z.ZodType<T>): Promise<Versioned<T> | undefined>;
  deleteKey(key: string): Promise<void>;
}

function isCasConflict(err: unknown): boolean {
  return (
    err instanceof JetStreamApiError &&
    (err.code === JetStreamApiCodes.StreamWrongLastSequence || err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}

/** Connector state in KV under `<name>.` (the name is encoded with keyToken). */
export function connectorState(kv: KV, name: string): ConnectorStateStore {
  const prefix = keyToken(name);
  const key = (...parts: readonly string[]) => [prefix, ...parts.map(keyToken)].join('.');
  const decode = <T>(full: string, entry: KvEntry | null, schema: z.ZodType<T>): Versioned<T> | undefined => {
    if (!entry || entry.operation !== 'PUT') return undefined;
    let raw: unknown;
    try {
      raw = entry.json<unknown>();
    } catch (err) {
      throw new Error(`connector state ${full} is not JSON (${errorMessage(err)}); delete the key to reset it`);
    }
    const parsed = schema.safeParse(raw);
    if (!parsed.success) throw new Error(`connector state ${full} has an unexpected shape (${parsed.error.message}); delete the key to reset it`);
    return { value: parsed.data, revision: entry.revision };
  };
  const store: ConnectorStateStore = {
    prefix,
    key,
    getKey: async (full, schema) => decode(full, await kv.get(full), schema),
    get: (parts, schema) => store.getKey(key(...parts), schema),
    async put(parts, value, options = {}) {
      const full = key(...parts);
      const data = JSON.stringify(value);
      try {
        if (options.expectedRevision === undefined) return await kv.put(full, data);
        if (options.expectedRevision === 0) return await kv.create(full, data);
        return await kv.update(full, data, options.expectedRevision);
      } catch (err) {
        if (options.expectedRevision !== undefined && isCasConflict(err)) throw new StateConflictError(full, { cause: err });
        throw err;
      }
    },
    delete: (parts) => kv.delete(key(...parts)),
    deleteKey: (full) => kv.delete(full),
    async keys(parts) {
      const out: string[] = [];
      for await (const k of await kv.keys(`${key(...parts)}.>`)) out.push(k);
      return out.sort();
    },
  };
  return store;
}

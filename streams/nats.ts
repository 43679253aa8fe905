// The one module that owns the NATS connection: connect with retry, health, and drain on shutdown.
import { connect as natsConnect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { UnavailableError, errorMessage } from '../lib/errors.ts';

export interface NatsHandle {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly url: string;
  /** True while the client is connected (false during reconnects). */
  connected(): boolean;
  /** Largest message the server accepts, from its INFO. */
  maxPayload(): number;
  /** Flushes pending publishes and closes; safe to call twice. */
  drain(): Promise<void>;
}

export interface ConnectOptions {
  readonly url: string;
  readonly name?: string;
  /** How long to keep trying the first connection (a server may be starting). */
  readonly connectTimeoutMs?: number;
}

/** Connects and keeps reconnecting forever after the first success; fails with a clear message if the first connection never comes. */
export async function connectNats(options: ConnectOptions): Promise<NatsHandle> {
  const deadline = Date.now() + (options.connectTimeoutMs ?? 5000);
  let lastError: unknown;
  for (;;) {
    try {
      const nc = await natsConnect({
        servers: options.url,
        name: options.name ?? 'spanda',
        maxReconnectAttempts: -1,
        reconnectTimeWait: 500,
        timeout: 2000,
      });
      return wrap(nc, options.url);
    } catch (err) {
      lastError = err;
      if (Date.now() >= deadline) break;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  throw new UnavailableError(
    `cannot reach NATS at ${options.url} (${errorMessage(lastError)}); start one with \`spanda up\` or \`nats-server -js\`, or set NATS_URL`,
    5,
    { cause: lastError },
  );
}

async function wrap(nc: NatsConnection, url: string): Promise<NatsHandle> {
  let isConnected = true;
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect' || s.type === 'staleConnection') isConnected = false;
      else if (s.type === 'reconnect') isConnected = true;
    }
  })().catch(() => undefined);
  void nc.closed().then(() => {
    isConnected = false;
  });
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  let draining: Promise<void> | undefined;
  return {
    nc,
    js,
    jsm,
    url,
    connected: () => isConnected && !nc.isClosed(),
    maxPayload: () => nc.info?.max_payload ?? 1024 * 1024,
    drain: () => {
      draining ??= nc.isClosed() ? Promise.resolve() : nc.drain().catch(() => nc.close());
      return draining;
    },
  };
}

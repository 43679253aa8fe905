// The one module that owns the NATS connection: connect with retry, connection state and its changes, drain on shutdown.
import { setMaxListeners } from 'node:events';
import { readFile } from 'node:fs/promises';
import { AuthorizationError, connect as natsConnect, credsAuthenticator, nkeyAuthenticator, type NatsConnection, type NodeConnectionOptions } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { ConfigError, UnavailableError, errorMessage } from '../lib/errors.ts';
import { redactUrl, silentLogger, type Logger } from '../lib/log.ts';
import { warnIfServerForgetsPulls } from './consumer-stalls.ts';
import { LATE, within } from '../lib/within.ts';

export interface NatsHandle {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly url: string;
  /** True while the client is connected (false from the moment it sees the connection drop until it reconnects). */
  connected(): boolean;
  /**
   * A signal aborted when the current connection is lost (already aborted while disconnected). A request in flight
   * when the server goes away is otherwise answered only by its own timeout: the client keeps it for the reconnect.
   */
  lostSignal(): AbortSignal;
  /** Largest message the server accepts, from its INFO. */
  maxPayload(): number;
  /** Flushes pending publishes and closes; safe to call twice. */
  drain(): Promise<void>;
}

/**
 * How long a caller should wait before retrying while NATS is down. A local child nats-server is restarted within
 * about a second; the client redials every 500 ms.
 */
export const RETRY_WHILE_DISCONNECTED_S = 1;

/**
 * How long a pull request of a long-running consume() lives: 5 s instead of the client's 30 s. It bounds the client's
 * wait after a failed consumer lookup on reconnect (it backs off for `expires`). After a server restart,
 * @nats-io/jetstream (3.3 and 3.4) recreates an ordered consumer without resetting its count of messages already asked
 * for, so its first pull asks for one message and no more follow until two heartbeats are missed (30 s with the
 * client's defaults; PULL_IDLE_HEARTBEAT_MS sets how soon). The projector reopens its sources when that happens.
 */
export const PULL_EXPIRES_MS = 5000;

/**
 * How often the server confirms a pull request it still holds while it has nothing to deliver (the client's floor);
 * the client re-pulls after two intervals without a word. By default that is half of `expires`, but nats-server before
 * 2.9.16 (Debian's 2.9.10, the one `spanda up` finds there) can forget a pull request without telling the client: a
 * message that arrives after the request expired but before the server's expiry timer ran drops the request silently
 * (no 408; fixed upstream by "Fix Pull Consumer not sending request timeout"). The client still counts the request's
 * messages as asked for and asks for no more, so the consumer stood still until two heartbeats were missed: 5-7.5 s
 * with 2.5 s heartbeats. Caught in the offline freshness benchmark on a busy machine (a projector's EMBEDDINGS source
 * silent for 4,981 ms, then "heartbeats_missed"), and reproduced by stopping the server across an expiry. With 500 ms,
 * such a stall ends within about 0.5-1.5 s. The price: an idle consumer gets two small heartbeats a second.
 */
export const PULL_IDLE_HEARTBEAT_MS = 500;

/** Options for a long-running consume() that asks for up to `maxMessages` at a time. */
export const consumeOptions = (maxMessages: number) => ({ max_messages: maxMessages, expires: PULL_EXPIRES_MS, idle_heartbeat: PULL_IDLE_HEARTBEAT_MS });

/**
 * Bytes the client gathers before it writes to the socket in the middle of a burst (it always writes at the end of the
 * current task). With its default, 32 KB, a processor publishing a batch of events wrote the socket every few events
 * (512-d vectors in them); a profile of the hash pipeline's main thread had ~20% in socket writes. Measured on a
 * warmed-up node, 2,000 documents a run, alternating: under node's default young generation (node
 * without --max-semi-space-size) 787-866 documents/s with 256 KB against 596-862 with 32 KB (7 pairs, medians 827 / 728); with
 * --max-semi-space-size=32 (npm start, the benchmarks) no difference within this machine's noise (10 pairs, medians
 * 593 / 588).
 */
export const OUTBOUND_FLUSH_BYTES = 256 * 1024;

/** Options the client reads (nats-core's protocol handler) but leaves out of its types. */
const clientTuning: { readonly pendingLimit: number } = { pendingLimit: OUTBOUND_FLUSH_BYTES };

/**
 * Settles like `work` (a request to NATS), or rejects with UnavailableError(message) as soon as the connection is
 * lost, instead of waiting out the request's timeout. The abandoned request must have its own rejection handled.
 */
export async function unlessConnectionLost<T>(handle: NatsHandle, work: Promise<T>, message: string): Promise<T> {
  const signal = handle.lostSignal();
  let onLost: (() => void) | undefined;
  const lost = new Promise<never>((_, reject) => {
    onLost = () => reject(new UnavailableError(message, RETRY_WHILE_DISCONNECTED_S));
    if (signal.aborted) onLost();
    else signal.addEventListener('abort', onLost, { once: true });
  });
  try {
    return await Promise.race([work, lost]);
  } finally {
    // The signal lives as long as the connection: a listener left on it per request would pile up.
    if (onLost) signal.removeEventListener('abort', onLost);
  }
}

export interface ConnectOptions {
  readonly url: string;
  readonly name?: string;
  /** How long to keep trying the first connection (a server may be starting). */
  readonly connectTimeoutMs?: number;
  /** Where losing and regaining the connection is reported. */
  readonly logger?: Logger;
  /** Credentials (NATS_USER/NATS_PASSWORD, NATS_TOKEN, NATS_CREDS, NATS_NKEY); none by default. */
  readonly auth?: NatsAuth;
  /** How long drain() may take before it closes instead (DRAIN_TIMEOUT_MS). */
  readonly drainTimeoutMs?: number;
}

export interface NatsAuth {
  readonly user?: string;
  readonly pass?: string;
  readonly token?: string;
  /** A .creds file (user JWT and nkey seed), as `nsc` writes it. */
  readonly credsFile?: string;
  /** A file holding an nkey seed (SU…). */
  readonly nkeySeedFile?: string;
}

async function authOptions(auth: NatsAuth | undefined): Promise<Partial<NodeConnectionOptions>> {
  if (!auth) return {};
  const read = async (file: string, what: string) => {
    try {
      return await readFile(file);
    } catch (err) {
      throw new ConfigError(`cannot read the NATS ${what} file ${file}: ${errorMessage(err)}`);
    }
  };
  return {
    ...(auth.user !== undefined ? { user: auth.user } : {}),
    ...(auth.pass !== undefined ? { pass: auth.pass } : {}),
    ...(auth.token !== undefined ? { token: auth.token } : {}),
    ...(auth.credsFile !== undefined
      ? { authenticator: credsAuthenticator(new Uint8Array(await read(auth.credsFile, 'credentials (NATS_CREDS)'))) }
      : auth.nkeySeedFile !== undefined
        ? { authenticator: nkeyAuthenticator(new TextEncoder().encode((await read(auth.nkeySeedFile, 'nkey seed (NATS_NKEY)')).toString('utf8').trim())) }
        : {}),
  };
}

/** Connects and keeps reconnecting forever after the first success; fails with a clear message if the first connection never comes. */
export async function connectNats(options: ConnectOptions): Promise<NatsHandle> {
  const deadline = Date.now() + (options.connectTimeoutMs ?? 5000);
  const auth = await authOptions(options.auth);
  let lastError: unknown;
  for (;;) {
    try {
      const nc = await natsConnect({
        servers: options.url,
        name: options.name ?? 'spanda',
        maxReconnectAttempts: -1,
        reconnectTimeWait: 500,
        timeout: 2000,
        // Otherwise the client builds an Error (with a stack trace) for every request and publish, to decorate a
        // timeout that rarely happens: ~5% of the node's CPU under load. Our errors name the operation themselves.
        noAsyncTraces: true,
        ...clientTuning,
        ...auth,
      });
      return wrap(nc, options.url, options.logger ?? silentLogger, options.drainTimeoutMs ?? DRAIN_TIMEOUT_MS);
    } catch (err) {
      lastError = err;
      // Retrying will not change the server's mind about the credentials.
      if (err instanceof AuthorizationError) {
        throw new ConfigError(
          `NATS at ${redactUrl(options.url)} refused the credentials (${errorMessage(err)}); check NATS_USER/NATS_PASSWORD, NATS_TOKEN, NATS_CREDS or NATS_NKEY`,
        );
      }
      if (Date.now() >= deadline) break;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  throw new UnavailableError(
    `cannot reach NATS at ${redactUrl(options.url)} (${errorMessage(lastError)}); start one with \`spanda up\` or \`nats-server -js\`, or set NATS_URL`,
    5,
    { cause: lastError },
  );
}

/**
 * Longest a drain may take before the connection is closed instead. A healthy server drains in milliseconds; one whose
 * JetStream no longer answers (nats-server 2.9 after a write to a full disk) kept `spanda up` from ever exiting. What a
 * close drops is unacknowledged, so it is redelivered (and stored once: outputs have ids derived from their input).
 */
export const DRAIN_TIMEOUT_MS = 10_000;

async function drainWithin(nc: NatsConnection, timeoutMs: number, log: Logger): Promise<void> {
  const outcome = await within(nc.drain().then(() => 'drained' as const, () => 'failed' as const), timeoutMs);
  if (outcome === LATE) log.warn('draining the NATS connection did not finish; closing it (what was not acknowledged is redelivered)', { waitedMs: timeoutMs });
  if (outcome !== 'drained') await nc.close();
}

async function wrap(nc: NatsConnection, url: string, log: Logger, drainTimeoutMs: number): Promise<NatsHandle> {
  // Credentials in a URL (nats://user:pass@host) never reach a log line.
  const shownUrl = redactUrl(url);
  let isConnected = true;
  let lostAt = 0;
  // One listener per publish in flight waits on this signal; Node would warn past 10 listeners on one AbortSignal.
  const newLoss = () => {
    const controller = new AbortController();
    setMaxListeners(0, controller.signal);
    return controller;
  };
  let loss = newLoss();
  const markLost = (reason: string) => {
    if (!isConnected) return;
    isConnected = false;
    lostAt = Date.now();
    loss.abort();
    if (!nc.isClosed() && reason !== 'closed') log.warn('lost the NATS connection; publishing answers 503 until it is back', { url: shownUrl, reason });
  };
  // Status events of @nats-io/nats-core v3: `disconnect` as soon as the socket drops (then `reconnecting` per dial
  // attempt), `staleConnection` when pings go unanswered (a disconnect follows), `reconnect` once a dial succeeds.
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect' || s.type === 'staleConnection') markLost(s.type);
      else if (s.type === 'reconnect' && !isConnected) {
        isConnected = true;
        loss = newLoss();
        log.info('NATS connection is back', { url: shownUrl, server: s.server, downMs: Date.now() - lostAt });
      }
    }
  })().catch(() => undefined);
  void nc.closed().then(() => markLost('closed'));
  warnIfServerForgetsPulls(nc.info?.version, log);
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  let draining: Promise<void> | undefined;
  return {
    nc,
    js,
    jsm,
    url,
    connected: () => isConnected && !nc.isClosed(),
    lostSignal: () => (isConnected && !nc.isClosed() ? loss.signal : AbortSignal.abort()),
    maxPayload: () => nc.info?.max_payload ?? 1024 * 1024,
    drain: () => {
      // Draining flushes through the server: with none to talk to (a reconnect under way) it would wait for one.
      draining ??= nc.isClosed() ? Promise.resolve() : isConnected ? drainWithin(nc, drainTimeoutMs, log) : nc.close();
      return draining;
    },
  };
}

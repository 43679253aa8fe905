// Whether JetStream answers: a probe every few seconds, and a local nats-server whose JetStream stays silent restarted.
import { diskSpace } from '../lib/disk-space.ts';
import { errorMessage } from '../lib/errors.ts';
import { redactUrl, silentLogger, type Logger } from '../lib/log.ts';
import { LATE, within } from '../lib/within.ts';
import type { NatsHandle } from './nats.ts';

export interface JetStreamWatchOptions {
  readonly logger?: Logger;
  /** Between probes. Default 10 s. */
  readonly intervalMs?: number;
  /** A probe unanswered this long failed. Default 10 s. */
  readonly timeoutMs?: number;
  /**
   * Silence after which `restart` is called. Default 60 s: far beyond any answer a busy server gives ($JS.API.INFO takes
   * milliseconds) and beyond a supervisor's own restart (seconds).
   */
  readonly restartAfterMs?: number;
  /** Restarts the server (only for one this process runs); absent: the silence is logged and reported only. */
  readonly restart?: (reason: string) => void;
  /** The server's store dir: no restart while its disk is full (JetStream would start without its streams). */
  readonly storeDir?: string;
}

export interface JetStreamWatch {
  /** How long JetStream has not answered (0 while it answers). */
  silentForMs(): number;
  stop(): void;
}

/** Below this share free on the store's disk a restart waits: nats-server then gives JetStream no storage at all. */
const STORE_DISK_MIN_FREE = 0.01;

/**
 * Probes JetStream ($JS.API.INFO) every `intervalMs`. nats-server 2.9 stops answering JetStream, with nothing in its
 * log, when a write to its store fails for a full disk, and stays so after space is freed while its clients' connection
 * stays up; a hung server answers nothing at all. Either way publishing fails after its timeout and nothing is stored
 * until the server is restarted. After `restartAfterMs` of silence the watch logs an error and calls `restart` (a
 * server this process runs and whose disk has room), and reports the silence to /readyz meanwhile.
 */
export function watchJetStream(handle: NatsHandle, options: JetStreamWatchOptions = {}): JetStreamWatch {
  const log = options.logger ?? silentLogger;
  const intervalMs = options.intervalMs ?? 10_000;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const restartAfterMs = options.restartAfterMs ?? 60_000;
  const url = redactUrl(handle.url);
  let silentSince: number | undefined;
  let reported = false;
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const probe = async (): Promise<void> => {
    const started = Date.now();
    let failure: string | undefined;
    try {
      if ((await within(handle.jsm.getAccountInfo(), timeoutMs)) === LATE) failure = `no answer within ${timeoutMs} ms`;
    } catch (err) {
      failure = errorMessage(err);
    }
    if (stopped) return;
    if (failure === undefined) {
      if (reported) log.info('JetStream answers again', { url });
      silentSince = undefined;
      reported = false;
      return;
    }
    silentSince ??= started;
    const silentMs = Date.now() - silentSince;
    if (silentMs < restartAfterMs) return;
    const space = options.storeDir !== undefined ? diskSpace(options.storeDir) : undefined;
    const diskFull = space !== undefined && space.size > 0 && space.free / space.size < STORE_DISK_MIN_FREE;
    if (options.restart && !diskFull) {
      const reason = `JetStream has not answered for ${Math.round(silentMs / 1000)} s (${failure})`;
      log.error('JetStream on the local nats-server stopped answering; restarting it (nats-server 2.9 does so after a write to a full disk fails)', { url, silentMs, error: failure });
      options.restart(reason);
      silentSince = undefined; // a fresh window for the restarted server
      reported = true; // its first answer is logged
      return;
    }
    if (reported) return;
    reported = true;
    if (diskFull) {
      log.error('JetStream on the local nats-server stopped answering and the disk holding its store is full: free space on it, and the server is restarted once there is room', { url, silentMs, storeDir: options.storeDir });
    } else {
      log.error('JetStream is not answering: publishing fails and nothing new is stored until it does; check the nats-server (its log, its disk) and restart it', { url, silentMs, error: failure });
    }
  };

  const loop = async (): Promise<void> => {
    if (stopped) return;
    await probe().catch(() => undefined);
    if (!stopped) {
      timer = setTimeout(() => void loop(), intervalMs);
      timer.unref?.();
    }
  };
  timer = setTimeout(() => void loop(), intervalMs);
  timer.unref?.();

  return {
    silentForMs: () => (silentSince === undefined ? 0 : Date.now() - silentSince),
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

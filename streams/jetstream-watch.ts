// Whether JetStream answers: a probe every few seconds, and a local nats-server whose JetStream stays silent restarted.
import { diskSpace, isFull, type DiskSpace } from '../lib/disk-space.ts';
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
  /**
   * The server's store dir: no restart while its disk is full (JetStream would start without its streams), and a
   * restart as soon as it has room again when it was full during the silence (what made JetStream stop).
   */
  readonly storeDir?: string;
  /** While JetStream is silent and its store's disk full, how often the disk is looked at again. Default 1 s. */
  readonly roomCheckMs?: number;
  /** Reads the store's disk space (default lib/disk-space.ts diskSpace; tests give another). */
  readonly readDisk?: (dir: string) => DiskSpace | undefined;
}

export interface JetStreamWatch {
  /** How long JetStream has not answered (0 while it answers). */
  silentForMs(): number;
  /**
   * Asks JetStream now, giving up after `timeoutMs` (default ASK_NOW_TIMEOUT_MS); concurrent callers share one
   * question. An answer ends the silence at once, and no answer starts one (as a failed probe would), without waiting
   * for the next probe.
   */
  answersNow(timeoutMs?: number): Promise<boolean>;
  /**
   * Word that JetStream just failed to confirm something (a publish timed out): the silence starts now, and JetStream
   * is asked at once in the background (an answer ends it again).
   */
  suspect(): void;
  stop(): void;
}

/** How long answersNow waits: a live JetStream answers $JS.API.INFO in milliseconds, even right after a restart. */
export const ASK_NOW_TIMEOUT_MS = 1500;

/**
 * Probes JetStream ($JS.API.INFO) every `intervalMs`. nats-server 2.9 stops answering JetStream, with nothing in its
 * log, when a write to its store fails for a full disk, and stays so after space is freed while its clients' connection
 * stays up; a hung server answers nothing at all. Either way publishing fails after its timeout and nothing is stored
 * until the server is restarted. After `restartAfterMs` of silence the watch logs an error and calls `restart` (a
 * server this process runs and whose disk has room), and reports the silence to /readyz meanwhile. When the store's
 * disk was full during the silence, the server is restarted as soon as the disk has room again (looked at every
 * `roomCheckMs`) rather than a minute into the silence: freeing space is what the operator was told to do, and the
 * server will not answer again by itself.
 */
export function watchJetStream(handle: NatsHandle, options: JetStreamWatchOptions = {}): JetStreamWatch {
  const log = options.logger ?? silentLogger;
  const intervalMs = options.intervalMs ?? 10_000;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const restartAfterMs = options.restartAfterMs ?? 60_000;
  const roomCheckMs = options.roomCheckMs ?? 1000;
  const readDisk = options.readDisk ?? diskSpace;
  const url = redactUrl(handle.url);
  let silentSince: number | undefined;
  let reported = false;
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  // Whether the store's disk was full at some look during the current silence, and the look-again timer meanwhile.
  let fullDuringSilence = false;
  let roomTimer: ReturnType<typeof setInterval> | undefined;

  // A full disk (lib/disk-space.ts isFull) holds a restart back: nats-server would start with no storage for JetStream.
  const storeDiskFull = (): boolean => options.storeDir !== undefined && isFull(readDisk(options.storeDir));
  const stopLookingForRoom = () => {
    clearInterval(roomTimer);
    roomTimer = undefined;
  };
  const restartNow = (silentMs: number, failure: string, message: string) => {
    const reason = `JetStream has not answered for ${Math.round(silentMs / 1000)} s (${failure})`;
    log.error(message, { url, silentMs, error: failure });
    options.restart?.(reason);
    silentSince = undefined; // a fresh window for the restarted server
    reported = true; // its first answer is logged
    fullDuringSilence = false;
    stopLookingForRoom();
  };
  /** While silent with a full disk: restarts the server once the disk has room (only for a server this process runs). */
  const lookForRoom = (failure: string) => {
    if (!options.restart || roomTimer !== undefined) return;
    roomTimer = setInterval(() => {
      if (stopped || silentSince === undefined) return stopLookingForRoom();
      if (storeDiskFull()) return;
      restartNow(Date.now() - silentSince, failure, 'the disk holding the local nats-server\'s store has room again after it filled up and JetStream stopped answering; restarting it');
    }, roomCheckMs);
    roomTimer.unref?.();
  };

  const answered = () => {
    if (reported) log.info('JetStream answers again', { url });
    silentSince = undefined;
    reported = false;
    fullDuringSilence = false;
    stopLookingForRoom();
  };
  let asking: Promise<boolean> | undefined;
  const answersNow = (askTimeoutMs = ASK_NOW_TIMEOUT_MS): Promise<boolean> =>
    (asking ??= (async () => {
      try {
        const askedAt = Date.now();
        const ok = (await within(handle.jsm.getAccountInfo(), askTimeoutMs).catch(() => LATE)) !== LATE;
        if (stopped) return ok;
        if (ok) answered();
        else silentSince ??= askedAt;
        return ok;
      } finally {
        asking = undefined;
      }
    })());

  const probe = async (): Promise<void> => {
    const started = Date.now();
    let failure: string | undefined;
    try {
      if ((await within(handle.jsm.getAccountInfo(), timeoutMs)) === LATE) failure = `no answer within ${timeoutMs} ms`;
    } catch (err) {
      failure = errorMessage(err);
    }
    if (stopped) return;
    if (failure === undefined) return answered();
    silentSince ??= started;
    const silentMs = Date.now() - silentSince;
    const diskFull = storeDiskFull();
    if (diskFull) {
      fullDuringSilence = true;
      lookForRoom(failure);
      if (!reported) {
        reported = true;
        log.error(
          options.restart
            ? 'JetStream on the local nats-server stopped answering and the disk holding its store is full: free space on it, and the server is restarted as soon as there is room'
            : 'JetStream stopped answering and the disk holding its store is full: free space on it, then restart the nats-server',
          { url, silentMs, storeDir: options.storeDir },
        );
      }
      return;
    }
    if (options.restart && fullDuringSilence) {
      restartNow(silentMs, failure, 'the disk holding the local nats-server\'s store has room again after it filled up and JetStream stopped answering; restarting it');
      return;
    }
    if (silentMs < restartAfterMs) return;
    if (options.restart) {
      restartNow(silentMs, failure, 'JetStream on the local nats-server stopped answering; restarting it (nats-server 2.9 does so after a write to a full disk fails)');
      return;
    }
    if (reported) return;
    reported = true;
    log.error('JetStream is not answering: publishing fails and nothing new is stored until it does; check the nats-server (its log, its disk) and restart it', { url, silentMs, error: failure });
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
    answersNow,
    suspect: () => {
      if (stopped) return;
      silentSince ??= Date.now();
      void answersNow();
    },
    stop: () => {
      stopped = true;
      clearTimeout(timer);
      stopLookingForRoom();
    },
  };
}

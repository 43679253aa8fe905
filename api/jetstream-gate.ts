// A 503 at once while JetStream is known not to answer, instead of each publish waiting out its 10 s timeout.
import { StorageLimitError, UnavailableError } from '../lib/errors.ts';
import type { ApiDeps } from './deps.ts';

/**
 * Called by a route before it publishes. While the JetStream watch (streams/jetstream-watch.ts) counts a silence
 * and the connection is up, JetStream is asked now (one question shared by concurrent requests, ~1.5 s at most): no
 * answer is a 503 with Retry-After right away, so clients back off instead of holding a connection 10 s per publish;
 * an answer ends the silence and the publish goes ahead as usual.
 */
export async function assertJetStreamAnswers(deps: Pick<ApiDeps, 'jetstream' | 'nats'>): Promise<void> {
  const watch = deps.jetstream;
  if (watch?.answersNow === undefined) return;
  // Not connected (a broker restarting): the publish fails at once with the reconnecting client's Retry-After of 1 s.
  // Asking JetStream could only wait out its question and answer "silent, retry after 5 s" to a client that the
  // broker, back a second later, could already serve.
  if (!deps.nats.connected()) return;
  const silentMs = watch.silentForMs();
  if (silentMs === 0 || (await watch.answersNow())) return;
  // A silence of seconds is most often a broker that just restarted and is loading its streams: back in a second or
  // two. One that lasts is a wedged or full server, which nobody should be asked to poll every second.
  const brief = silentMs < BRIEF_SILENCE_MS;
  throw new UnavailableError(
    `JetStream has not answered for ${Math.round(silentMs / 1000)} s, so nothing can be stored now; retry ${brief ? 'shortly (it may be starting)' : 'later'} (a local nats-server is restarted after a minute of silence, or as soon as its full disk has room; see /readyz)`,
    brief ? 1 : 5,
  );
}

/** A JetStream silent for less than this gets 503s with Retry-After 1 s (a restart); longer, 5 s. */
export const BRIEF_SILENCE_MS = 10_000;

/**
 * Called by a route when a publish was not confirmed (UnavailableError): the watch counts JetStream as silent from
 * now and asks it in the background, so the requests after this one get their 503 at once (or go ahead once it
 * answers) rather than each waiting out its own timeout until the watch's next probe.
 */
export function suspectJetStream(deps: Pick<ApiDeps, 'jetstream'>, err: unknown): void {
  if (!(err instanceof UnavailableError) || err instanceof StorageLimitError) return;
  deps.jetstream?.suspect?.();
}

/** How long a publish waits for its acknowledgement before JetStream is asked whether it answers at all. */
export const PUBLISH_CHECK_AFTER_MS = 2000;

/**
 * Runs a route's publish. Unconfirmed after PUBLISH_CHECK_AFTER_MS, JetStream is asked now (the watch's shared
 * question, ~1.5 s at most): no answer is a 503 with Retry-After at once, ~3.5 s in, where the first publish after
 * JetStream fell silent used to wait out its whole 10 s timeout before its 503 (a silence the watch had not yet seen);
 * an answer leaves the publish to its own result and timeout. The event may still be stored, as after a timeout:
 * every route's message id is derived from what it publishes, so the client's re-send is deduplicated.
 */
export async function publishWatched<T>(deps: Pick<ApiDeps, 'jetstream'>, publish: () => Promise<T>): Promise<T> {
  const watch = deps.jetstream;
  const publishing = publish();
  if (watch?.answersNow === undefined) return publishing;
  const ask = (): Promise<boolean> => (watch.answersNow?.() ?? Promise.resolve(true)).catch(() => true);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const silent = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      void ask().then((answers) => {
        if (!answers) {
          reject(
            new UnavailableError(
              `JetStream has not acknowledged the event after ${PUBLISH_CHECK_AFTER_MS / 1000} s and does not answer when asked; it may not be stored: retry shortly (the same content re-sent is deduplicated; see /readyz)`,
              5,
            ),
          );
        }
      });
    }, PUBLISH_CHECK_AFTER_MS);
  });
  publishing.catch(() => undefined); // given up on when JetStream does not answer; its own failure comes later
  silent.catch(() => undefined);
  try {
    return await Promise.race([publishing, silent]);
  } finally {
    clearTimeout(timer);
  }
}

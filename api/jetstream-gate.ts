// A 503 at once while JetStream is known not to answer, instead of each publish waiting out its 10 s timeout.
import { UnavailableError } from '../lib/errors.ts';
import type { ApiDeps } from './deps.ts';

/**
 * Called by a route before it publishes. While the JetStream watch (streams/jetstream-watch.ts) counts a silence,
 * JetStream is asked now (one question shared by concurrent requests, ~1.5 s at most): no answer is a 503 with
 * Retry-After right away, so clients back off instead of holding a connection 10 s per publish; an answer ends the
 * silence and the publish goes ahead as usual.
 */
export async function assertJetStreamAnswers(deps: Pick<ApiDeps, 'jetstream'>): Promise<void> {
  const watch = deps.jetstream;
  if (watch?.answersNow === undefined) return;
  const silentMs = watch.silentForMs();
  if (silentMs === 0 || (await watch.answersNow())) return;
  throw new UnavailableError(
    `JetStream has not answered for ${Math.round(silentMs / 1000)} s, so nothing can be stored now; retry later (a local nats-server is restarted after a minute of silence, or as soon as its full disk has room; see /readyz)`,
    5,
  );
}

// Reports each time a long-running consume() heard nothing from the server for two heartbeats and had to ask again.
import type { ConsumerMessages } from '@nats-io/jetstream';
import type { Logger } from '../lib/log.ts';

/** The likely cause of a stall, and what to do about it. */
const HINT = 'nats-server before 2.9.16 forgets some pull requests that expire as a message arrives; upgrade it if this repeats';

/**
 * Counts and logs a stall once per silence: when the client first reports two missed heartbeats (two
 * PULL_IDLE_HEARTBEAT_MS intervals, about a second, without a word while it believes a pull request is open), not at
 * each later tick of the same silence. The client re-issues its pull itself; this makes the stall visible (the counter
 * is spanda_consumer_stalls_total). Ends with `messages`.
 */
export function reportConsumerStalls(messages: ConsumerMessages, stalls: { inc(): void }, log: Logger, fields: Record<string, unknown>): void {
  void (async () => {
    for await (const status of messages.status()) {
      if (status.type !== 'heartbeats_missed' || status.count !== 2) continue;
      stalls.inc();
      log.warn('no word from NATS on the open pull request for two heartbeats; asked again', { ...fields, hint: HINT });
    }
  })().catch(() => undefined);
}

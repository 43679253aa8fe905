// Notices each time a long-running consume() heard nothing from the server for two heartbeats and had to ask again.
import type { ConsumerMessages } from '@nats-io/jetstream';

/** What a stalled consumer logs: the likely cause and what to do about it. */
export const CONSUMER_STALL_HINT =
  'nats-server before 2.9.16 forgets some pull requests that expire as a message arrives; upgrade it if this repeats';

/**
 * Calls `onStall` once per silence: when the client first reports two missed heartbeats (two PULL_IDLE_HEARTBEAT_MS
 * intervals, about a second, without a word while it believes a pull request is open), not at each later tick of the
 * same silence. The client re-issues its pull itself; this makes the stall visible. Ends with `messages`.
 */
export function onConsumerStall(messages: ConsumerMessages, onStall: () => void): void {
  void (async () => {
    for await (const status of messages.status()) {
      if (status.type === 'heartbeats_missed' && status.count === 2) onStall();
    }
  })().catch(() => undefined);
}

// Consumer stalls: reports each silence a consume() had to ask past, and warns of servers known to cause them.
import type { ConsumerMessages } from '@nats-io/jetstream';
import { silentLogger, type Logger } from '../lib/log.ts';

/** The likely cause of a stall, and what to do about it. */
const HINT = 'nats-server before 2.9.16 forgets some pull requests that expire as a message arrives; upgrade it if this repeats';

/** The first nats-server release that answers every expired pull request ("Fix Pull Consumer not sending request timeout"). */
const FIXED_IN = [2, 9, 16] as const;

/**
 * True for a nats-server version (as its INFO reports it, e.g. "2.9.10") that can forget an expired pull request
 * without a word; false for later ones and for anything that does not parse.
 */
export function forgetsExpiredPulls(version: string | undefined): boolean {
  const match = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version ?? '');
  if (!match) return false;
  const parts = match.slice(1, 4).map(Number);
  const differs = parts.findIndex((part, i) => part !== FIXED_IN[i]);
  return differs >= 0 && (parts[differs] as number) < FIXED_IN[differs as 0 | 1 | 2];
}

const warnedVersions = new Set<string>();

/**
 * Warns once per process and server version when the server is one that forgets expired pull requests (a connection
 * without a logger, such as a CLI command's, does not use up the warning).
 */
export function warnIfServerForgetsPulls(version: string | undefined, log: Logger): boolean {
  if (log === silentLogger || !forgetsExpiredPulls(version) || warnedVersions.has(version as string)) return false;
  warnedVersions.add(version as string);
  log.warn(`nats-server ${version} forgets some pull requests that expire as a message arrives (fixed in 2.9.16): consumers notice within about a second and ask again, counted in spanda_consumer_stalls_total; upgrade nats-server for steady freshness`);
  return true;
}

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

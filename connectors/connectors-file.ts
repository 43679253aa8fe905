// Runs the connectors of SPANDA_CONNECTORS_FILE and follows the file: an edit starts new entries and stops removed ones; a bad edit changes nothing.
import { unwatchFile, watchFile, type Stats } from 'node:fs';
import { errorMessage } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import type { NatsHandle } from '../streams/nats.ts';
import { ConnectorSet } from './connector-set.ts';
import { loadConnectors } from './registry.ts';
import type { SupervisorOptions } from './supervisor.ts';

export interface FollowedConnectors {
  readonly set: ConnectorSet;
  /** Reads the file again now (the watcher calls it on a change); resolves when applied or refused. */
  reload(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts the file's connectors (a file that cannot be read or is invalid fails the start, naming the entry), then
 * checks it every `pollMs` (stat, so a replaced file or a Kubernetes ConfigMap's swapped link counts): a changed file
 * is read again; if valid, the set is made to match it, else the error is logged and the running connectors stay.
 */
export async function followConnectorsFile(
  file: string,
  nats: NatsHandle,
  logger: Logger,
  options: Omit<SupervisorOptions, 'name'> & { readonly pollMs?: number } = {},
): Promise<FollowedConnectors> {
  const first = await loadConnectors(file);
  const set = await ConnectorSet.open(nats, logger, options);
  await set.apply(first);
  let stopped = false;
  const reload = async () => {
    if (stopped) return;
    let configured;
    try {
      configured = await loadConnectors(file);
    } catch (err) {
      logger.error('connectors file not applied; the connectors running keep running', { file, error: errorMessage(err) });
      return;
    }
    if (stopped) return;
    const change = await set.apply(configured);
    if (change.started.length > 0 || change.stopped.length > 0) logger.info('connectors file applied', { file, started: change.started, stopped: change.stopped, kept: change.kept });
  };
  let pending: Promise<void> = Promise.resolve();
  const onChange = (now: Stats, before: Stats) => {
    if (now.mtimeMs === before.mtimeMs && now.size === before.size && now.ino === before.ino) return;
    pending = pending.then(reload);
  };
  watchFile(file, { interval: options.pollMs ?? 2000, persistent: false }, onChange);
  return {
    set,
    reload: () => (pending = pending.then(reload)),
    async stop() {
      stopped = true;
      unwatchFile(file, onChange);
      await pending;
      await set.stop();
    },
  };
}

// spanda ingest rss: polls RSS 2.0 / Atom feeds once (or every interval) and publishes new and changed items.
import { UsageError } from '../output.ts';
import type { IngestSubcommand } from './ingest.ts';

export const ingestRss: IngestSubcommand = {
  usage: 'spanda ingest rss <url…> [--every 10m] [--source NAME] [--tenant T] [--delete-missing] [--json] [--nats-url URL]',
  accepts: ['every', 'source', 'tenant', 'delete-missing'],
  run() {
    return Promise.reject(new UsageError('spanda ingest rss is not available yet'));
  },
};

// spanda ingest debezium: consumes the change events a Debezium Server wrote to NATS and publishes documents per the table mapping.
import { createLogger } from '../../lib/log.ts';
import { openConnectorBucket } from '../../connectors/connector.ts';
import { debeziumConnector } from '../../connectors/cdc/consumer.ts';
import { loadMapping } from '../../connectors/cdc/mapping.ts';
import { assertCdcSubjects } from '../../connectors/cdc/stream.ts';
import { provision } from '../../streams/provision.ts';
import { connectFrom, stringFlag } from '../env.ts';
import { UsageError, printJson } from '../output.ts';
import type { IngestSubcommand } from './ingest.ts';

const USAGE = "spanda ingest debezium --subjects 'PREFIX.>' --mapping mapping.json [--json] [--nats-url URL]";

export const ingestDebezium: IngestSubcommand = {
  usage: USAGE,
  accepts: ['subjects', 'mapping'],
  async run(ctx) {
    const subjects = stringFlag(ctx, 'subjects');
    const mappingFile = stringFlag(ctx, 'mapping');
    if (!subjects || !mappingFile) throw new UsageError(`give --subjects and --mapping\nusage: ${USAGE}`);
    assertCdcSubjects(subjects);
    const mapping = await loadMapping(mappingFile);
    const logger = createLogger('spanda', ctx.values.json ? 'warn' : undefined);
    const handle = await connectFrom(ctx);
    try {
      await provision(handle);
      const kv = await openConnectorBucket(handle);
      const consumer = await debeziumConnector({ subjects, mapping }).start({ nats: handle, kv, logger });
      const stop = () => void consumer.stop();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      const outcome = await consumer.done;
      if (ctx.values.json) printJson({ ...outcome, status: consumer.status() });
      return outcome.ok ? 0 : 1;
    } finally {
      await handle.drain();
    }
  },
};

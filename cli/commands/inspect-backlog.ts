// spanda inspect backlog: whose events each durable consumer still has to work through, counted by tenant.
import { DeliverPolicy } from '@nats-io/jetstream';
import type { NatsHandle } from '../../streams/nats.ts';
import { consumeOptions } from '../../streams/nats.ts';
import { readOnce } from '../../streams/ordered.ts';
import { parseDocumentSubject } from '../../streams/subjects.ts';
import type { ConsumerSummary } from './inspect.ts';

/** Messages counted per consumer at most (headers only: about a second per 90,000 on a 2-core machine). */
export const BACKLOG_MAX_DEFAULT = 1_000_000;

export interface ConsumerBacklog {
  readonly stream: string;
  readonly consumer: string;
  /** The consumer's lag: messages not yet delivered plus delivered but unacknowledged. */
  readonly lag: number;
  /** Messages after the consumer's ack floor that were read and counted (acknowledged ones above the floor included). */
  readonly counted: number;
  /** True when there were more than `max` to count: the shares are those of the oldest `max`. */
  readonly truncated: boolean;
  /** Messages per tenant, most first ("(not a document subject)" for anything else on the stream). */
  readonly tenants: ReadonlyArray<{ readonly tenant: string; readonly messages: number }>;
}

const OTHER = '(not a document subject)';
const PROGRESS_EVERY = 100_000;

/**
 * For every durable consumer with a lag (consumerSummaries), reads the subjects of the messages after its ack floor with
 * a headers-only ordered consumer (removed after) and counts them by tenant: which tenant's import the others'
 * documents are waiting behind. Reads at most `max` messages per consumer.
 */
export async function backlogByTenant(
  handle: NatsHandle,
  consumers: readonly ConsumerSummary[],
  max = BACKLOG_MAX_DEFAULT,
  /** Told every PROGRESS_EVERY messages of a long count: the consumer, how many are counted, of how many. */
  onProgress?: (consumer: string, counted: number, of: number) => void,
): Promise<ConsumerBacklog[]> {
  const out: ConsumerBacklog[] = [];
  for (const c of consumers) {
    if (c.lag === 0) continue;
    const filters = c.filter === '' ? [] : c.filter.split(',');
    const counts = new Map<string, number>();
    const { counted, truncated } = await readOnce(
      handle,
      c.stream,
      {
        // One filter as a string: nats-server before 2.10 takes no list.
        ...(filters.length > 0 ? { filter_subjects: filters.length === 1 ? (filters[0] as string) : filters } : {}),
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: c.ackFloorSeq + 1,
        headers_only: true,
      },
      async (consumer) => {
        const total = (await consumer.info()).num_pending;
        const wanted = Math.min(total, max);
        let read = 0;
        if (wanted > 0) {
          const messages = await consumer.consume(consumeOptions(Math.min(wanted, 1000)));
          for await (const msg of messages) {
            const tenant = parseDocumentSubject(msg.subject)?.tenant ?? OTHER;
            counts.set(tenant, (counts.get(tenant) ?? 0) + 1);
            if (++read >= wanted || msg.info.pending === 0) break; // the head (or messages removed since the count)
            if (read % PROGRESS_EVERY === 0) onProgress?.(`${c.stream}/${c.name}`, read, wanted);
          }
          await messages.close();
        }
        return { counted: read, truncated: total > max };
      },
    );
    const tenants = [...counts].map(([tenant, messages]) => ({ tenant, messages })).sort((a, b) => b.messages - a.messages || a.tenant.localeCompare(b.tenant));
    out.push({ stream: c.stream, consumer: c.name, lag: c.lag, counted, truncated, tenants });
  }
  return out;
}

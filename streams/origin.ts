// The origin check: a CHUNKS, EMBEDDINGS or ERASURES event must point (docSeq) at a real DOCUMENTS version of the same document.
import { DeliverPolicy, JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import { UnavailableError, ValidationError, errorMessage } from '../lib/errors.ts';
import { HEADER, headersOf, headerValue } from './codec.ts';
import type { SpandaEvent, StoredEvent } from './events/index.ts';
import { unlessConnectionLost, type NatsHandle } from './nats.ts';
import { readOnce } from './ordered.ts';
import { STREAMS } from './provision.ts';
import { subjects } from './subjects.ts';

/** What a DOCUMENTS message is, as far as the check needs: its subject and ce-type. */
interface Origin {
  readonly subject: string;
  readonly type: string;
  /** When JetStream stored it (epoch ms), when known. */
  readonly storedAtMs?: number;
}

/** The DOCUMENTS types each derived event may point at: chunks come from an upsert; a removal from a delete (or an upsert that left nothing to index). */
const ORIGIN_TYPES: Readonly<Record<string, readonly string[]>> = {
  'document.chunked': ['document.upserted'],
  'document.embedded': ['document.upserted'],
  'document.removed': ['document.deleted', 'document.upserted'],
  // An erasure keeps the deletion it names: pointing anywhere else, it would make the catalog forget a live document.
  'document.erased': ['document.deleted'],
};

export interface OriginCheck {
  /**
   * One entry per event, in order: undefined when the event may be applied, a ValidationError (its DLQ reason) when it
   * cannot be right. Events that carry no docSeq always pass. Throws UnavailableError when DOCUMENTS cannot be read.
   */
  check(events: readonly StoredEvent<SpandaEvent>[]): Promise<Array<ValidationError | undefined>>;
  /**
   * Remembers the DOCUMENTS messages among these events (read from the log by this process, e.g. by the chunker): what
   * a sequence holds never changes, so the events derived from them are checked without asking JetStream again.
   */
  learn(read: ReadonlyArray<{ readonly event: StoredEvent<SpandaEvent>; readonly storedAtMs: number }>): void;
  /** When JetStream stored this DOCUMENTS sequence (epoch ms), if this process has read or looked it up. */
  storedAt(seq: number): number | undefined;
}

export interface OriginCheckOptions {
  /** DOCUMENTS messages remembered (subject and type; a sequence never changes meaning). Default 10,000. */
  readonly cacheSize?: number;
  /** Lookups in flight at once. Default 16. */
  readonly concurrency?: number;
}

const checks = new WeakMap<NatsHandle, OriginCheck>();

/**
 * Uncached sequences in one check from which they are read as a range, and how sparse that range may be. A range costs
 * nats-server a consumer (created, read, deleted) and memory that grows with the log: in the chaos soak, whose projector
 * runs apart from the chunker and checks a few dozen new documents per batch, ranges from 16 on held nats-server at
 * 318 MB after 5 minutes and growing ~58 MB/min, single lookups at 100-155 MB, level. A catch-up or replay checks
 * hundreds to a thousand per batch, where one range replaces that many round trips.
 */
export const RANGE_MIN = 128;
const RANGE_SPREAD = 4;

/** The origin check of a connection, shared by every stage in the process so they share its cache. */
export function originCheckFor(handle: NatsHandle): OriginCheck {
  let check = checks.get(handle);
  if (!check) {
    check = createOriginCheck(handle);
    checks.set(handle, check);
  }
  return check;
}

type Addressed = Extract<SpandaEvent, { type: 'document.chunked' | 'document.removed' | 'document.embedded' | 'document.erased' }>;

function isAddressed(event: StoredEvent<SpandaEvent>): event is StoredEvent<Addressed> {
  return Object.hasOwn(ORIGIN_TYPES, event.type);
}

export function createOriginCheck(handle: NatsHandle, options: OriginCheckOptions = {}): OriginCheck {
  const cacheSize = options.cacheSize ?? 10_000;
  const concurrency = options.concurrency ?? 16;
  // Insertion-ordered Map as an LRU: a hit is re-inserted at the end, the oldest entry is evicted first.
  const cache = new Map<number, Origin | 'gone'>();
  let bounds: { first: number; last: number } | undefined;

  const remember = (seq: number, origin: Origin | 'gone') => {
    cache.delete(seq);
    cache.set(seq, origin);
    if (cache.size > cacheSize) cache.delete(cache.keys().next().value as number);
  };

  async function refreshBounds(): Promise<{ first: number; last: number }> {
    try {
      const info = handle.jsm.streams.info(STREAMS.DOCUMENTS);
      info.catch(() => undefined); // abandoned when the connection drops first
      const { state } = await unlessConnectionLost(handle, info, 'NATS connection lost while reading the DOCUMENTS bounds');
      bounds = { first: state.first_seq, last: state.last_seq };
      return bounds;
    } catch (err) {
      if (err instanceof UnavailableError) throw err;
      throw new UnavailableError(`cannot read the DOCUMENTS stream's bounds: ${errorMessage(err)}`, 5, { cause: err });
    }
  }

  async function lookup(seq: number): Promise<Origin | 'gone'> {
    try {
      const request = handle.jsm.streams.getMessage(STREAMS.DOCUMENTS, { seq });
      request.catch(() => undefined); // abandoned when the connection drops first
      const m = await unlessConnectionLost(handle, request, `NATS connection lost while reading DOCUMENTS message ${seq}`);
      if (!m) return 'gone';
      return { subject: m.subject, type: m.header?.get(HEADER.type) ?? '', storedAtMs: m.time.getTime() };
    } catch (err) {
      if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.NoMessageFound) return 'gone';
      if (err instanceof UnavailableError) throw err;
      throw new UnavailableError(`cannot read DOCUMENTS message ${seq}: ${errorMessage(err)}`, 5, { cause: err });
    }
  }

  /**
   * Many sequences close together (a replay checks a thousand documents' chunks and vectors per batch) are read as one
   * range of DOCUMENTS headers with an ordered consumer, not a getMessage each (a round trip that also carries the
   * body). What the range does not deliver is looked up one by one after it, so a failure here only costs time.
   */
  async function readRange(seqs: readonly number[], found: Map<number, Origin | 'gone'>): Promise<void> {
    if (seqs.length < RANGE_MIN) return;
    const from = Math.min(...seqs);
    const to = Math.max(...seqs);
    if (to - from + 1 > seqs.length * RANGE_SPREAD) return;
    const wanted = new Set(seqs);
    const reading = readOnce(handle, STREAMS.DOCUMENTS, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: from, headers_only: true }, async (consumer) => {
      for (let next = from; next <= to; ) {
        const messages = await consumer.fetch({ max_messages: Math.min(to - next + 1, 1000), expires: 2000 });
        let got = 0;
        let end = false;
        for await (const m of messages) {
          got++;
          if (m.seq > to) {
            end = true;
            break;
          }
          // headersOf: the header block decoded once, without the client's per-line key list (a replay reads every
          // document's headers here).
          const origin = { subject: m.subject, type: headerValue(headersOf(m), HEADER.type), storedAtMs: m.time.getTime() };
          remember(m.seq, origin);
          if (wanted.has(m.seq)) found.set(m.seq, origin);
          next = m.seq + 1;
          // Stop the fetch at once rather than wait out its expiry for messages that will not come.
          if (m.seq === to || m.info.pending === 0) {
            end = true;
            break;
          }
        }
        if (end || got === 0) break;
      }
    });
    reading.catch(() => undefined); // abandoned when the connection drops first
    try {
      await unlessConnectionLost(handle, reading, 'NATS connection lost while reading DOCUMENTS headers');
    } catch {
      // the lookups after it ask for whatever is still missing (and say when DOCUMENTS cannot be read)
    }
  }

  async function lookupAll(seqs: readonly number[], found: Map<number, Origin | 'gone'>): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < seqs.length) {
        const seq = seqs[next++] as number;
        const origin = await lookup(seq);
        remember(seq, origin);
        found.set(seq, origin);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, seqs.length) }, worker));
  }

  return {
    storedAt(seq) {
      const origin = cache.get(seq);
      return origin === undefined || origin === 'gone' ? undefined : origin.storedAtMs;
    },
    learn(read) {
      for (const { event, storedAtMs } of read) {
        const { stream, seq, subject } = event.position;
        if (stream !== STREAMS.DOCUMENTS) continue;
        remember(seq, { subject, type: event.type, storedAtMs });
        // A message read at this sequence: the stream reaches at least this far.
        if (bounds && seq > bounds.last) bounds = { first: bounds.first, last: seq };
      }
    },
    async check(events) {
      const addressed = events.filter(isAddressed);
      if (addressed.length === 0) return events.map(() => undefined);
      // A docSeq past the cached head may just be newer than the cache: refresh once per call, then it is a lie.
      const highest = Math.max(...addressed.map((e) => e.data.docSeq));
      let known = bounds ?? (await refreshBounds());
      if (highest > known.last) known = await refreshBounds();
      const found = new Map<number, Origin | 'gone'>();
      const wanted: number[] = [];
      for (const seq of new Set(addressed.map((e) => e.data.docSeq))) {
        const cached = cache.get(seq);
        if (cached !== undefined) {
          remember(seq, cached);
          found.set(seq, cached);
        } else if (seq < known.first) {
          found.set(seq, 'gone'); // removed by the stream's limits: nothing to ask for
        } else if (seq <= known.last) wanted.push(seq);
      }
      await readRange(wanted, found);
      await lookupAll(wanted.filter((seq) => !found.has(seq)), found);
      // A message missing at or after the cached first sequence may have been removed by limits since: look again.
      if ([...found.values()].includes('gone')) known = await refreshBounds();
      const now = known;
      return events.map((event) => (isAddressed(event) ? verdict(event, found.get(event.data.docSeq), now) : undefined));
    },
  };

  function verdict(event: StoredEvent<Addressed>, origin: Origin | 'gone' | undefined, known: { first: number; last: number }): ValidationError | undefined {
    const { docSeq } = event.data;
    // The message is built only for a rejection: a replay checks every chunk and vector event here.
    const reject = (why: string, issue: string) =>
      new ValidationError(`${event.type} ${event.position.stream}:${event.position.seq} has docSeq ${docSeq}, ${why}`, [`docSeq: ${issue}`]);
    if (docSeq > known.last) return reject(`past the end of DOCUMENTS (last sequence ${known.last}): it names no document version`, 'past the end of DOCUMENTS');
    if (origin === undefined || origin === 'gone') {
      // Before first_seq the stream's limits removed it: the version was real, and a replay must still apply it.
      return docSeq < known.first ? undefined : reject('but DOCUMENTS has no message there', 'no DOCUMENTS message');
    }
    const expected = subjects.document(event.data);
    if (origin.subject !== expected) return reject(`which is a message on ${origin.subject}, not on ${expected}`, 'another document');
    const allowed = ORIGIN_TYPES[event.type] ?? [];
    if (!allowed.includes(origin.type)) return reject(`which is a ${origin.type || 'message without ce-type'}, not a ${allowed.join(' or ')}`, `points at a ${origin.type}`);
    return undefined;
  }
}

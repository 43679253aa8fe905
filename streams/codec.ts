// Codec: CloudEvents binary-mode headers (ce-*) plus a readable JSON payload, both ways, validating on read.
import { MsgHdrsImpl, type MsgHdrs } from '@nats-io/transport-node';
import { ValidationError } from '../lib/errors.ts';
import {
  currentSchemaVersion,
  isEventType,
  parseEventData,
  type Causation,
  type EventMetadata,
  type EventType,
  type LogPosition,
  type SpandaEvent,
  type StoredEvent,
} from './events/index.ts';
import { newEventId } from './ids.ts';
import { encodeIdToken, parseDocumentSubject } from './subjects.ts';

export const HEADER = {
  specversion: 'ce-specversion',
  id: 'ce-id',
  type: 'ce-type',
  source: 'ce-source',
  time: 'ce-time',
  subject: 'ce-subject',
  contentType: 'content-type',
  schemaVersion: 'spanda-schema-version',
  traceparent: 'traceparent',
  causation: 'spanda-causation',
  msgId: 'Nats-Msg-Id',
} as const;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export interface EncodedMessage {
  readonly headers: MsgHdrs;
  readonly data: Uint8Array;
}

/** Builds metadata for a new event of `type`; processors pass a deterministic id and the causation of their input. */
export function eventMetadata(
  type: EventType,
  init: { source: string; subject?: string; id?: string; time?: string; causation?: Causation; traceparent?: string | undefined },
): EventMetadata {
  return {
    id: init.id ?? newEventId(),
    schemaVersion: currentSchemaVersion(type),
    source: init.source,
    time: init.time ?? new Date().toISOString(),
    ...(init.subject !== undefined ? { subject: init.subject } : {}),
    ...(init.causation !== undefined ? { causation: init.causation } : {}),
    ...(init.traceparent ? { traceparent: init.traceparent } : {}),
  };
}

export function formatCausation(c: Causation): string {
  return `${c.stream}:${c.seq}`;
}

export function parseCausation(value: string): Causation | undefined {
  const match = /^([A-Za-z0-9_-]+):(\d+)$/.exec(value);
  if (!match) return undefined;
  return { stream: match[1] as string, seq: Number(match[2]) };
}

/** Encodes an event as CloudEvents binary mode: attributes in ce-* headers, data as JSON. */
export function encodeEvent(event: SpandaEvent, msgId?: string): EncodedMessage {
  return { headers: headersFrom(eventHeaderEntries(event, msgId)), data: eventPayload(event) };
}

/** An event's payload: its data as UTF-8 JSON. */
export function eventPayload(event: SpandaEvent): Uint8Array {
  return encoder.encode(JSON.stringify(event.data));
}

/** The headers encodeEvent sets for an event, as plain pairs (they cross to another thread; headersFrom rebuilds them). */
export function eventHeaderEntries(event: SpandaEvent, msgId?: string): Array<[string, string]> {
  const m = event.metadata;
  const entries: Array<[string, string]> = [
    [HEADER.specversion, '1.0'],
    [HEADER.id, m.id],
    [HEADER.type, event.type],
    [HEADER.source, m.source],
    [HEADER.time, m.time],
  ];
  if (m.subject !== undefined) entries.push([HEADER.subject, encodeHeaderValue(m.subject)]);
  entries.push([HEADER.contentType, 'application/json'], [HEADER.schemaVersion, String(m.schemaVersion)]);
  if (m.traceparent) entries.push([HEADER.traceparent, m.traceparent]);
  if (m.causation) entries.push([HEADER.causation, formatCausation(m.causation)]);
  if (msgId !== undefined) entries.push([HEADER.msgId, msgId]);
  return entries;
}

const LINE_BREAK = /[\r\n]/;

/**
 * The client's MsgHdrs.set() lists and filters every key on each call (the headers of a publish cost more than its
 * payload's JSON); the keys here are fixed and distinct, so they go straight into the map. A value with a line
 * break takes the client's own path, which refuses it as it always did; values are trimmed as the client trims them.
 */
export function headersFrom(entries: ReadonlyArray<readonly [string, string]>): MsgHdrs {
  const h = new MsgHdrsImpl();
  for (const [key, value] of entries) {
    if (LINE_BREAK.test(value)) h.set(key, value);
    else h.headers.set(key, [value.trim()]);
  }
  return h;
}

/**
 * One header's first value ('' when absent), as MsgHdrs.get() with exact matching answers, without the client's
 * per-call list of every key (a decoded message's headers are read about ten times).
 */
export function headerValue(h: MsgHdrs | undefined, key: string): string {
  if (h === undefined) return '';
  if (h instanceof MsgHdrsImpl) return h.headers.get(key)?.[0] ?? '';
  return h.get(key);
}

// Header values must stay on one line; CloudEvents' HTTP binding percent-encodes, and so do we for non-ASCII.
function encodeHeaderValue(value: string): string {
  return /^[\x20-\x7e]*$/.test(value) && !value.includes('%') ? value : encodeURIComponent(value);
}

function decodeHeaderValue(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

const headerDecoder = new TextDecoder();
const HEADER_NAME = /^[\x21-\x39\x3b-\x7e]+$/;
const STATUS_LINE = 'NATS/1.0';

/**
 * Parses a message's header block into the client's MsgHdrsImpl, as MsgHdrsImpl.decode does, without its per-line
 * list of every key so far (for ~10 headers that was the largest allocation of a consumed message). Anything unusual
 * (a status line with a code, a name the client would refuse, a stray line break) goes to the client's own decoder.
 */
export function decodeHeaderBlock(block: Uint8Array): MsgHdrsImpl {
  const lines = headerDecoder.decode(block).split('\r\n');
  if (lines[0] !== STATUS_LINE) return MsgHdrsImpl.decode(block);
  const h = new MsgHdrsImpl();
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] as string;
    if (!line) continue;
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon);
    const value = line.slice(colon + 1).trim();
    if (!HEADER_NAME.test(name) || LINE_BREAK.test(value)) return MsgHdrsImpl.decode(block);
    const values = h.headers.get(name);
    if (values) values.push(value);
    else h.headers.set(name, [value]);
  }
  return h;
}

/** The fields of the client's message classes (nats-core 3.3) that hold a received message's raw header block. */
interface ReceivedInternals {
  _msg?: { hdr?: unknown };
  _rdata?: unknown;
  _headers?: unknown;
}

/**
 * A received message's headers (`msg.headers`), decoded with decodeHeaderBlock when the client's message exposes its
 * raw bytes as nats-core 3.3 does; the result is kept on the message, so `msg.headers` answers the same object later.
 */
export function headersOf(msg: { readonly headers: MsgHdrs | undefined }): MsgHdrs | undefined {
  const inner = (msg as { msg?: ReceivedInternals }).msg;
  if (inner && inner._headers === undefined && typeof inner._msg?.hdr === 'number' && inner._msg.hdr > 0 && inner._rdata instanceof Uint8Array) {
    inner._headers = decodeHeaderBlock(inner._rdata.subarray(0, inner._msg.hdr));
  }
  return msg.headers;
}

/** The parts of a NATS message the codec reads (JsMsg, StoredMsg and core Msg all fit after a small adapter). */
export interface RawMessage {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: MsgHdrs | undefined;
}

/** Decodes and validates a message read from a stream; throws ValidationError (a DLQ reason) when it is not a valid event. */
export function decodeEvent(msg: RawMessage, position: Omit<LogPosition, 'subject'>): StoredEvent<SpandaEvent> {
  const h = msg.headers;
  if (!h) throw new ValidationError('message has no headers: a Spanda event needs CloudEvents ce-* headers', ['headers: missing']);
  const type = headerValue(h, HEADER.type);
  if (!type) throw new ValidationError('message has no ce-type header', ['ce-type: missing']);
  if (!isEventType(type)) throw new ValidationError(`unknown event type ${JSON.stringify(type)}`, [`ce-type: unknown ${type}`]);
  const specversion = headerValue(h, HEADER.specversion);
  if (specversion !== '1.0') throw new ValidationError(`unsupported ce-specversion ${JSON.stringify(specversion)} (expected 1.0)`, ['ce-specversion']);
  const contentType = headerValue(h, HEADER.contentType);
  if (contentType && !contentType.startsWith('application/json')) {
    throw new ValidationError(`unsupported content-type ${JSON.stringify(contentType)} (expected application/json)`, ['content-type']);
  }
  const versionHeader = headerValue(h, HEADER.schemaVersion);
  const schemaVersion = versionHeader ? Number(versionHeader) : 1;
  let raw: unknown;
  try {
    raw = JSON.parse(decoder.decode(msg.data));
  } catch (err) {
    throw new ValidationError(`payload is not valid UTF-8 JSON: ${(err as Error).message}`, ['data: not JSON']);
  }
  const data = parseEventData(type, schemaVersion, raw);
  checkAddress(type, data, msg.subject);
  checkShape(type, data);
  const causationHeader = headerValue(h, HEADER.causation);
  const causation = causationHeader ? parseCausation(causationHeader) : undefined;
  const time = headerValue(h, HEADER.time);
  // CloudEvents' time is RFC 3339; the catalog shows it as when the version was published.
  if (time && !RFC3339.test(time)) throw new ValidationError(`ce-time ${JSON.stringify(time.slice(0, 64))} is not an RFC 3339 time (e.g. 2026-01-31T12:00:00Z)`, ['ce-time: not RFC 3339']);
  const subjectHeader = headerValue(h, HEADER.subject);
  const traceparent = headerValue(h, HEADER.traceparent);
  const metadata: EventMetadata = {
    id: headerValue(h, HEADER.id) || `${position.stream}:${position.seq}`,
    source: headerValue(h, HEADER.source) || 'unknown',
    time: time || new Date(0).toISOString(),
    schemaVersion: currentSchemaVersion(type),
    ...(subjectHeader ? { subject: decodeHeaderValue(subjectHeader) } : {}),
    ...(traceparent ? { traceparent } : {}),
    ...(causation ? { causation } : {}),
  };
  return { type, data, metadata, position: { ...position, subject: msg.subject } } as StoredEvent<SpandaEvent>;
}

/** Which subject kinds may carry each document-addressed event type. */
const ADDRESSED: Partial<Record<EventType, ReadonlyArray<'docs' | 'chunks' | 'embeddings' | 'erasures'>>> = {
  'document.upserted': ['docs'],
  'document.deleted': ['docs'],
  'document.chunked': ['chunks'],
  'document.removed': ['chunks', 'embeddings'],
  'document.embedded': ['embeddings'],
  'document.erased': ['erasures'],
};

/**
 * The subject is what consumers filter and authorise by (a tenant's slice of the log), the payload is what gets
 * indexed: they must name the same document, or a message written on one tenant's subject could index into another's.
 * The id token is compared in its canonical encoding, so one document never has two subjects.
 */
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * What the schemas cannot say field by field: a part within its count, a chunk that does not end before it starts.
 * An event breaking them was not written by a Spanda stage, and a store would merge it into the version it names.
 */
function checkShape(type: EventType, data: unknown): void {
  if (type !== 'document.chunked' && type !== 'document.embedded') return;
  const d = data as { part: { index: number; count: number }; chunks?: ReadonlyArray<{ chunkId: string; start: number; end: number }> };
  if (d.part.index >= d.part.count) {
    throw new ValidationError(`${type} is part ${d.part.index} of ${d.part.count}: part indexes run from 0 to count - 1`, ['part: index not below count']);
  }
  for (const c of d.chunks ?? []) {
    if (c.end < c.start) throw new ValidationError(`chunk ${JSON.stringify(c.chunkId)} ends (${c.end}) before it starts (${c.start})`, ['chunks: end before start']);
  }
}

function checkAddress(type: EventType, data: unknown, subject: string): void {
  const kinds = ADDRESSED[type];
  if (!kinds) return;
  const d = data as { tenant: string; source: string; id: string; model?: { id: string } };
  const parsed = parseDocumentSubject(subject);
  const mismatch = (what: string) =>
    new ValidationError(`${type} on subject ${JSON.stringify(subject)} ${what}; the subject and the payload must name the same document`, [`subject: ${what}`]);
  if (!parsed || !kinds.includes(parsed.kind)) throw mismatch(`is not a ${kinds.map((k) => `${k}.…`).join(' or ')} subject`);
  if (parsed.tenant !== d.tenant) throw mismatch(`names tenant ${JSON.stringify(parsed.tenant)}, the payload ${JSON.stringify(d.tenant)}`);
  if (parsed.source !== d.source) throw mismatch(`names source ${JSON.stringify(parsed.source)}, the payload ${JSON.stringify(d.source)}`);
  if (parsed.idToken !== encodeIdToken(d.id)) {
    throw mismatch(`names document ${JSON.stringify(parsed.id ?? parsed.idToken)}, the payload ${JSON.stringify(d.id)}`);
  }
  if (d.model !== undefined && parsed.model !== d.model.id) {
    throw mismatch(`names model ${JSON.stringify(parsed.model)}, the payload ${JSON.stringify(d.model.id)}`);
  }
}

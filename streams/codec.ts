// Codec: CloudEvents binary-mode headers (ce-*) plus a readable JSON payload, both ways, validating on read.
import { headers as createHeaders, type MsgHdrs } from '@nats-io/transport-node';
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
  const h = createHeaders();
  const m = event.metadata;
  h.set(HEADER.specversion, '1.0');
  h.set(HEADER.id, m.id);
  h.set(HEADER.type, event.type);
  h.set(HEADER.source, m.source);
  h.set(HEADER.time, m.time);
  if (m.subject !== undefined) h.set(HEADER.subject, encodeHeaderValue(m.subject));
  h.set(HEADER.contentType, 'application/json');
  h.set(HEADER.schemaVersion, String(m.schemaVersion));
  if (m.traceparent) h.set(HEADER.traceparent, m.traceparent);
  if (m.causation) h.set(HEADER.causation, formatCausation(m.causation));
  if (msgId !== undefined) h.set(HEADER.msgId, msgId);
  return { headers: h, data: encoder.encode(JSON.stringify(event.data)) };
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
  const type = h.get(HEADER.type);
  if (!type) throw new ValidationError('message has no ce-type header', ['ce-type: missing']);
  if (!isEventType(type)) throw new ValidationError(`unknown event type ${JSON.stringify(type)}`, [`ce-type: unknown ${type}`]);
  const specversion = h.get(HEADER.specversion);
  if (specversion !== '1.0') throw new ValidationError(`unsupported ce-specversion ${JSON.stringify(specversion)} (expected 1.0)`, ['ce-specversion']);
  const contentType = h.get(HEADER.contentType);
  if (contentType && !contentType.startsWith('application/json')) {
    throw new ValidationError(`unsupported content-type ${JSON.stringify(contentType)} (expected application/json)`, ['content-type']);
  }
  const versionHeader = h.get(HEADER.schemaVersion);
  const schemaVersion = versionHeader ? Number(versionHeader) : 1;
  let raw: unknown;
  try {
    raw = JSON.parse(decoder.decode(msg.data));
  } catch (err) {
    throw new ValidationError(`payload is not valid UTF-8 JSON: ${(err as Error).message}`, ['data: not JSON']);
  }
  const data = parseEventData(type, schemaVersion, raw);
  checkAddress(type, data, msg.subject);
  const causationHeader = h.get(HEADER.causation);
  const causation = causationHeader ? parseCausation(causationHeader) : undefined;
  const subjectHeader = h.get(HEADER.subject);
  const traceparent = h.get(HEADER.traceparent);
  const metadata: EventMetadata = {
    id: h.get(HEADER.id) || `${position.stream}:${position.seq}`,
    source: h.get(HEADER.source) || 'unknown',
    time: h.get(HEADER.time) || new Date(0).toISOString(),
    schemaVersion: currentSchemaVersion(type),
    ...(subjectHeader ? { subject: decodeHeaderValue(subjectHeader) } : {}),
    ...(traceparent ? { traceparent } : {}),
    ...(causation ? { causation } : {}),
  };
  return { type, data, metadata, position: { ...position, subject: msg.subject } } as StoredEvent<SpandaEvent>;
}

/** Which subject kinds may carry each document-addressed event type. */
const ADDRESSED: Partial<Record<EventType, ReadonlyArray<'docs' | 'chunks' | 'embeddings'>>> = {
  'document.upserted': ['docs'],
  'document.deleted': ['docs'],
  'document.chunked': ['chunks'],
  'document.removed': ['chunks', 'embeddings'],
  'document.embedded': ['embeddings'],
};

/**
 * The subject is what consumers filter and authorise by (a tenant's slice of the log), the payload is what gets
 * indexed: they must name the same document, or a message written on one tenant's subject could index into another's.
 * The id token is compared in its canonical encoding, so one document never has two subjects.
 */
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

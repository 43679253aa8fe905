// Subject naming: validated tenant/source/model names and a reversible, NATS-safe encoding of upstream document ids.
import { createHash } from 'node:crypto';
import { ValidationError } from '../lib/errors.ts';

/** Tenants, sources and model ids are plain names so they never need escaping in a subject. */
export const NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const NAME_RULE = '1–63 characters of a–z, 0–9, "_" or "-", starting with a letter or digit';

/** Longest encoded id kept readable in a subject; longer ids are hashed (the original stays in the payload). */
export const MAX_ID_TOKEN_BYTES = 200;
/** Largest upstream id accepted at all. */
export const MAX_ID_BYTES = 4096;
const HASHED_PREFIX = '~';

export function isValidName(name: string): boolean {
  return NAME_PATTERN.test(name);
}

export function assertName(kind: 'tenant' | 'source' | 'model', name: string): string {
  if (!isValidName(name)) {
    throw new ValidationError(`invalid ${kind} name ${JSON.stringify(name)}: use ${NAME_RULE}`, [`${kind}: must match ${NAME_PATTERN.source}`]);
  }
  return name;
}

// NATS forbids '.', '*', '>' and whitespace inside a token; '%' is escaped so decoding is exact,
// control characters so `nats stream view` stays printable, and a leading '~' because it marks hashed ids.
function mustEscape(ch: string, index: number): boolean {
  if (ch === '.' || ch === '*' || ch === '>' || ch === '%') return true;
  if (index === 0 && ch === HASHED_PREFIX) return true;
  const code = ch.codePointAt(0) ?? 0;
  if (code < 0x20 || code === 0x7f) return true;
  return /\s/u.test(ch);
}

function percentEncode(ch: string): string {
  return Array.from(Buffer.from(ch, 'utf8'), (b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');
}

/**
 * An id that is its own token: printable ASCII with nothing to escape ('.', '*', '>', '%'; '~' first), short enough
 * not to be hashed. Most ids are, and every event's subject is checked against its payload's id (codec, origin check).
 */
const PLAIN_ID_TOKEN = new RegExp(`^(?!~)[!-$&-)+-\\-/-=?-~]{1,${MAX_ID_TOKEN_BYTES}}$`);

/** Encodes an upstream id as one subject token. Reversible with decodeIdToken unless the id was too long (then hashed). */
export function encodeIdToken(id: string): string {
  if (id.length === 0) throw new ValidationError('document id must not be empty', ['id: empty']);
  if (Buffer.byteLength(id, 'utf8') > MAX_ID_BYTES) {
    throw new ValidationError(`document id is longer than ${MAX_ID_BYTES} bytes`, ['id: too long']);
  }
  if (!id.isWellFormed()) throw new ValidationError('document id contains unpaired UTF-16 surrogates', ['id: not valid unicode']);
  if (PLAIN_ID_TOKEN.test(id)) return id;
  let out = '';
  let index = 0;
  for (const ch of id) {
    out += mustEscape(ch, index) ? percentEncode(ch) : ch;
    index += 1;
  }
  if (Buffer.byteLength(out, 'utf8') > MAX_ID_TOKEN_BYTES) {
    return `${HASHED_PREFIX}${createHash('sha256').update(id, 'utf8').digest('hex')}`;
  }
  return out;
}

/** True when the token is a hash of a long id: the original id must then be read from the payload. */
export function isHashedIdToken(token: string): boolean {
  return token.startsWith(HASHED_PREFIX);
}

/** Decodes a token made by encodeIdToken. Returns undefined for hashed tokens (see isHashedIdToken). */
export function decodeIdToken(token: string): string | undefined {
  if (isHashedIdToken(token)) return undefined;
  if (!token.includes('%')) return token;
  const bytes: number[] = [];
  let out = '';
  const flush = () => {
    if (bytes.length > 0) {
      out += Buffer.from(bytes).toString('utf8');
      bytes.length = 0;
    }
  };
  for (let i = 0; i < token.length; i++) {
    const ch = token[i] as string;
    if (ch === '%' && /^[0-9A-F]{2}$/i.test(token.slice(i + 1, i + 3))) {
      bytes.push(Number.parseInt(token.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      flush();
      out += ch;
    }
  }
  flush();
  return out;
}

export interface DocumentAddress {
  readonly tenant: string;
  readonly source: string;
  readonly id: string;
}

export const subjects = {
  document: (a: DocumentAddress) => `docs.${a.tenant}.${a.source}.${encodeIdToken(a.id)}`,
  chunks: (a: DocumentAddress) => `chunks.${a.tenant}.${a.source}.${encodeIdToken(a.id)}`,
  embeddings: (model: string, a: DocumentAddress) => `embeddings.${model}.${a.tenant}.${a.source}.${encodeIdToken(a.id)}`,
  embeddingsOfModel: (model: string) => `embeddings.${model}.>`,
  /** Where `spanda erase` records that a document's earlier versions were erased (the ERASURES stream). */
  erasure: (a: DocumentAddress) => `erasures.${a.tenant}.${a.source}.${encodeIdToken(a.id)}`,
  dlq: (processor: string) => `dlq.${processor}`,
} as const;

export interface ParsedSubject {
  readonly kind: 'docs' | 'chunks' | 'embeddings' | 'erasures';
  readonly model?: string;
  readonly tenant: string;
  readonly source: string;
  /** The id token as it appears in the subject. */
  readonly idToken: string;
  /** The decoded id, or undefined when the token is a hash of a long id. */
  readonly id: string | undefined;
}

/** Parses a document-addressed subject (docs/chunks/embeddings/erasures); undefined when it is not one. */
export function parseDocumentSubject(subject: string): ParsedSubject | undefined {
  const parts = subject.split('.');
  const kind = parts[0];
  if (kind === 'docs' || kind === 'chunks' || kind === 'erasures') {
    if (parts.length !== 4) return undefined;
    const [, tenant, source, idToken] = parts as [string, string, string, string];
    return { kind, tenant, source, idToken, id: decodeIdToken(idToken) };
  }
  if (kind === 'embeddings') {
    if (parts.length !== 5) return undefined;
    const [, model, tenant, source, idToken] = parts as [string, string, string, string, string];
    return { kind, model, tenant, source, idToken, id: decodeIdToken(idToken) };
  }
  return undefined;
}

/** Whether a subject's tokens fall under a filter's ('*' is one token, a final '>' one or more). */
export function tokensMatch(tokens: readonly string[], filter: readonly string[]): boolean {
  for (let i = 0; i < filter.length; i++) {
    const f = filter[i];
    if (f === '>') return tokens.length > i;
    if (i >= tokens.length || (f !== '*' && f !== tokens[i])) return false;
  }
  return tokens.length === filter.length;
}

/** Whether `subject` falls under the subject filter `filter` (e.g. docs.> or embeddings.*.*.*). */
export function subjectMatches(subject: string, filter: string): boolean {
  return tokensMatch(subject.split('.'), filter.split('.'));
}

/**
 * A subject an application may publish to: non-empty tokens of printable characters without wildcards or whitespace,
 * outside the server's own namespaces ($JS, $KV, $SYS and every other '$' prefix, _INBOX replies).
 */
export function isPlainSubject(subject: string): boolean {
  if (subject.length === 0 || subject.length > 4096 || subject.startsWith('$') || subject.startsWith('_INBOX.')) return false;
  return subject.split('.').every((t) => t.length > 0 && t !== '*' && t !== '>' && !/[\s\u0000-\u001f\u007f]/u.test(t));
}

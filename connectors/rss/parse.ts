// Parsing RSS 2.0 (and 0.9x/1.0) and Atom feeds into plain items with fast-xml-parser: pure, no I/O.
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { decodeEntities } from '../../processors/chunker/entities.ts';

export type FeedFormat = 'rss' | 'atom' | 'rdf';

/** One entry of a feed, as published (content is HTML unless `contentIsText`). */
export interface FeedItem {
  /** guid (RSS) or id (Atom) as written; undefined when the feed gives none. */
  readonly guid?: string;
  readonly link?: string;
  readonly title?: string;
  readonly authors: readonly string[];
  readonly categories: readonly string[];
  /** ISO 8601, when the feed's date parses. */
  readonly published?: string;
  readonly updated?: string;
  /** Full content (content:encoded, Atom content) when present, else the description/summary. */
  readonly content?: string;
  /** True for Atom `type="text"` content: plain text, not HTML. */
  readonly contentIsText: boolean;
  readonly summary?: string;
}

export interface ParsedFeed {
  readonly format: FeedFormat;
  readonly title?: string;
  readonly link?: string;
  readonly items: readonly FeedItem[];
}

/** The document is not a feed we can read: malformed XML, or XML that is neither RSS nor Atom. */
export class FeedFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FeedFormatError';
  }
}

const ARRAYS = new Set(['item', 'entry', 'category', 'link', 'author', 'dc:creator', 'dc:subject', 'contributor']);

// Atom content and summary are kept raw: type="xhtml" holds markup the parser would turn into objects (losing its
// order), and type="html" is escaped HTML decoded below with the chunker's entity table.
const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  parseTagValue: false,
  parseAttributeValue: false,
  htmlEntities: true,
  trimValues: true,
  stopNodes: ['feed.entry.content', 'feed.entry.summary'],
  isArray: (name) => ARRAYS.has(name),
});

type Node = Record<string, unknown>;

function isNode(value: unknown): value is Node {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function list(value: unknown): unknown[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

/** The text of an element: a string, or `#text` of an element with attributes. */
function text(value: unknown): string | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  const raw = typeof v === 'string' ? v : isNode(v) && typeof v['#text'] === 'string' ? v['#text'] : typeof v === 'number' ? String(v) : undefined;
  const trimmed = raw?.trim();
  return trimmed === undefined || trimmed === '' ? undefined : trimmed;
}

function attr(value: unknown, name: string): string | undefined {
  return isNode(value) && typeof value[`@_${name}`] === 'string' ? (value[`@_${name}`] as string) : undefined;
}

function isoDate(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : undefined;
}

function unique(values: ReadonlyArray<string | undefined>): string[] {
  return [...new Set(values.filter((v): v is string => v !== undefined && v !== ''))];
}

/** Raw Atom text construct → HTML or text: CDATA verbatim, the rest entity-decoded (html/text) or kept (xhtml). */
function atomText(value: unknown): { value: string; isText: boolean } | undefined {
  const raw = text(value);
  if (raw === undefined) return undefined;
  const type = (attr(value, 'type') ?? 'text').toLowerCase();
  if (type === 'xhtml') return { value: raw, isText: false };
  const decoded = raw
    .split(/(<!\[CDATA\[[\s\S]*?\]\]>)/)
    .map((part) => (part.startsWith('<![CDATA[') ? part.slice(9, -3) : decodeEntities(part)))
    .join('')
    .trim();
  return decoded === '' ? undefined : { value: decoded, isText: type === 'text' || type === 'text/plain' };
}

function rssItem(item: Node): FeedItem {
  const content = text(item['content:encoded']);
  const description = text(item.description);
  const guid = text(item.guid);
  const link = text(item.link) ?? (guid && attr(list(item.guid)[0], 'isPermaLink') !== 'false' && /^https?:\/\//i.test(guid) ? guid : undefined);
  const published = isoDate(text(item.pubDate) ?? text(item['dc:date']));
  const updated = isoDate(text(item['atom:updated']));
  const title = text(item.title);
  const fullContent = content ?? description;
  return {
    ...(guid !== undefined ? { guid } : {}),
    ...(link !== undefined ? { link } : {}),
    ...(title !== undefined ? { title: decodeEntities(title) } : {}),
    authors: unique([...list(item['dc:creator']).map(text), text(item.author)]),
    categories: unique([...list(item.category).map(text), ...list(item['dc:subject']).map(text)]),
    ...(published !== undefined ? { published } : {}),
    ...(updated !== undefined ? { updated } : {}),
    ...(fullContent !== undefined ? { content: fullContent } : {}),
    contentIsText: false,
    ...(content !== undefined && description !== undefined ? { summary: description } : {}),
  };
}

function atomLink(links: unknown[]): string | undefined {
  const alternate = links.find((l) => (attr(l, 'rel') ?? 'alternate') === 'alternate' && attr(l, 'href'));
  return attr(alternate ?? links.find((l) => attr(l, 'href')), 'href');
}

function atomEntry(entry: Node): FeedItem {
  const content = atomText(entry.content);
  const summary = atomText(entry.summary);
  const guid = text(entry.id);
  const link = atomLink(list(entry.link));
  const title = atomText(entry.title);
  const published = isoDate(text(entry.published) ?? text(entry.issued));
  const updated = isoDate(text(entry.updated) ?? text(entry.modified));
  const body = content ?? summary;
  return {
    ...(guid !== undefined ? { guid } : {}),
    ...(link !== undefined ? { link } : {}),
    ...(title !== undefined ? { title: title.value } : {}),
    authors: unique(list(entry.author).map((a) => (isNode(a) ? text(a.name) : text(a)))),
    categories: unique(list(entry.category).map((c) => attr(c, 'term') ?? attr(c, 'label') ?? text(c))),
    ...(published !== undefined ? { published } : {}),
    ...(updated !== undefined ? { updated } : {}),
    ...(body !== undefined ? { content: body.value } : {}),
    contentIsText: body?.isText ?? false,
    ...(content !== undefined && summary !== undefined ? { summary: summary.value } : {}),
  };
}

/**
 * Parses a feed document. Malformed XML, and XML that is not RSS or Atom (an HTML page, say), throw FeedFormatError
 * with the parser's line and column or the root element found.
 */
export function parseFeed(xml: string): ParsedFeed {
  const body = xml.replace(/^\uFEFF/, '');
  if (body.trim() === '') throw new FeedFormatError('the response is empty, not an RSS or Atom feed');
  if (/^\s*(?:<!doctype\s+html|<html[\s>])/i.test(body)) {
    throw new FeedFormatError("not an RSS or Atom feed: the server sent an HTML page (is this the site's address rather than its feed's?)");
  }
  const valid = XMLValidator.validate(body);
  if (valid !== true) throw new FeedFormatError(`malformed XML at line ${valid.err.line}, column ${valid.err.col}: ${valid.err.msg}`);
  const doc: unknown = parser.parse(body);
  if (!isNode(doc)) throw new FeedFormatError('not an RSS or Atom feed: the document has no root element');

  const rss = doc.rss;
  if (rss !== undefined) {
    const channel = isNode(rss) ? list(rss.channel)[0] : undefined;
    if (!isNode(channel)) throw new FeedFormatError('RSS without a <channel> element');
    const title = text(channel.title);
    const link = text(list(channel.link).find((l) => typeof l === 'string'));
    return {
      format: 'rss',
      ...(title !== undefined ? { title: decodeEntities(title) } : {}),
      ...(link !== undefined ? { link } : {}),
      items: list(channel.item).filter(isNode).map(rssItem),
    };
  }
  const feed = doc.feed;
  if (feed !== undefined) {
    if (!isNode(feed)) throw new FeedFormatError('Atom <feed> element is empty');
    const title = atomText(feed.title);
    const link = atomLink(list(feed.link));
    return {
      format: 'atom',
      ...(title !== undefined ? { title: title.value } : {}),
      ...(link !== undefined ? { link } : {}),
      items: list(feed.entry).filter(isNode).map(atomEntry),
    };
  }
  const rdf = doc['rdf:RDF'];
  if (isNode(rdf)) {
    const channel = list(rdf.channel)[0];
    const title = isNode(channel) ? text(channel.title) : undefined;
    const link = isNode(channel) ? text(channel.link) : undefined;
    return {
      format: 'rdf',
      ...(title !== undefined ? { title: decodeEntities(title) } : {}),
      ...(link !== undefined ? { link } : {}),
      items: list(rdf.item).filter(isNode).map(rssItem),
    };
  }
  const root = Object.keys(doc).find((k) => !k.startsWith('?') && !k.startsWith('@_') && k !== '#text');
  throw new FeedFormatError(`not an RSS or Atom feed: the root element is <${root ?? '?'}>, expected <rss> or <feed>`);
}

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

/** What parseFeed needs to know beyond the document. */
export interface ParseOptions {
  /** The feed's own address: relative links (after any xml:base) are resolved against it. */
  readonly url?: string;
}

// Atom content and summary are kept raw: type="xhtml" holds markup the parser would turn into objects (losing its
// order), and type="html" is escaped HTML decoded below with the chunker's entity table. Titles are kept raw too and
// decoded once here: the parser leaves most HTML named entities (&eacute;) alone, so a second pass over its output
// could not tell `&amp;lt;` (text "&lt;") from `&lt;`.
const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  parseTagValue: false,
  parseAttributeValue: false,
  htmlEntities: true,
  trimValues: true,
  stopNodes: ['feed.entry.content', 'feed.entry.summary', '*.title'],
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

const CDATA = /(<!\[CDATA\[[\s\S]*?\]\]>)/;

/** The character data of a raw (stop node) element, as XML reads it once: CDATA verbatim, entities decoded elsewhere. */
function xmlText(value: unknown): string | undefined {
  const decoded = text(value)
    ?.split(CDATA)
    .map((part) => (part.startsWith('<![CDATA[') ? part.slice(9, -3) : decodeEntities(part)))
    .join('')
    .trim();
  return decoded === '' ? undefined : decoded;
}

/**
 * A raw RSS title, every character decoded exactly once: entities outside CDATA by XML's reading, and references inside
 * CDATA too, since feeds (Medium's among them) escape titles as HTML before wrapping them in CDATA.
 */
function rssTitle(value: unknown): string | undefined {
  const decoded = text(value)
    ?.split(CDATA)
    .map((part) => decodeEntities(part.startsWith('<![CDATA[') ? part.slice(9, -3) : part))
    .join('')
    .trim();
  return decoded === '' ? undefined : decoded;
}

/** Raw Atom text construct → HTML or text: CDATA verbatim, the rest entity-decoded (html/text) or kept (xhtml). */
function atomText(value: unknown): { value: string; isText: boolean } | undefined {
  const type = (attr(value, 'type') ?? 'text').toLowerCase();
  if (type === 'xhtml') {
    const raw = text(value);
    return raw === undefined ? undefined : { value: raw, isText: false };
  }
  const decoded = xmlText(value);
  return decoded === undefined ? undefined : { value: decoded, isText: type === 'text' || type === 'text/plain' };
}

/** An Atom title as plain text: a text title as written, an html/xhtml one without its tags and references. */
function atomTitle(value: unknown): string | undefined {
  const title = atomText(value);
  if (title === undefined || title.isText) return title?.value;
  const plain = decodeEntities(title.value.replace(/<[^>]*>/g, '')).trim();
  return plain === '' ? undefined : plain;
}

/** A link resolved against the base in effect; absolute links (any scheme) are kept exactly as written. */
function resolveLink(href: string | undefined, base: string | undefined): string | undefined {
  if (href === undefined || base === undefined || /^[a-z][a-z\d+.-]*:/i.test(href)) return href;
  try {
    return new URL(href, base).href;
  } catch {
    return href;
  }
}

/** The base for an element's children: its xml:base resolved against the base around it. */
function baseOf(node: unknown, outer: string | undefined): string | undefined {
  return resolveLink(attr(node, 'xml:base'), outer) ?? outer;
}

function rssItem(item: Node, outerBase: string | undefined): FeedItem {
  const content = text(item['content:encoded']);
  const description = text(item.description);
  const guid = text(item.guid);
  const written = text(item.link);
  const base = baseOf(item, outerBase);
  const link =
    resolveLink(written, baseOf(list(item.link)[0], base)) ??
    (guid && attr(list(item.guid)[0], 'isPermaLink') !== 'false' && /^https?:\/\//i.test(guid) ? guid : undefined);
  const published = isoDate(text(item.pubDate) ?? text(item['dc:date']));
  const updated = isoDate(text(item['atom:updated']));
  const title = rssTitle(item.title);
  const fullContent = content ?? description;
  return {
    ...(guid !== undefined ? { guid } : {}),
    ...(link !== undefined ? { link } : {}),
    ...(title !== undefined ? { title } : {}),
    authors: unique([...list(item['dc:creator']).map(text), text(item.author)]),
    categories: unique([...list(item.category).map(text), ...list(item['dc:subject']).map(text)]),
    ...(published !== undefined ? { published } : {}),
    ...(updated !== undefined ? { updated } : {}),
    ...(fullContent !== undefined ? { content: fullContent } : {}),
    contentIsText: false,
    ...(content !== undefined && description !== undefined ? { summary: description } : {}),
  };
}

function atomLink(links: unknown[], base: string | undefined): string | undefined {
  const alternate = links.find((l) => (attr(l, 'rel') ?? 'alternate') === 'alternate' && attr(l, 'href'));
  const chosen = alternate ?? links.find((l) => attr(l, 'href'));
  return resolveLink(attr(chosen, 'href'), baseOf(chosen, base));
}

function atomEntry(entry: Node, feedBase: string | undefined): FeedItem {
  const content = atomText(entry.content);
  const summary = atomText(entry.summary);
  const guid = text(entry.id);
  const link = atomLink(list(entry.link), baseOf(entry, feedBase));
  const title = atomTitle(entry.title);
  const published = isoDate(text(entry.published) ?? text(entry.issued));
  const updated = isoDate(text(entry.updated) ?? text(entry.modified));
  const body = content ?? summary;
  return {
    ...(guid !== undefined ? { guid } : {}),
    ...(link !== undefined ? { link } : {}),
    ...(title !== undefined ? { title } : {}),
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
export function parseFeed(xml: string, options: ParseOptions = {}): ParsedFeed {
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
    const base = baseOf(channel, baseOf(rss, options.url));
    const title = rssTitle(channel.title);
    const link = resolveLink(text(list(channel.link).find((l) => typeof l === 'string')), base);
    return {
      format: 'rss',
      ...(title !== undefined ? { title } : {}),
      ...(link !== undefined ? { link } : {}),
      items: list(channel.item).filter(isNode).map((item) => rssItem(item, base)),
    };
  }
  const feed = doc.feed;
  if (feed !== undefined) {
    if (!isNode(feed)) throw new FeedFormatError('Atom <feed> element is empty');
    const base = baseOf(feed, options.url);
    const title = atomTitle(feed.title);
    const link = atomLink(list(feed.link), base);
    return {
      format: 'atom',
      ...(title !== undefined ? { title } : {}),
      ...(link !== undefined ? { link } : {}),
      items: list(feed.entry).filter(isNode).map((entry) => atomEntry(entry, base)),
    };
  }
  const rdf = doc['rdf:RDF'];
  if (isNode(rdf)) {
    const channel = list(rdf.channel)[0];
    const base = baseOf(rdf, options.url);
    const title = isNode(channel) ? rssTitle(channel.title) : undefined;
    const link = isNode(channel) ? resolveLink(text(channel.link), base) : undefined;
    return {
      format: 'rdf',
      ...(title !== undefined ? { title } : {}),
      ...(link !== undefined ? { link } : {}),
      items: list(rdf.item).filter(isNode).map((item) => rssItem(item, base)),
    };
  }
  const root = Object.keys(doc).find((k) => !k.startsWith('?') && !k.startsWith('@_') && k !== '#text');
  throw new FeedFormatError(`not an RSS or Atom feed: the root element is <${root ?? '?'}>, expected <rss> or <feed>`);
}

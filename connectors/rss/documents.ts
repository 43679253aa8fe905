// Feed items to documents: stable ids from guid/link, metadata from the item, and the hash that decides "unchanged".
import { normalizeText } from '../../processors/chunker/normalize.ts';
import { documentInputSchema, type ValidDocumentInput } from '../../streams/document-log.ts';
import { canonicalJson, sha256Hex } from '../../streams/ids.ts';
import type { FeedItem } from './parse.ts';

export interface FeedTarget {
  readonly url: string;
  readonly tenant: string;
  readonly source: string;
}

export interface ItemDocument {
  readonly doc: ValidDocumentInput;
  /**
   * Hash of what the index would see: title, link, metadata and the text after the chunker's normalisation. Markup
   * churn that changes no text (attribute order, tracking parameters in tags) does not make a new version.
   */
  readonly hash: string;
}

/** The source name a feed gets when none is given: medium, substack, or rss. */
export function defaultSource(feedUrl: string): string {
  let host = '';
  try {
    host = new URL(feedUrl).hostname.toLowerCase();
  } catch {
    return 'rss';
  }
  if (host === 'medium.com' || host.endsWith('.medium.com')) return 'medium';
  if (host === 'substack.com' || host.endsWith('.substack.com')) return 'substack';
  return 'rss';
}

/** The id an item's document gets: its guid (Atom id), else its link; undefined when it has neither. */
export function itemId(item: FeedItem): string | undefined {
  return item.guid ?? item.link;
}

/**
 * Maps one item. The document id is the item's guid (Atom id), else its link: both are meant to be permanent, and a
 * Medium or Substack guid survives edits of title and text. An item with neither cannot be tracked and is refused.
 * The text stays HTML (contentType text/html) so the log keeps what was published and the chunker sees its structure.
 */
export function itemDocument(item: FeedItem, target: FeedTarget, feedTitle?: string): ItemDocument {
  const id = itemId(item);
  if (id === undefined) throw new Error(`an item${item.title ? ` ("${item.title}")` : ''} has neither a guid/id nor a link, so it has no stable id`);
  const text = item.content ?? item.summary ?? item.title;
  if (text === undefined) throw new Error(`item ${id} has no content, description or title`);
  const contentType = item.contentIsText && item.content !== undefined ? 'text/plain' : 'text/html';
  const metadata = {
    feed: target.url,
    ...(feedTitle !== undefined ? { feedTitle } : {}),
    ...(item.authors[0] !== undefined ? { author: item.authors[0] } : {}),
    ...(item.authors.length > 1 ? { authors: [...item.authors] } : {}),
    tags: [...item.categories],
    ...(item.published !== undefined ? { published: item.published } : {}),
    ...(item.guid !== undefined ? { guid: item.guid } : {}),
  };
  const parsed = documentInputSchema.safeParse({
    id,
    source: target.source,
    text,
    contentType,
    metadata,
    ...(item.title !== undefined ? { title: item.title.slice(0, 2000) } : {}),
    ...(item.link !== undefined ? { url: item.link } : {}),
  });
  if (!parsed.success) {
    throw new Error(`item ${id} is not a valid document: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  const doc = parsed.data;
  const indexed = { title: doc.title, url: doc.url, metadata: doc.metadata, text: normalizeText(doc.text, doc.contentType).text };
  return { doc, hash: `sha256:${sha256Hex(canonicalJson(indexed))}` };
}

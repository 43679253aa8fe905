// Feed parsing and item mapping on Medium-, Substack- and Atom-shaped fixtures, and clear errors for what is not a feed.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { defaultSource, itemDocument } from './documents.ts';
import { FeedFormatError, parseFeed } from './parse.ts';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const target = { url: 'https://medium.com/feed/@ada', tenant: 'acme', source: 'medium' };

describe('parseFeed', () => {
  it('reads a Medium feed: guid (isPermaLink=false) as id, full content:encoded, dc:creator, categories, dates', () => {
    const feed = parseFeed(fixture('medium.xml'));
    expect(feed).toMatchObject({ format: 'rss', title: 'Stories by Ada Lovelace on Medium' });
    expect(feed.items).toHaveLength(2);
    const [first, second] = feed.items;
    expect(first).toMatchObject({
      guid: 'https://medium.com/p/4f1e2d3c5b6a',
      link: 'https://medium.com/@ada/event-sourcing-for-search-4f1e2d3c5b6a?source=rss-3f2a9c1b7d4e------2',
      title: 'Event sourcing for search: the log is the index',
      authors: ['Ada Lovelace'],
      categories: ['event-sourcing', 'search', 'nats'],
      published: '2026-11-23T08:00:00.000Z',
      updated: '2026-11-23T08:05:12.481Z',
      contentIsText: false,
    });
    expect(first?.content).toMatch(/^<h3>Event sourcing for search/);
    expect(first?.content).toContain('<li>Deterministic projections</li>');
    expect(second?.title).toBe('Hybrid retrieval with BM25 & vectors');
  });

  it('reads a Substack feed: content:encoded with description as summary, and an item with only a description', () => {
    const feed = parseFeed(fixture('substack.xml'));
    expect(feed.title).toBe('Streaming Notes');
    expect(feed.items.map((i) => i.guid)).toEqual([
      'https://streamingnotes.substack.com/p/why-we-replay-the-log',
      'https://streamingnotes.substack.com/p/dead-letters-are-data',
      'https://streamingnotes.substack.com/p/podcast-streams-at-scale',
    ]);
    expect(feed.items[0]).toMatchObject({ summary: 'Rebuilding an index without taking search down.', authors: ['Grace Hopper'] });
    expect(feed.items[0]?.content).toContain('<h2>Compare and set</h2>');
    expect(feed.items[2]).toMatchObject({ content: 'Episode 3, no full text in the feed.' });
  });

  it('reads Atom: id, alternate link, several authors, category terms, escaped html and xhtml content', () => {
    const feed = parseFeed(fixture('atom.xml'));
    expect(feed).toMatchObject({ format: 'atom', title: 'Engineering at Example', link: 'https://blog.example.org/' });
    const [html, xhtml] = feed.items;
    expect(html).toMatchObject({
      guid: 'tag:blog.example.org,2026:/backpressure',
      link: 'https://blog.example.org/2026/11/backpressure',
      title: 'Backpressure & pull consumers',
      authors: ['Barbara Liskov', 'Leslie Lamport'],
      categories: ['nats', 'streaming'],
      published: '2026-11-22T18:30:02.000Z',
      summary: 'Pull consumers let a worker take only what it can handle.',
      content: "<h2>Pull, don't push</h2><p>A worker fetches a batch, handles it &amp; acks. Nothing piles up in its memory.</p>",
    });
    expect(xhtml?.content).toBe('<div xmlns="http://www.w3.org/1999/xhtml"><p>Deduplicate on the way <em>in</em>, derive ids on the way out.</p></div>');
  });

  it('decodes titles once: escaped markup in an Atom text title or an RSS title stays escaped', () => {
    const atom = parseFeed(
      '<feed xmlns="http://www.w3.org/2005/Atom"><title type="text">A &amp;amp; B</title><entry><id>urn:x:1</id>' +
        '<title type="text">Use &amp;lt;b&amp;gt; tags</title><content type="text">x</content></entry></feed>',
    );
    expect(atom.title).toBe('A &amp; B');
    expect(atom.items[0]?.title).toBe('Use &lt;b&gt; tags');
    const rss = parseFeed(
      '<rss version="2.0"><channel><title>News &amp;amp; notes</title><item><guid>urn:x:2</guid>' +
        '<title>Use &amp;lt;b&amp;gt; tags &eacute;t&eacute;</title><description>x</description></item>' +
        '<item><guid>urn:x:3</guid><title><![CDATA[Fish & chips &amp;amp; more]]></title><description>x</description></item></channel></rss>',
    );
    expect(rss.title).toBe('News &amp; notes');
    // Inside CDATA, feeds escape titles as HTML once: that one escape is undone, no more.
    expect(rss.items.map((i) => i.title)).toEqual(['Use &lt;b&gt; tags été', 'Fish & chips &amp; more']);
  });

  it('resolves relative links against xml:base and the feed URL', () => {
    const rss = parseFeed(
      '<rss version="2.0"><channel><title>T</title><link>/</link><item><title>a</title><link>/relative/path</link></item>' +
        '<item><title>b</title><link>https://other.example/abs</link></item></channel></rss>',
      { url: 'https://blog.example.org/feeds/rss.xml' },
    );
    expect(rss.link).toBe('https://blog.example.org/');
    expect(rss.items.map((i) => i.link)).toEqual(['https://blog.example.org/relative/path', 'https://other.example/abs']);
    const atom = parseFeed(
      '<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://cdn.example.net/blog/"><title>T</title>' +
        '<entry><id>urn:x:1</id><title>a</title><link href="/rel/entry"/></entry>' +
        '<entry xml:base="posts/"><id>urn:x:2</id><title>b</title><link href="two.html"/></entry></feed>',
      { url: 'https://blog.example.org/atom.xml' },
    );
    expect(atom.items.map((i) => i.link)).toEqual(['https://cdn.example.net/rel/entry', 'https://cdn.example.net/blog/posts/two.html']);
    const noBase = parseFeed('<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>urn:x:1</id><title>a</title><link href="/rel/entry"/></entry></feed>', {
      url: 'https://blog.example.org/atom.xml',
    });
    expect(noBase.items[0]?.link).toBe('https://blog.example.org/rel/entry');
  });

  it('refuses malformed XML with line and column, an HTML page, other XML and an empty body', () => {
    expect(() => parseFeed(fixture('malformed.xml'))).toThrow(FeedFormatError);
    expect(() => parseFeed(fixture('malformed.xml'))).toThrow(/malformed XML at line \d+, column \d+/);
    expect(() => parseFeed(fixture('not-a-feed.html'))).toThrow(/not an RSS or Atom feed: the server sent an HTML page/);
    expect(() => parseFeed('<?xml version="1.0"?><sitemap><url/></sitemap>')).toThrow(/root element is <sitemap>/);
    expect(() => parseFeed('  ')).toThrow(/empty/);
  });
});

describe('itemDocument', () => {
  it('maps an item to an HTML document with a stable id and metadata', () => {
    const [item] = parseFeed(fixture('medium.xml')).items;
    const { doc, hash } = itemDocument(item!, target, 'Stories by Ada');
    expect(doc).toMatchObject({
      id: 'https://medium.com/p/4f1e2d3c5b6a',
      source: 'medium',
      title: 'Event sourcing for search: the log is the index',
      url: 'https://medium.com/@ada/event-sourcing-for-search-4f1e2d3c5b6a?source=rss-3f2a9c1b7d4e------2',
      contentType: 'text/html',
      metadata: {
        feed: target.url,
        feedTitle: 'Stories by Ada',
        author: 'Ada Lovelace',
        tags: ['event-sourcing', 'search', 'nats'],
        published: '2026-11-23T08:00:00.000Z',
        guid: 'https://medium.com/p/4f1e2d3c5b6a',
      },
    });
    expect(hash).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('hashes what the index sees: markup churn keeps the hash, a text edit changes it', () => {
    const [item] = parseFeed(fixture('medium.xml')).items;
    const base = itemDocument(item!, target).hash;
    const churn = { ...item!, content: item!.content!.replace('<strong>', '<strong class="x1">').replace('postId=4f1e', 'postId=4f1e&amp;t=9') };
    expect(itemDocument(churn, target).hash).toBe(base);
    const edited = { ...item!, content: item!.content!.replace('immutable event', 'immutable, versioned event') };
    expect(itemDocument(edited, target).hash).not.toBe(base);
  });

  it('falls back to the link for the id, and refuses an item with neither guid nor link', () => {
    const { guid: _guid, ...noGuid } = parseFeed(fixture('medium.xml')).items[0]!;
    expect(itemDocument(noGuid, target).doc.id).toMatch(/^https:\/\/medium\.com\/@ada\/event-sourcing/);
    const { link: _link, ...neither } = noGuid;
    expect(() => itemDocument(neither, target)).toThrow(/neither a guid\/id nor a link/);
  });

  it('names the source after the host', () => {
    expect(defaultSource('https://medium.com/feed/@ada')).toBe('medium');
    expect(defaultSource('https://streamingnotes.substack.com/feed')).toBe('substack');
    expect(defaultSource('https://blog.example.org/atom.xml')).toBe('rss');
  });
});

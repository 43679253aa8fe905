// Normalisation of real-looking HTML, Markdown and plain text into clean text with blocks and heading paths.
import { describe, expect, it } from 'vitest';
import { decodeEntities } from './entities.ts';
import { normalizeText, sniffContentType, type NormalizedText } from './normalize.ts';
import { generator, htmlDocument, markdownDocument, plainDocument } from './test-documents.ts';

function blocksOf(n: NormalizedText) {
  return n.blocks.map((b) => ({ kind: b.kind, text: n.text.slice(b.start, b.end), path: b.headingPath.join(' > ') }));
}

const BLOG_POST = `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Streaming RAG &mdash; My Blog</title>
  <link rel="stylesheet" href="/style.css">
  <style>body { font-family: serif; } .x > p { color: red; }</style>
  <script>window.dataLayer = []; if (a < b && c > d) { document.write("<p>tracking</p>"); }</script>
</head>
<body>
  <nav class="top"><ul><li><a href="/">Home</a></li><li><a href="/about">About</a></li></ul></nav>
  <!-- main content starts here <p>not this</p> -->
  <article>
    <h1>Streaming RAG &amp; event sourcing</h1>
    <p class="lede">Every document change is an <em>event</em>&nbsp;&mdash; chunks,
       embeddings and   queries too. It&rsquo;s &ldquo;the log&rdquo;&hellip; &copy; 2026 Acme&trade;</p>
    <h2>Install</h2>
    <h3>Linux</h3>
    <p>Download the binary:<br>then run it.</p>
    <ul>
      <li>Start NATS
        <ul><li>with <code>-js</code></li><li>on port 4222</li></ul>
      </li>
      <li><p>Publish a document</p></li>
    </ul>
    <ol start="3"><li>Third</li><li>Fourth</li></ol>
    <table>
      <thead><tr><th>Store</th><th>Latency</th></tr></thead>
      <tbody><tr><td><div>sqlite</div></td><td>2.4&#160;ms</td></tr><tr><td>qdrant</td><td>&#x31;&#48; ms</td></tr></tbody>
    </table>
    <pre><code class="language-sh">nats-server -js \\
    --store_dir /tmp/nats   # keep   spacing
&lt;done&gt;</code></pre>
    <h2>Why it works</h2>
    <blockquote><p>The log is the truth.</p><p>Stores are caches.</p></blockquote>
    <p><img src="diagram.png" alt="Architecture diagram"> See <a href="/x">the diagram</a>.</p>
    <svg width="10" height="10"><text>svg label</text><circle r="4"/></svg>
    <template><p>template text</p></template>
    <noscript>Enable JavaScript</noscript>
  </article>
  <script src="/analytics.js"></script>
</body>
</html>`;

describe('HTML normalisation', () => {
  const n = normalizeText(BLOG_POST, 'text/html');

  it('keeps the article text with its structure and heading paths', () => {
    expect(blocksOf(n)).toEqual([
      { kind: 'heading', text: 'Streaming RAG & event sourcing', path: 'Streaming RAG & event sourcing' },
      {
        kind: 'paragraph',
        text: 'Every document change is an event — chunks, embeddings and queries too. It’s “the log”… © 2026 Acme™',
        path: 'Streaming RAG & event sourcing',
      },
      { kind: 'heading', text: 'Install', path: 'Streaming RAG & event sourcing > Install' },
      { kind: 'heading', text: 'Linux', path: 'Streaming RAG & event sourcing > Install > Linux' },
      { kind: 'paragraph', text: 'Download the binary:\nthen run it.', path: 'Streaming RAG & event sourcing > Install > Linux' },
      { kind: 'list', text: '- Start NATS\n  - with -js\n  - on port 4222\n- Publish a document', path: 'Streaming RAG & event sourcing > Install > Linux' },
      { kind: 'list', text: '3. Third\n4. Fourth', path: 'Streaming RAG & event sourcing > Install > Linux' },
      { kind: 'table', text: 'Store | Latency\nsqlite | 2.4 ms\nqdrant | 10 ms', path: 'Streaming RAG & event sourcing > Install > Linux' },
      {
        kind: 'code',
        text: 'nats-server -js \\\n    --store_dir /tmp/nats   # keep   spacing\n<done>',
        path: 'Streaming RAG & event sourcing > Install > Linux',
      },
      { kind: 'heading', text: 'Why it works', path: 'Streaming RAG & event sourcing > Why it works' },
      { kind: 'quote', text: 'The log is the truth.\nStores are caches.', path: 'Streaming RAG & event sourcing > Why it works' },
      { kind: 'paragraph', text: 'Architecture diagram See the diagram.', path: 'Streaming RAG & event sourcing > Why it works' },
    ]);
  });

  it('drops head, scripts, styles, navigation, comments, svg, templates and noscript', () => {
    for (const noise of ['My Blog', 'font-family', 'dataLayer', 'tracking', 'Home', 'About', 'not this', 'svg label', 'template text', 'Enable JavaScript', 'analytics']) {
      expect(n.text).not.toContain(noise);
    }
  });

  it('separates blocks with one blank line and leaves no markup behind', () => {
    expect(n.text).not.toMatch(/<\/?(?:p|li|ul|ol|code|div|td|tr|th|h\d|a|em|img|br|pre|table)\b/i);
    expect(n.text).not.toMatch(/\n{3,}/);
    expect(n.text).not.toMatch(/&(?:amp|nbsp|mdash|#\d+);/);
  });

  it('never throws on malformed HTML and keeps the text of unclosed elements', () => {
    const cases = [
      '<p>unclosed <b>bold <i>italic',
      '<div><p>a</div></p>b</span></ul>',
      '<nav>menu never closed <p>real content</p>',
      '<svg><p>inside unclosed svg</p>',
      '<a href="x>y">link text</a> tail',
      '<img alt="unterminated',
      '<!-- unclosed comment <p>gone</p>',
      '< p>not a tag</p> 3 < 4 > 2 <<>> </>',
      '<script>never closed',
      '<table><tr><td>cell<td>cell2<tr><td>row2</table>',
      '<h2>heading<p>paragraph without closing the heading',
      '<pre>unclosed pre\n  indented',
      '&#0; &#xD800; &#99999999; &#x110000; &unknown; &amp &copy2024',
      '</ul></li></table></pre></h1>',
    ];
    const outputs = cases.map((html) => normalizeText(html, 'text/html').text);
    expect(outputs).toEqual([
      'unclosed bold italic',
      'a\n\nb',
      'menu never closed\n\nreal content',
      'inside unclosed svg',
      'link text tail',
      '',
      '',
      '< p>not a tag\n\n3 < 4 > 2 <<>> </>',
      '',
      'cell | cell2\nrow2',
      'heading paragraph without closing the heading',
      'unclosed pre\n  indented',
      '\uFFFD \uFFFD \uFFFD \uFFFD &unknown; & &copy2024',
      '',
    ]);
  });

  it('survives random tag soup', () => {
    const g = generator(99);
    const pieces = ['<p>', '</p>', '<div', '>', '<', '</', '"', "'", '=', '&', '&amp;', '&#', ';', '<!--', '-->', '<pre>', '</pre>', '<li>', '<table>', '<td>', '<h3>', '<script>', '</script>', '<svg>', 'text', ' ', '\n', 'é', '🙂'];
    for (let round = 0; round < 300; round++) {
      const html = Array.from({ length: g.int(1, 60) }, () => g.pick(pieces)).join('');
      const n = normalizeText(html, 'text/html');
      for (const b of n.blocks) expect(n.text.slice(b.start, b.end).trim()).not.toBe('');
    }
  });
});

const MARKDOWN = `---
title: Getting started
tags: [nats]
---
# Install

Spanda needs **NATS** and _Node 20_. See the [docs](https://example.com/docs "Docs") or ![the logo](logo.png).
Escaped \\*stars\\*, \`inline *code*\`, snake_case_name, 2*3 = 6 and ~~old~~ text.
<!-- a hidden
note -->
## Linux

1. Download
2. Run:
   - \`nats-server -js\`
   - [x] done

\`\`\`bash
nats-server -js   --port 4222
  echo "indented"
\`\`\`

| Store | Latency |
|-------|--------:|
| sqlite | 2.4 ms |
| **qdrant** | 10 ms |

> The log is the truth.
> Stores are caches.

## macOS
Use [Homebrew][brew] or <https://nats.io>.

[brew]: https://brew.sh
`;

describe('Markdown normalisation', () => {
  const n = normalizeText(MARKDOWN, 'text/markdown');

  it('keeps the words, drops the syntax, and records heading paths', () => {
    expect(blocksOf(n)).toEqual([
      { kind: 'heading', text: 'Install', path: 'Install' },
      {
        kind: 'paragraph',
        text: 'Spanda needs NATS and Node 20. See the docs or the logo. Escaped *stars*, inline *code*, snake_case_name, 2*3 = 6 and old text.',
        path: 'Install',
      },
      { kind: 'heading', text: 'Linux', path: 'Install > Linux' },
      { kind: 'list', text: '1. Download\n2. Run:\n  - nats-server -js\n  - [x] done', path: 'Install > Linux' },
      { kind: 'code', text: 'nats-server -js   --port 4222\n  echo "indented"', path: 'Install > Linux' },
      { kind: 'table', text: 'Store | Latency\nsqlite | 2.4 ms\nqdrant | 10 ms', path: 'Install > Linux' },
      { kind: 'quote', text: 'The log is the truth. Stores are caches.', path: 'Install > Linux' },
      { kind: 'heading', text: 'macOS', path: 'Install > macOS' },
      { kind: 'paragraph', text: 'Use Homebrew or https://nats.io.', path: 'Install > macOS' },
    ]);
  });

  it('handles setext headings, indented code, unclosed fences and heading levels that skip', () => {
    const text = 'Title\n=====\n\nIntro.\n\n    indented code\n\n#### Deep\n\nBody.\n\n## Sub\n\n```\nnever closed\n  still code';
    expect(blocksOf(normalizeText(text, 'text/markdown'))).toEqual([
      { kind: 'heading', text: 'Title', path: 'Title' },
      { kind: 'paragraph', text: 'Intro.', path: 'Title' },
      { kind: 'code', text: 'indented code', path: 'Title' },
      { kind: 'heading', text: 'Deep', path: 'Title > Deep' },
      { kind: 'paragraph', text: 'Body.', path: 'Title > Deep' },
      { kind: 'heading', text: 'Sub', path: 'Title > Sub' },
      { kind: 'code', text: 'never closed\n  still code', path: 'Title > Sub' },
    ]);
  });

  // A quadratic scan of this input would run into the test timeout; a bounded one takes milliseconds.
  it('keeps unmatched brackets, delimiters and backticks as literal text', () => {
    const nasty = '['.repeat(20_000) + '*a '.repeat(20_000) + '`'.repeat(3) + '_x'.repeat(20_000);
    expect(normalizeText(nasty, 'text/markdown').text).toBe(nasty.trimEnd());
  });
});

describe('plain text normalisation', () => {
  it('applies NFC, LF line ends, collapsed spacing and no control characters', () => {
    const text = '  Cafe\u0301\tau   lait \r\nline two\u0007  \r\n\r\n\r\n\r\n\u200Bnext\u00A0para\fgraph  \n';
    const n = normalizeText(text, 'text/plain');
    expect(n.text).toBe('Café au lait\nline two\n\nnext paragraph');
    expect(blocksOf(n).map((b) => b.kind)).toEqual(['paragraph', 'paragraph']);
  });

  it('is idempotent', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const once = normalizeText(plainDocument(seed), 'text/plain').text;
      expect(normalizeText(once, 'text/plain').text).toBe(once);
    }
  });

  it('gives no blocks for empty or whitespace-only text', () => {
    for (const text of ['', '   ', '\n\n\t\r\n', '\u200B\u00A0']) expect(normalizeText(text)).toEqual({ text: '', blocks: [] });
  });
});

describe('blocks over generated documents', () => {
  it('are ordered, trimmed, non-empty slices separated by blank lines, covering all the text', () => {
    const docs = [1, 2, 3, 4, 5].flatMap((seed) => [
      normalizeText(markdownDocument(seed), 'text/markdown'),
      normalizeText(htmlDocument(seed), 'text/html'),
      normalizeText(plainDocument(seed), 'text/plain'),
    ]);
    for (const n of docs) {
      let cursor = 0;
      for (const block of n.blocks) {
        expect(n.text.slice(cursor, block.start)).toBe(cursor === 0 ? '' : '\n\n');
        const text = n.text.slice(block.start, block.end);
        expect(text).toBe(text.trim());
        expect(text).not.toBe('');
        cursor = block.end;
      }
      expect(cursor).toBe(n.text.length);
      expect(n.text).toBe(n.text.normalize('NFC'));
      expect(n.text).not.toMatch(/[\x00-\x08\x0B-\x1F\x7F\r]/);
    }
  });
});

describe('content type sniffing', () => {
  it('recognises each format from its own signals', () => {
    expect(sniffContentType(BLOG_POST)).toBe('text/html');
    expect(sniffContentType('<p>One</p><p>Two</p>')).toBe('text/html');
    expect(sniffContentType(MARKDOWN)).toBe('text/markdown');
    expect(sniffContentType('Intro\n\n- one\n- two\n')).toBe('text/markdown');
    expect(sniffContentType('See [the docs](https://x.y) for more.')).toBe('text/markdown');
    expect(sniffContentType('# Title\n\n```html\n<div><p>example</p></div>\n```\n')).toBe('text/markdown');
    expect(sniffContentType('Just a note. 3 < 4 and #1 priority - really.')).toBe('text/plain');
    expect(sniffContentType('Line with <br> only.')).toBe('text/plain');
  });

  it('is used when no content type is declared', () => {
    expect(normalizeText('<p>Hello <b>world</b></p><p>Bye</p>').text).toBe('Hello world\n\nBye');
    expect(normalizeText('# Hi\n\nSome *text*.').blocks.map((b) => b.headingPath.join(' > '))).toEqual(['Hi', 'Hi']);
  });
});

describe('entities', () => {
  it('decodes named, decimal, hex and Windows-1252 references and leaves unknown ones', () => {
    expect(decodeEntities('&lt;a&gt; &quot;q&quot; &apos;s&apos; &lsquo;x&rsquo; &ldquo;y&rdquo; &ndash;&mdash;&hellip; &reg;&trade;&copy;')).toBe(
      '<a> "q" \'s\' ‘x’ “y” –—… ®™©',
    );
    expect(decodeEntities('&eacute;&Uuml;&szlig; &#233;&#xE9;&#X1F600; &#151; &bogus; & &;')).toBe('éÜß éé😀 — &bogus; & &;');
  });
});

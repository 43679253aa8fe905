// Seeded generators of realistic and awkward documents (Markdown, HTML, plain) for the chunker's tests and benchmark.
import { prng } from '../../lib/prng.ts';

/** A deterministic PRNG: the same seed always generates the same document. */
export const random = prng;

const WORDS = (
  'the a of stream event log chunk vector index query answer retrieval document projection replay tenant source ' +
  'embedding model latency throughput sequence durable consumer subject header payload schema upcaster version ' +
  'naïve café résumé über straße Ελληνικά русский e.g. i.e. Dr. vs. U.S. 3.14 v2.1.0 snake_case_name x86_64 ' +
  'https://example.com/a/b?c=d&e=f (parenthesised) "quoted" it’s don’t — – … 🙂 👩‍💻'
).split(' ');

export interface Generator {
  readonly next: () => number;
  int(min: number, max: number): number;
  pick<T>(items: readonly T[]): T;
}

export function generator(seed: number): Generator {
  const next = random(seed);
  return {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    pick: (items) => items[Math.floor(next() * items.length)] as (typeof items)[number],
  };
}

export function sentence(g: Generator, words = g.int(3, 30)): string {
  const parts: string[] = [];
  for (let i = 0; i < words; i++) parts.push(g.pick(WORDS));
  const text = parts.join(' ');
  return text.charAt(0).toUpperCase() + text.slice(1) + g.pick(['.', '.', '.', '!', '?', '."', '.)']);
}

export function paragraph(g: Generator): string {
  const roll = g.next();
  // Mostly ordinary prose, sometimes a paragraph far bigger than a chunk, a sentence that never ends, or a token
  // with no spaces at all (base64, a minified line, unspaced CJK).
  if (roll < 0.05) return Array.from({ length: g.int(30, 80) }, () => sentence(g)).join(' ');
  if (roll < 0.08) return Array.from({ length: g.int(150, 400) }, () => g.pick(WORDS)).join(' ');
  if (roll < 0.1) return 'data:' + 'QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0MTIz+/'.repeat(g.int(10, 80));
  if (roll < 0.12) return '流式处理把每一次变更都记录为事件。'.repeat(g.int(5, 90));
  return Array.from({ length: g.int(1, 8) }, () => sentence(g)).join(' ');
}

/** A Markdown document with nested headings, prose, lists, code, tables and quotes. */
export function markdownDocument(seed: number, blocks = 40): string {
  const g = generator(seed);
  const out: string[] = [];
  for (let i = 0; i < blocks; i++) {
    const roll = g.next();
    if (roll < 0.15) out.push(`${'#'.repeat(g.int(1, 4))} ${sentence(g, g.int(1, 5)).replace(/[.!?"')]+$/, '')}`);
    else if (roll < 0.25) out.push(Array.from({ length: g.int(1, 12) }, () => `${g.pick(['-', '*', '1.', '  -'])} ${sentence(g, g.int(2, 15))}`).join('\n'));
    else if (roll < 0.3) out.push('```ts\n' + Array.from({ length: g.int(1, 40) }, (_, k) => `${'  '.repeat(k % 3)}const x${k} = ${k} * 2; // ${g.pick(WORDS)}`).join('\n') + '\n```');
    else if (roll < 0.34) out.push('| a | b |\n|---|---|\n' + Array.from({ length: g.int(1, 20) }, () => `| ${g.pick(WORDS)} | ${sentence(g, 3)} |`).join('\n'));
    else if (roll < 0.37) out.push('> ' + sentence(g) + '\n> ' + sentence(g));
    else out.push(paragraph(g).replace(/\b(stream|chunk)\b/, '**$1**').replace(/\b(log)\b/, '[$1](https://example.com/log)'));
  }
  return out.join('\n\n') + '\n';
}

/** An HTML page: head, nav, scripts and a body of headings, paragraphs, lists, tables and pre blocks. */
export function htmlDocument(seed: number, blocks = 40): string {
  const g = generator(seed);
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const body: string[] = [];
  for (let i = 0; i < blocks; i++) {
    const roll = g.next();
    if (roll < 0.15) {
      const level = g.int(1, 4);
      body.push(`<h${level}>${esc(sentence(g, g.int(1, 5)))}</h${level}>`);
    } else if (roll < 0.25) body.push(`<ul>${Array.from({ length: g.int(1, 10) }, () => `<li>${esc(sentence(g, g.int(2, 12)))}</li>`).join('')}</ul>`);
    else if (roll < 0.3) body.push(`<pre><code>${esc(Array.from({ length: g.int(1, 30) }, (_, k) => `  line ${k} = ${g.pick(WORDS)};`).join('\n'))}</code></pre>`);
    else if (roll < 0.34) body.push(`<table>${Array.from({ length: g.int(1, 12) }, () => `<tr><td>${esc(g.pick(WORDS))}</td><td>${esc(sentence(g, 3))}</td></tr>`).join('')}</table>`);
    else body.push(`<p>${esc(paragraph(g))}</p>`);
  }
  return `<!doctype html><html><head><title>Generated</title><script>var a = "<p>no</p>";</script></head><body><nav><a href="/">Home</a></nav>${body.join('\n')}</body></html>`;
}

/** Plain text: paragraphs separated by blank lines, with irregular spacing and CRLF line ends. */
export function plainDocument(seed: number, blocks = 40): string {
  const g = generator(seed);
  return Array.from({ length: blocks }, () => paragraph(g).replace(/ /g, () => (g.next() < 0.05 ? ' \t  ' : ' '))).join(g.pick(['\n\n', '\r\n\r\n', '\n\n\n\n']));
}

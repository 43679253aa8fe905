// Splitting a streamed NDJSON body into numbered lines: chunk boundaries anywhere, CRLF, blank lines, oversized and non-UTF-8 lines.
import { describe, expect, it } from 'vitest';
import { ndjsonLines, type NdjsonLine } from './ndjson.ts';

function streamOf(chunks: ReadonlyArray<string | Uint8Array>): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const c of chunks) controller.enqueue(typeof c === 'string' ? encoder.encode(c) : c);
      controller.close();
    },
  });
}

async function collect(body: ReadableStream<Uint8Array>, max = 1024): Promise<NdjsonLine[]> {
  const out: NdjsonLine[] = [];
  for await (const line of ndjsonLines(body, max)) out.push(line);
  return out;
}

describe('ndjsonLines', () => {
  it('numbers lines across chunk boundaries, drops CR and skips blank lines (still counting them)', async () => {
    const lines = await collect(streamOf(['{"a"', ':1}\r\n\n  \n{"b":', '2}\n{"c":3}']));
    expect(lines).toEqual([
      { line: 1, text: '{"a":1}' },
      { line: 4, text: '{"b":2}' },
      { line: 5, text: '{"c":3}' },
    ]);
  });

  it('splits a multi-byte character across chunks correctly', async () => {
    const bytes = new TextEncoder().encode('{"t":"é"}\n');
    expect(await collect(streamOf([bytes.slice(0, 7), bytes.slice(7)]))).toEqual([{ line: 1, text: '{"t":"é"}' }]);
  });

  it('reports an oversized line without keeping it, and reads the next one', async () => {
    const big = 'x'.repeat(50);
    const lines = await collect(streamOf([`{"ok":1}\n${big.slice(0, 20)}`, `${big.slice(20)}\n{"ok":2}\n`]), 30);
    expect(lines).toEqual([
      { line: 1, text: '{"ok":1}' },
      { line: 2, error: 'too-large', bytes: 50 },
      { line: 3, text: '{"ok":2}' },
    ]);
  });

  it('reports bytes that are not UTF-8', async () => {
    const lines = await collect(streamOf([new Uint8Array([0xff, 0xfe, 0x0a]), '{"ok":1}\n']));
    expect(lines).toEqual([{ line: 1, error: 'not-utf8', bytes: 2 }, { line: 2, text: '{"ok":1}' }]);
  });

  it('stops reading the body when the consumer stops', async () => {
    let pulls = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulls += 1;
        controller.enqueue(new TextEncoder().encode(`{"n":${pulls}}\n`));
      },
    });
    for await (const line of ndjsonLines(body, 1024)) if (line.line === 3) break;
    expect(pulls).toBeLessThan(10);
  });
});

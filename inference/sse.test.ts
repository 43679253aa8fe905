// The SSE parser follows the WHATWG rules: split chunks, CRLF, comments, multi-line data, unterminated last event dropped.
import { describe, expect, it } from 'vitest';
import { parseSse } from './sse.ts';

async function parse(...chunks: string[]) {
  async function* source() {
    for (const c of chunks) yield new TextEncoder().encode(c);
  }
  const out = [];
  for await (const e of parseSse(source())) out.push(e);
  return out;
}

describe('parseSse', () => {
  it('handles events split across chunks, CRLF, comments and multi-line data', async () => {
    const events = await parse('\uFEFF: hello\r\nevent: tok', 'en\r\ndata: a\r\ndata:b\r', '\n\r\ndata: [DONE]\n\n', 'data: partial');
    expect(events).toEqual([
      { event: 'token', data: 'a\nb' },
      { event: 'message', data: '[DONE]' },
    ]);
  });
});

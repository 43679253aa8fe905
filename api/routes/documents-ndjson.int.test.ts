// POST /v1/documents with NDJSON against a real nats-server: one result per line, bad lines do not stop the rest, results stream.
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../lib/log.ts';
import { currentVersion } from '../../streams/document-log.ts';
import { startTestNats, type TestNats } from '../../test/helpers/nats.ts';
import { createApp } from '../app.ts';
import type { ApiDeps } from '../deps.ts';
import { NDJSON_CONTENT_TYPE, publishNdjson } from './documents-ndjson.ts';

let nats: TestNats;
let app: Hono;
beforeAll(async () => {
  nats = await startTestNats();
  app = new Hono();
  app.post('/v1/documents', (c) => publishNdjson(c, { nats: nats.handle, maxBodyBytes: 2048, logger: silentLogger }, 'acme'));
});
afterAll(async () => {
  await nats?.stop();
});

type ResultLine = { line: number; id?: string; source?: string; seq?: number; duplicate?: boolean; error?: { status: number; type: string; detail: string } };

const parseLines = (text: string) =>
  text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as ResultLine);

describe('POST /v1/documents (application/x-ndjson)', () => {
  it('answers one result line per input line; invalid, oversized and duplicate lines are reported and the rest published', async () => {
    const body = [
      JSON.stringify({ id: 'n1', source: 'feed', text: 'first' }),
      'not json',
      JSON.stringify({ id: 'n2', text: 42 }),
      '',
      JSON.stringify({ id: 'n3', text: 'x'.repeat(4000) }),
      JSON.stringify({ id: 'n1', source: 'feed', text: 'first, edited' }),
      JSON.stringify({ id: 'n1', source: 'feed', text: 'first, edited' }),
      '[1,2]',
      JSON.stringify({ id: 'n4', text: 'last line, no newline' }),
    ].join('\n');
    const response = await app.request('/v1/documents', { method: 'POST', body, headers: { 'content-type': NDJSON_CONTENT_TYPE } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe(NDJSON_CONTENT_TYPE);
    const results = parseLines(await response.text());
    expect(results.map((r) => r.line)).toEqual([1, 2, 3, 5, 6, 7, 8, 9]);
    const [first, notJson, badText, tooLarge, edited, again, array, last] = results;
    expect(first).toMatchObject({ id: 'n1', source: 'feed', seq: expect.any(Number) });
    expect(notJson?.error).toMatchObject({ status: 400, type: 'urn:spanda:problem:validation', detail: expect.stringMatching(/not valid JSON/) });
    expect(badText?.error).toMatchObject({ status: 400, detail: expect.stringMatching(/text/) });
    expect(tooLarge?.error).toMatchObject({ status: 413, detail: expect.stringMatching(/line 5 is \d+ bytes, over the 2048-byte limit/) });
    expect(edited?.seq).toBeGreaterThan(first?.seq ?? Infinity);
    expect(again).toMatchObject({ seq: edited?.seq, duplicate: true });
    expect(array?.error?.detail).toMatch(/one document object/);
    expect(last).toMatchObject({ id: 'n4', source: 'api' });
    // Versions of one document were stored in input order: the edit is the current version.
    expect((await currentVersion(nats.handle, { tenant: 'acme', source: 'feed', id: 'n1' }))?.seq).toBe(edited?.seq);
  });

  it('streams: a result comes back before the rest of the upload has been sent', async () => {
    const encoder = new TextEncoder();
    let send!: ReadableStreamDefaultController<Uint8Array>;
    const upload = new ReadableStream<Uint8Array>({ start: (c) => void (send = c) });
    send.enqueue(encoder.encode(`${JSON.stringify({ id: 's1', text: 'one' })}\n`));
    const response = await app.request('/v1/documents', {
      method: 'POST',
      body: upload,
      headers: { 'content-type': NDJSON_CONTENT_TYPE },
      duplex: 'half',
    } as RequestInit);
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    const firstChunk = await reader.read();
    expect(JSON.parse(String(firstChunk.value).trim())).toMatchObject({ line: 1, id: 's1' });
    send.enqueue(encoder.encode(`${JSON.stringify({ id: 's2', text: 'two' })}\n`));
    send.close();
    let rest = '';
    for (let r = await reader.read(); !r.done; r = await reader.read()) rest += r.value;
    expect(parseLines(rest)).toEqual([expect.objectContaining({ line: 2, id: 's2' })]);
  });

  it('answers an empty body with an empty stream', async () => {
    const response = await app.request('/v1/documents', { method: 'POST', body: '', headers: { 'content-type': NDJSON_CONTENT_TYPE } });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('');
  });

  it('through the app: the whole-body limit does not apply to NDJSON (each line is limited instead), and still applies to JSON', async () => {
    // POST /v1/documents reads nothing from the serving side; the app is built without one.
    const deps = { nats: nats.handle, maxBodyBytes: 1024, logger: silentLogger, recordQueries: false, serving: undefined } as unknown as ApiDeps;
    const api = createApp(deps);
    const lines = Array.from({ length: 40 }, (_, i) => JSON.stringify({ id: `big-${i}`, text: `document ${i} `.repeat(5) }));
    const body = `${lines.join('\n')}\n${JSON.stringify({ id: 'too-big', text: 'x'.repeat(2000) })}\n`;
    expect(body.length).toBeGreaterThan(4 * 1024);
    const response = await api.request('/v1/documents', {
      method: 'POST',
      body,
      headers: { 'content-type': NDJSON_CONTENT_TYPE, 'content-length': String(Buffer.byteLength(body)) },
    });
    expect(response.status).toBe(200);
    const results = parseLines(await response.text());
    expect(results).toHaveLength(41);
    expect(results.slice(0, 40).every((r) => typeof r.seq === 'number')).toBe(true);
    expect(results[40]?.error).toMatchObject({ status: 413 });

    const json = await api.request('/v1/documents', {
      method: 'POST',
      body: JSON.stringify({ documents: lines.map((l) => JSON.parse(l) as unknown) }),
      headers: { 'content-type': 'application/json' },
    });
    expect(json.status).toBe(413);
  });
});

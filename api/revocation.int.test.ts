// Revoking an API key in the KV bucket while a streamed NDJSON upload runs ends the upload at once: nothing after is published.
import http from 'node:http';
import { Kvm } from '@nats-io/kv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STREAMS } from '../streams/provision.ts';
import { startTestSystem, type TestSystem } from '../test/helpers/system.ts';
import { sha256 } from './auth.ts';
import { REAUTHORIZE_EVERY_MS } from './routes/documents-ndjson.ts';

const KEY = 'uploader-0123456789abcdef0123456789';
const BUCKET = 'revocation-test-keys';
let node: TestSystem;

beforeAll(async () => {
  node = await startTestSystem({ SPANDA_API_KEYS_BUCKET: BUCKET });
  const kv = await new Kvm(node.system.nats.js).open(BUCKET);
  await kv.put(sha256(KEY).toString('hex'), JSON.stringify({ tenant: 'acme', scopes: ['publish'] }));
});
afterAll(async () => {
  await node?.destroy();
});

/** Streams one document line every `everyMs` until the response ends; resolves with the result lines. */
function slowUpload(url: string, everyMs: number, maxLines: number): Promise<Array<Record<string, unknown>>> {
  return new Promise((resolve, reject) => {
    let text = '';
    let ended = false;
    const req = http.request(
      `${url}/v1/documents`,
      { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/x-ndjson', 'transfer-encoding': 'chunked' } },
      (res) => {
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => {
          ended = true;
          req.destroy();
          resolve(text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>));
        });
      },
    );
    req.on('error', (err) => (ended ? undefined : reject(err)));
    void (async () => {
      for (let i = 0; i < maxLines && !ended; i++) {
        req.write(`${JSON.stringify({ id: `line-${i}`, source: 'upload', text: `document number ${i}` })}\n`);
        await new Promise((r) => setTimeout(r, everyMs));
      }
      if (!ended) req.end();
    })();
  });
}

describe('a key revoked during a streamed upload', () => {
  it('stops the upload with a 401 line naming the revocation, and publishes nothing after it', async () => {
    const kv = await new Kvm(node.system.nats.js).open(BUCKET);
    const upload = slowUpload(node.system.apiUrl, 100, 200);
    await new Promise((r) => setTimeout(r, 1_500));
    await kv.delete(sha256(KEY).toString('hex'));
    const revokedAt = Date.now();
    const results = await upload;
    // The upload ends within the re-check interval (plus a line), long before its 200 lines (20 s) were sent.
    expect(Date.now() - revokedAt).toBeLessThan(REAUTHORIZE_EVERY_MS + 1_500);
    const last = results.at(-1) as { line: number; error: { status: number; detail: string } };
    expect(last.error).toMatchObject({ status: 401 });
    expect(last.error.detail).toMatch(/API key was revoked .* line \d+ and the lines after it were not published/);
    const published = results.filter((r) => typeof r.seq === 'number');
    expect(published.length).toBeGreaterThan(5);
    expect(published.length).toBe(results.length - 1);
    // The log holds exactly the lines answered with a seq.
    const stored = (await node.system.nats.jsm.streams.info(STREAMS.DOCUMENTS, { subjects_filter: 'docs.acme.upload.>' })).state.num_subjects;
    expect(stored).toBe(published.length);
    // And the key no longer opens a new request.
    const again = await fetch(`${node.system.apiUrl}/v1/documents`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'after', text: 'x' }),
    });
    expect(again.status).toBe(401);
  });
});

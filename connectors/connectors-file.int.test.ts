// Following the connectors file on a real nats-server with local feeds: an added entry starts, a removed one stops, an unchanged one keeps running, a bad edit changes nothing.
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../lib/log.ts';
import { startTestNats, tempDir, type TestNats } from '../test/helpers/nats.ts';
import { followConnectorsFile } from './connectors-file.ts';

let nats: TestNats;
let server: Server;
let base = '';
const feed = readFileSync(new URL('./rss/fixtures/medium.xml', import.meta.url));

beforeAll(async () => {
  nats = await startTestNats();
  server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/rss+xml' }).end(feed));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server?.close();
  await nats?.stop();
});

describe('followConnectorsFile', () => {
  it('starts added entries, stops removed ones, keeps the rest, and ignores an edit it cannot apply', async () => {
    const file = path.join(await tempDir('spanda-connectors-file-'), 'connectors.json');
    const entry = (name: string) => ({ kind: 'rss', feeds: [`${base}/${name}`], every: '1h', tenant: name });
    await writeFile(file, JSON.stringify([entry('a')]));
    const followed = await followConnectorsFile(file, nats.handle, silentLogger, { pollMs: 50 });
    try {
      const names = () => followed.set.status().map((s) => `${s.name}:${s.state}`);
      expect(names()).toEqual(['rss:running']);
      await expect.poll(() => followed.set.status()[0]?.published, { timeout: 10_000 }).toBe(2);

      // Added: the watcher notices, the new entry starts as rss-2; the first is the same run (its count is kept).
      await writeFile(file, JSON.stringify([entry('a'), entry('b')], null, 1));
      await expect.poll(names, { timeout: 10_000 }).toEqual(['rss:running', 'rss-2:running']);
      expect(followed.set.status()[0]).toMatchObject({ name: 'rss', published: 2, details: { restarts: 0 } });

      // An edit that does not parse, then one that does not validate: nothing changes.
      await writeFile(file, '[{"kind": "rss", "feeds": [');
      await followed.reload();
      await writeFile(file, JSON.stringify([{ kind: 'rss', feeds: ['not a url'] }]));
      await followed.reload();
      expect(names()).toEqual(['rss:running', 'rss-2:running']);

      // Removed: it stops; the other keeps its name and its run.
      await writeFile(file, JSON.stringify([entry('b')]));
      await expect.poll(names, { timeout: 10_000 }).toEqual(['rss-2:running']);
      // A new entry takes the first free name again.
      await writeFile(file, JSON.stringify([entry('b'), entry('c')]));
      await expect.poll(names, { timeout: 10_000 }).toEqual(['rss-2:running', 'rss:running']);
    } finally {
      await followed.stop();
    }
    expect(followed.set.status()).toEqual([]);
  }, 60_000);

  it('fails to start on a file it cannot use, naming it', async () => {
    const file = path.join(await tempDir('spanda-connectors-file-'), 'missing.json');
    await expect(followConnectorsFile(file, nats.handle, silentLogger)).rejects.toThrow(/cannot read the connectors file .*missing\.json/);
  });
});

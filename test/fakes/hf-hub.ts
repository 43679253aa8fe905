// A fake Hugging Face Hub on 127.0.0.1 with the documented endpoints an upload uses: repos/create, preupload, commit (NDJSON).
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeHub {
  readonly url: string;
  /** repo id → path → file content (utf8). */
  readonly repos: Map<string, Map<string, string>>;
  readonly commits: Array<{ repo: string; summary: string }>;
  close(): Promise<void>;
}

export function fakeHub(token: string): Promise<FakeHub> {
  const repos = new Map<string, Map<string, string>>();
  const commits: FakeHub['commits'] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const send = (status: number, value: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(value));
      };
      if (req.headers.authorization !== `Bearer ${token}`) return send(401, { error: 'Invalid credentials in Authorization header' });
      const url = req.url ?? '/';
      if (req.method === 'POST' && url === '/api/repos/create') {
        const { name, organization, type } = JSON.parse(body) as { name: string; organization: string; type: string };
        if (type !== 'dataset') return send(400, { error: 'expected a dataset' });
        const id = `${organization}/${name}`;
        if (repos.has(id)) return send(409, { error: 'You already created this dataset repo' });
        repos.set(id, new Map());
        return send(200, { url: `https://huggingface.co/datasets/${id}` });
      }
      const match = /^\/api\/datasets\/([^/]+\/[^/]+)\/(preupload|commit)\/main$/.exec(url);
      const repo = match ? repos.get(match[1] as string) : undefined;
      if (!match || !repo || req.method !== 'POST') return send(404, { error: `Repository not found: ${url}` });
      if (match[2] === 'preupload') {
        const { files } = JSON.parse(body) as { files: Array<{ path: string; size: number }> };
        return send(200, { files: files.map((f) => ({ path: f.path, uploadMode: f.size > 10_000_000 ? 'lfs' : 'regular', shouldIgnore: false })) });
      }
      if (req.headers['content-type'] !== 'application/x-ndjson') return send(400, { error: 'expected application/x-ndjson' });
      const lines = body.split('\n').map((l) => JSON.parse(l) as { key: string; value: { summary?: string; path?: string; content?: string; encoding?: string } });
      const header = lines[0];
      if (header?.key !== 'header') return send(400, { error: 'the first line must be the header' });
      for (const line of lines.slice(1)) {
        if (line.key !== 'file' || line.value.encoding !== 'base64' || !line.value.path) return send(400, { error: `unsupported line ${line.key}` });
        repo.set(line.value.path, Buffer.from(line.value.content ?? '', 'base64').toString('utf8'));
      }
      commits.push({ repo: match[1] as string, summary: header.value.summary ?? '' });
      return send(200, { commitOid: 'abc123', commitUrl: `https://huggingface.co/datasets/${match[1]}/commit/abc123` });
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, repos, commits, close: () => new Promise((r) => server.close(() => r())) }),
    ),
  );
}

// Uploading files to a Hugging Face dataset repository through the Hub's documented HTTP API (create repo, preupload, commit).
import { ConfigError } from '../lib/errors.ts';
import { DEFAULT_RETRY, request, withRetries, type RetryPolicy } from './generators/http.ts';

export interface HubUpload {
  /** "user/name" or "org/name". */
  readonly repo: string;
  readonly token: string;
  readonly files: ReadonlyArray<{ readonly path: string; readonly content: string }>;
  readonly message: string;
  readonly private?: boolean;
  /** Default https://huggingface.co (SPANDA_HF_HUB_URL, for a mirror or a test). */
  readonly hubUrl?: string;
  readonly retry?: RetryPolicy;
}

const REPO = /^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Creates the dataset repo if needed, checks every file can go as a regular (non-LFS) upload, and commits them to main. */
export async function pushDataset(upload: HubUpload): Promise<{ commitUrl: string | undefined }> {
  if (!REPO.test(upload.repo)) throw new ConfigError(`--push-to-hub ${JSON.stringify(upload.repo)} is not "owner/name"`);
  const hub = (upload.hubUrl ?? 'https://huggingface.co').replace(/\/+$/, '');
  const retry = upload.retry ?? DEFAULT_RETRY;
  const auth = { authorization: `Bearer ${upload.token}` };
  const setting = 'HF_TOKEN (a token with write access, from hf.co/settings/tokens)';
  const call = (url: string, init: Omit<RequestInit, 'signal'>) => withRetries(`${init.method ?? 'GET'} ${url}`, retry, () => request(url, { ...init, timeoutMs: retry.timeoutMs, setting }));
  const [organization, name] = upload.repo.split('/') as [string, string];

  // 409: the repo exists already, which is what we want.
  const created = await fetch(`${hub}/api/repos/create`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'dataset', name, organization, private: upload.private ?? true }),
    signal: AbortSignal.timeout(retry.timeoutMs),
  });
  if (!created.ok && created.status !== 409) {
    if (created.status === 401 || created.status === 403) throw new ConfigError(`the Hub refused to create ${upload.repo} (${created.status}); check ${setting}`);
    // Repos under another owner may exist while creating is forbidden: the commit below says whether we can write.
    if (created.status >= 500) throw new Error(`the Hub answered ${created.status} creating ${upload.repo}: ${await created.text()}`);
  }

  const base = `${hub}/api/datasets/${upload.repo}`;
  const bytes = upload.files.map((f) => ({ path: f.path, data: Buffer.from(f.content, 'utf8') }));
  const pre = await call(`${base}/preupload/main`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ files: bytes.map((f) => ({ path: f.path, size: f.data.byteLength, sample: f.data.subarray(0, 512).toString('base64') })) }),
  });
  const modes = ((await pre.json()) as { files?: Array<{ path: string; uploadMode: string }> }).files ?? [];
  const lfs = modes.filter((m) => m.uploadMode === 'lfs').map((m) => m.path);
  if (lfs.length > 0) throw new Error(`the Hub wants ${lfs.join(', ')} as LFS uploads (too large for a regular commit); split the export with --min-rating or upload with huggingface-cli`);

  const body = [
    { key: 'header', value: { summary: upload.message, description: 'Exported by spanda dataset export' } },
    ...bytes.map((f) => ({ key: 'file', value: { content: f.data.toString('base64'), path: f.path, encoding: 'base64' } })),
  ]
    .map((line) => JSON.stringify(line))
    .join('\n');
  const committed = await call(`${base}/commit/main`, { method: 'POST', headers: { ...auth, 'content-type': 'application/x-ndjson' }, body });
  const out = (await committed.json()) as { commitUrl?: string };
  return { commitUrl: out.commitUrl };
}

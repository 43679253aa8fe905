// The API keys that grant one tenant access, from the key file and the KV bucket; revoking the bucket's (offboarding).
import { Kvm, type KV } from '@nats-io/kv';
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import type { NatsHandle } from '../streams/nats.ts';
import { bucketGrant, loadApiKeysFile, type Scope, type StoredKey } from './auth.ts';

/** A key as a report names it: never the key, only its id (the first 12 hex digits of its SHA-256), name and scopes. */
export interface TenantKey {
  readonly keyId: string;
  readonly name?: string;
  readonly scopes: readonly Scope[];
}

/** Where a deployment keeps its API keys (SPANDA_API_KEYS_FILE, SPANDA_API_KEYS_BUCKET). */
export interface KeySources {
  readonly file: string | undefined;
  readonly bucket: string | undefined;
}

/** What became of a tenant's keys: revoked from the bucket, or still granting access (and where). */
export interface TenantKeysReport {
  /** Whether any key source was configured where the command ran; without one nothing could be looked at. */
  readonly configured: boolean;
  readonly bucket?: string;
  readonly file?: string;
  readonly revoked: readonly TenantKey[];
  readonly remaining: { readonly bucket: readonly TenantKey[]; readonly file: readonly TenantKey[] };
}

const describe = (stored: StoredKey): TenantKey => ({
  keyId: stored.principal.keyId,
  ...(stored.principal.name !== undefined ? { name: stored.principal.name } : {}),
  scopes: [...stored.principal.scopes],
});

/** The bucket, or undefined when it does not exist (no key was ever put there: nothing grants access through it). */
async function openExisting(handle: NatsHandle, bucket: string): Promise<KV | undefined> {
  try {
    await handle.jsm.streams.info(`KV_${bucket}`);
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) return undefined;
    throw err;
  }
  return new Kvm(handle.js).open(bucket);
}

/** The bucket's entries that a node would accept for `tenant` (entries it ignores grant nothing), with their KV keys. */
async function bucketKeysOf(kv: KV, tenant: string): Promise<Array<{ entry: string; key: TenantKey }>> {
  const found: Array<{ entry: string; key: TenantKey }> = [];
  for await (const entry of await kv.keys()) {
    const value = await kv.get(entry);
    if (!value || value.operation !== 'PUT') continue;
    const grant = bucketGrant(entry, value.string());
    if (grant.ok && grant.stored.principal.tenant === tenant) found.push({ entry, key: describe(grant.stored) });
  }
  return found;
}

/** The key file's entries for `tenant` (a node reads the file at start: only an edit and a restart revoke them). */
export async function fileKeysOf(file: string, tenant: string): Promise<TenantKey[]> {
  const { keys } = await loadApiKeysFile(file);
  return keys.filter((k) => k.principal.tenant === tenant).map(describe);
}

/**
 * Looks up every key of `tenant` and, with `revoke`, purges the bucket's (value and history): nodes following the
 * bucket refuse them from their next request, and a streamed upload running with one stops within a second. Keys in
 * the file are listed as remaining.
 */
export async function tenantKeys(handle: NatsHandle, sources: KeySources, tenant: string, revoke: boolean): Promise<TenantKeysReport> {
  const revoked: TenantKey[] = [];
  const remainingInBucket: TenantKey[] = [];
  if (sources.bucket !== undefined) {
    const kv = await openExisting(handle, sources.bucket);
    for (const { entry, key } of kv ? await bucketKeysOf(kv, tenant) : []) {
      if (!revoke || !kv) {
        remainingInBucket.push(key);
        continue;
      }
      await kv.purge(entry);
      revoked.push(key);
    }
  }
  const remainingInFile = sources.file !== undefined ? await fileKeysOf(sources.file, tenant) : [];
  return {
    configured: sources.bucket !== undefined || sources.file !== undefined,
    ...(sources.bucket !== undefined ? { bucket: sources.bucket } : {}),
    ...(sources.file !== undefined ? { file: sources.file } : {}),
    revoked,
    remaining: { bucket: remainingInBucket, file: remainingInFile },
  };
}

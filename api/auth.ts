// API keys → tenant and scopes: the key file and KV bucket, Bearer authentication, per-key rate limits, and the route → scope table.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Context, MiddlewareHandler } from 'hono';
import { Kvm, type KV } from '@nats-io/kv';
import { z } from 'zod';
import type { OperationsConfig } from '../lib/config.ts';
import { ConfigError, SpandaError, errorMessage } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import { burstWarning } from '../lib/log-burst.ts';
import type { NatsHandle } from '../streams/nats.ts';
import { NAME_PATTERN } from '../streams/subjects.ts';
import { problem, sendProblem } from './problems.ts';
import { routePattern } from './route-pattern.ts';

export const SCOPES = ['publish', 'query', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];
/** What a route needs: a scope, or nothing at all (probes, the API description). */
export type Access = Scope | 'public';

/**
 * Every route and what it needs when API keys are configured. A request whose route is not listed needs `admin`
 * (fail closed), and a test checks that every route the app registers is listed here, so a new route cannot
 * slip out unprotected. `*` in a method matches any method; `:name` matches one path segment, a trailing `*` the rest.
 * A key's scopes are exactly the ones it lists: `admin` does not imply `query` or `publish`.
 */
export const ROUTE_ACCESS: ReadonlyArray<{ readonly method: string; readonly path: string; readonly access: Access }> = [
  { method: 'GET', path: '/healthz', access: 'public' },
  { method: 'GET', path: '/readyz', access: 'public' },
  { method: 'GET', path: '/openapi.json', access: 'public' },
  { method: 'GET', path: '/docs', access: 'public' },
  { method: 'GET', path: '/asyncapi.yaml', access: 'public' },
  { method: 'GET', path: '/v1/schemas', access: 'public' },
  { method: 'GET', path: '/v1/schemas/*', access: 'public' },
  { method: 'GET', path: '/metrics', access: 'admin' },
  { method: 'POST', path: '/v1/documents', access: 'publish' },
  { method: 'DELETE', path: '/v1/documents/:source/:id', access: 'publish' },
  // Erasing takes content out of the log for good: not a publisher's everyday right.
  { method: 'POST', path: '/v1/documents/:source/:id/erase', access: 'admin' },
  { method: 'GET', path: '/v1/documents/:source/:id', access: 'query' },
  { method: 'POST', path: '/v1/query', access: 'query' },
  { method: 'POST', path: '/v1/chat/completions', access: 'query' },
  { method: 'POST', path: '/v1/feedback', access: 'query' },
  { method: 'GET', path: '/v1/answers/:id', access: 'query' },
  { method: '*', path: '/v1/projections', access: 'admin' },
  { method: '*', path: '/v1/projections/*', access: 'admin' },
  { method: 'GET', path: '/v1/connectors', access: 'admin' },
];

const COMPILED = ROUTE_ACCESS.map((r) => ({ ...r, pattern: routePattern(r.path) }));

/** True when the table lists the route itself (rather than it falling to the `admin` default). */
export function routeListed(method: string, path: string): boolean {
  const m = method.toUpperCase();
  return COMPILED.some((r) => (r.method === '*' || r.method === m) && r.pattern.test(path));
}

/** True when the table lists the path for some method: another method there reaches no handler (405), only the key is checked. */
function pathListed(path: string): boolean {
  return COMPILED.some((r) => r.pattern.test(path));
}

/** What a request to `method path` needs; unlisted routes need `admin`. HEAD is answered by GET routes. */
export function accessFor(method: string, path: string): Access {
  const m = method.toUpperCase() === 'HEAD' ? 'GET' : method.toUpperCase();
  const route = COMPILED.find((r) => (r.method === '*' || r.method === m) && r.pattern.test(path));
  return route?.access ?? 'admin';
}

// --- keys ---------------------------------------------------------------------------------------------------------

export interface RateLimit {
  /** Tokens added per second (sustained requests per second). */
  readonly perSecond: number;
  /** Bucket size (requests allowed at once after a quiet period). */
  readonly burst: number;
}

/** Who a request is, once its key is known. Never holds the key itself. */
export interface Principal {
  readonly tenant: string;
  readonly scopes: ReadonlySet<Scope>;
  /** First 12 hex digits of the key's SHA-256: enough to tell keys apart in logs, useless to an attacker. */
  readonly keyId: string;
  readonly name?: string;
  readonly rateLimit?: RateLimit;
  /** Documents the key may publish per second (each of a batch or an NDJSON upload counts); api/document-quota.ts. */
  readonly documentLimit?: RateLimit;
}

/** Bearer tokens are RFC 6750 b64token characters; a key shorter than 16 of them is too easy to guess. */
const TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
const MAX_TOKEN_CHARS = 512;

const rateLimitSchema = z.object({ perSecond: z.number().positive().max(1_000_000), burst: z.number().int().min(1).max(1_000_000) }).strict();
const grantSchema = z
  .object({
    tenant: z.string().regex(NAME_PATTERN, 'must be 1–63 characters of a–z, 0–9, "_" or "-", starting with a letter or digit'),
    scopes: z.array(z.enum(SCOPES)).min(1, 'list at least one of publish, query, admin'),
    name: z.string().max(100).optional(),
    rateLimit: rateLimitSchema.optional(),
    documentLimit: rateLimitSchema.optional(),
  })
  .strict();
const entrySchema = grantSchema
  .extend({
    key: z
      .string()
      .min(16, 'a key needs at least 16 characters (generate one with `openssl rand -hex 32`)')
      .max(MAX_TOKEN_CHARS)
      .regex(TOKEN, 'may hold only A–Z, a–z, 0–9 and - . _ ~ + / (then = padding)')
      .optional(),
    sha256: z
      .string()
      .regex(/^[0-9a-fA-F]{64}$/, 'must be the 64 hex digits of the key\'s SHA-256 (`printf %s "$KEY" | sha256sum`)')
      .optional(),
  })
  .strict();

export const apiKeyFileSchema = z.array(entrySchema);

export interface StoredKey {
  readonly hash: Buffer;
  readonly principal: Principal;
}

export function sha256(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

function toStored(hash: Buffer, grant: z.output<typeof grantSchema>): StoredKey {
  return {
    hash,
    principal: {
      tenant: grant.tenant,
      scopes: new Set(grant.scopes),
      keyId: hash.toString('hex').slice(0, 12),
      ...(grant.name !== undefined ? { name: grant.name } : {}),
      ...(grant.rateLimit ? { rateLimit: grant.rateLimit } : {}),
      ...(grant.documentLimit ? { documentLimit: grant.documentLimit } : {}),
    },
  };
}

/**
 * Validates a parsed key file; every error names the entry (index, name, tenant) and the field. Plaintext keys are
 * hashed here and not kept.
 */
export function parseApiKeys(value: unknown, source: string): { keys: StoredKey[]; plaintext: number } {
  if (!Array.isArray(value)) {
    throw new ConfigError(`API keys ${source}: expected a JSON array of { "key" | "sha256", "tenant", "scopes": [...] } objects`);
  }
  const keys: StoredKey[] = [];
  const seen = new Map<string, number>();
  let plaintext = 0;
  value.forEach((raw, index) => {
    const label = entryLabel(raw, index);
    const parsed = entrySchema.safeParse(raw);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(entry)'}: ${i.message}`);
      throw new ConfigError(`API keys ${source}: ${label}: ${issues.join('; ')}`);
    }
    const entry = parsed.data;
    if ((entry.key === undefined) === (entry.sha256 === undefined)) {
      throw new ConfigError(`API keys ${source}: ${label}: give exactly one of "key" (the key itself) or "sha256" (its hash, preferred at rest)`);
    }
    if (entry.key !== undefined) plaintext++;
    const hash = entry.key !== undefined ? sha256(entry.key) : Buffer.from((entry.sha256 as string).toLowerCase(), 'hex');
    const hex = hash.toString('hex');
    const earlier = seen.get(hex);
    if (earlier !== undefined) throw new ConfigError(`API keys ${source}: ${label}: the same key as entry ${earlier}; one key maps to one tenant`);
    seen.set(hex, index);
    keys.push(toStored(hash, entry));
  });
  return { keys, plaintext };
}

function entryLabel(raw: unknown, index: number): string {
  const parts: string[] = [];
  if (raw !== null && typeof raw === 'object') {
    const r = raw as Record<string, unknown>;
    if (typeof r.name === 'string') parts.push(`name ${JSON.stringify(r.name.slice(0, 100))}`);
    if (typeof r.tenant === 'string') parts.push(`tenant ${JSON.stringify(r.tenant.slice(0, 100))}`);
  }
  return `entry ${index}${parts.length > 0 ? ` (${parts.join(', ')})` : ''}`;
}

export async function loadApiKeysFile(file: string): Promise<{ keys: StoredKey[]; plaintext: number }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read the API keys file ${file} (SPANDA_API_KEYS_FILE / --api-keys): ${errorMessage(err)}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`the API keys file ${file} is not valid JSON: ${errorMessage(err)}`);
  }
  return parseApiKeys(value, `file ${file}`);
}

/** The keys a node accepts: from the file (fixed) and from a KV bucket (followed live). */
export class ApiKeys {
  private readonly fixed: readonly StoredKey[];
  private live = new Map<string, StoredKey>();
  private stopWatch: (() => void) | undefined;

  constructor(fixed: readonly StoredKey[] = []) {
    this.fixed = fixed;
  }

  /**
   * Resolves a presented token. The token is hashed and compared with every stored hash in constant time, without
   * stopping at a match, so timing reveals neither which key matched nor how much of one did.
   */
  lookup(token: string): Principal | undefined {
    if (token.length > MAX_TOKEN_CHARS || !TOKEN.test(token)) return undefined;
    const digest = sha256(token);
    let found: Principal | undefined;
    for (const stored of [...this.fixed, ...this.live.values()]) {
      if (timingSafeEqual(stored.hash, digest) && found === undefined) found = stored.principal;
    }
    return found;
  }

  /**
   * Whether the key `principal` came from is still accepted for `tenant` with `scope`: false once it is deleted from the
   * bucket, or changed to another tenant or without the scope. For requests that outlive one check (a streamed upload).
   */
  stillGrants(principal: Principal, scope: Scope): boolean {
    for (const stored of [...this.fixed, ...this.live.values()]) {
      if (stored.principal === principal) return true;
      if (stored.principal.keyId === principal.keyId) return stored.principal.tenant === principal.tenant && stored.principal.scopes.has(scope);
    }
    return false;
  }

  get size(): number {
    return this.fixed.length + this.live.size;
  }

  /**
   * Follows a KV bucket whose keys are key hashes (64 hex digits) and whose values are
   * `{ "tenant", "scopes", "name"?, "rateLimit"? }`; a bad entry is logged and skipped, a deleted one revoked.
   */
  async follow(kv: KV, logger: Logger): Promise<void> {
    // The keys present now are loaded before the API opens; the watch then replays them and follows changes.
    for await (const key of await kv.keys()) {
      const entry = await kv.get(key);
      const stored = entry && entry.operation === 'PUT' ? parseKvGrant(key, entry.string(), logger) : undefined;
      if (stored) this.live.set(key.toLowerCase(), stored);
    }
    let stopped = false;
    let iterator: { stop(): void } | undefined;
    const run = async () => {
      while (!stopped) {
        try {
          const watch = await kv.watch();
          iterator = watch;
          for await (const entry of watch) {
            if (stopped) break;
            const hex = entry.key.toLowerCase();
            const stored = entry.operation === 'PUT' ? parseKvGrant(entry.key, entry.string(), logger) : undefined;
            if (stored) this.live.set(hex, stored);
            else this.live.delete(hex);
          }
        } catch (err) {
          if (!stopped) logger.warn('API key watch interrupted; reopening', { error: errorMessage(err) });
        }
        if (!stopped) await new Promise((r) => setTimeout(r, 1000));
      }
    };
    void run();
    this.stopWatch = () => {
      stopped = true;
      iterator?.stop();
    };
  }

  stop(): void {
    this.stopWatch?.();
  }
}

function parseKvGrant(key: string, value: string, logger: Logger): StoredKey | undefined {
  const grant = bucketGrant(key, value);
  if (grant.ok) return grant.stored;
  logger.warn(`API key bucket entry ignored${grant.why}`, { key: key.slice(0, /^[0-9a-fA-F]{64}$/.test(key) ? 12 : 80), ...(grant.issues ? { issues: grant.issues } : {}) });
  return undefined;
}

/**
 * One entry of an API key bucket as a node reads it: the key's hash and what it grants, or why the node ignores it
 * (the key is not 64 hex digits, the value is not JSON or not a grant).
 */
export function bucketGrant(key: string, value: string): { ok: true; stored: StoredKey } | { ok: false; why: string; issues?: string } {
  if (!/^[0-9a-fA-F]{64}$/.test(key)) return { ok: false, why: ": its key must be the 64 hex digits of the API key's SHA-256" };
  let json: unknown;
  try {
    json = JSON.parse(value);
  } catch {
    return { ok: false, why: ': not JSON' };
  }
  const parsed = grantSchema.safeParse(json);
  if (!parsed.success) return { ok: false, why: '', issues: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') };
  return { ok: true, stored: toStored(Buffer.from(key.toLowerCase(), 'hex'), parsed.data) };
}

// --- rate limits --------------------------------------------------------------------------------------------------

/** One token bucket per key: refilled continuously at `perSecond`, holding at most `burst`. */
export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly now: () => number;
  constructor(now: () => number = () => performance.now()) {
    this.now = now;
  }

  /**
   * Takes `count` tokens (one by default), all or none; when too few are left, says how long until there are enough:
   * `waitMs` exactly, `retryAfterS` rounded up to whole seconds (at least 1) for a Retry-After header.
   */
  take(id: string, limit: RateLimit, count = 1): { ok: true } | { ok: false; retryAfterS: number; waitMs: number } {
    const now = this.now();
    const bucket = this.buckets.get(id) ?? { tokens: limit.burst, at: now };
    bucket.tokens = Math.min(limit.burst, bucket.tokens + ((now - bucket.at) / 1000) * limit.perSecond);
    bucket.at = now;
    this.buckets.set(id, bucket);
    if (bucket.tokens >= count) {
      bucket.tokens -= count;
      return { ok: true };
    }
    const waitS = (count - bucket.tokens) / limit.perSecond;
    return { ok: false, retryAfterS: Math.max(1, Math.ceil(waitS)), waitMs: waitS * 1000 };
  }

  /** Gives back `count` tokens taken for work that did not happen (never above the burst). */
  give(id: string, limit: RateLimit, count: number): void {
    const bucket = this.buckets.get(id);
    if (bucket && count > 0) bucket.tokens = Math.min(limit.burst, bucket.tokens + count);
  }
}

// --- the middleware -----------------------------------------------------------------------------------------------

export interface ApiAuth {
  /** Undefined: open single-user mode (no keys configured), the tenant comes from x-tenant. */
  readonly keys: ApiKeys | undefined;
  /** Default per-key limit; a key's own `rateLimit` wins. Undefined: no limit. */
  readonly rateLimit?: RateLimit;
  /** Default per-key documents limit; a key's own `documentLimit` wins. Undefined: no limit. */
  readonly documentLimit?: RateLimit;
  /** Serve /metrics without a key even when keys exist (a scraper inside a trusted network). */
  readonly metricsPublic?: boolean;
}

declare module 'hono' {
  interface ContextVariableMap {
    /** Set by the auth middleware when the request carried a valid key. */
    principal: Principal;
    /** 'keys' when API keys are configured, 'open' otherwise. */
    authMode: 'keys' | 'open';
  }
}

/** A request refused by authentication or authorization; carries the exact response (status, WWW-Authenticate). */
export class AuthError extends SpandaError {
  readonly status: 401 | 403 | 429;
  readonly headers: Readonly<Record<string, string>>;
  constructor(status: 401 | 403 | 429, code: string, message: string, headers: Record<string, string>) {
    super(code, message);
    this.status = status;
    this.headers = headers;
  }
  toResponse(): Response {
    const title = this.status === 401 ? 'Unauthorized' : this.status === 403 ? 'Forbidden' : 'Too many requests';
    return sendProblem(problem(this.status, this.code, title, this.message), { ...this.headers });
  }
}

const REALM = 'realm="spanda"';

export function unauthorized(message: string, invalidToken: boolean): AuthError {
  return new AuthError(401, 'unauthorized', message, {
    'www-authenticate': invalidToken ? `Bearer ${REALM}, error="invalid_token"` : `Bearer ${REALM}`,
  });
}

export function forbidden(scope: Scope, principal: Principal): AuthError {
  return new AuthError(403, 'forbidden', `this API key (${principal.keyId}) lacks the "${scope}" scope this route needs; use a key that has it`, {
    'www-authenticate': `Bearer ${REALM}, error="insufficient_scope", scope="${scope}"`,
  });
}

/** The token of an `Authorization: Bearer <token>` header; undefined when absent, an error when malformed. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined || header === '') return undefined;
  if (header.length > MAX_TOKEN_CHARS + 32) throw unauthorized('the Authorization header is too long to hold an API key', true);
  const m = /^Bearer +(\S+) *$/i.exec(header);
  if (!m) throw unauthorized('send the API key as "Authorization: Bearer <key>"', true);
  return m[1] as string;
}

/**
 * Authenticates every request against the key store and enforces the route's scope and the key's rate limit.
 * In open mode it only marks the request so `tenantOf` reads x-tenant.
 */
export function authMiddleware(auth: ApiAuth | undefined, logger: Logger): MiddlewareHandler {
  const keys = auth?.keys;
  const buckets = new TokenBuckets();
  // Someone trying keys sends thousands: one warning with where from, then a count per window.
  const warnUnknownKey = burstWarning(logger, 'unknown API key refused');
  return async (c, next) => {
    if (!keys) {
      c.set('authMode', 'open');
      return next();
    }
    c.set('authMode', 'keys');
    let access = accessFor(c.req.method, c.req.path);
    if (access === 'admin' && auth?.metricsPublic && c.req.path === '/metrics') access = 'public';
    let token: string | undefined;
    try {
      token = bearerToken(c.req.header('authorization'));
    } catch (err) {
      // A public route answers anyway: a probe with a stale header must still see /healthz.
      if (access === 'public') return next();
      throw err;
    }
    const principal = token === undefined ? undefined : keys.lookup(token);
    if (principal) c.set('principal', principal);
    if (access === 'public') return next();
    if (token === undefined) throw unauthorized('this route needs an API key: send "Authorization: Bearer <key>"', false);
    if (!principal) {
      warnUnknownKey({ method: c.req.method, path: c.req.path.slice(0, 200), ...remoteOf(c) });
      throw unauthorized('the API key is not valid (unknown or revoked)', true);
    }
    // A known path asked with a method it does not answer: nothing runs, the app answers 405 (to a valid key only).
    const unanswered = access === 'admin' && !routeListed(c.req.method === 'HEAD' ? 'GET' : c.req.method, c.req.path) && pathListed(c.req.path);
    if (!unanswered && !principal.scopes.has(access)) throw forbidden(access, principal);
    const limit = principal.rateLimit ?? auth?.rateLimit;
    if (limit) {
      const taken = buckets.take(principal.keyId, limit);
      if (!taken.ok) {
        throw new AuthError(429, 'rate-limited', `this API key is over its limit of ${limit.perSecond} requests per second (burst ${limit.burst}); retry after ${taken.retryAfterS} s`, {
          'retry-after': String(taken.retryAfterS),
        });
      }
    }
    return next();
  };
}

/** The caller's address, when the request came through a Node server (not an in-process `app.request`). */
function remoteOf(c: Context): { remote?: string } {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  const remote = env?.incoming?.socket?.remoteAddress;
  return remote !== undefined ? { remote } : {};
}

/**
 * The same check outside Hono (e.g. the /metrics listener of a process without the API): the principal when the
 * Authorization header carries a key with `scope`, undefined in open mode; otherwise throws the AuthError to send.
 */
export function authorizeHeader(auth: ApiAuth | undefined, authorization: string | undefined, scope: Scope): Principal | undefined {
  if (!auth?.keys) return undefined;
  const token = bearerToken(authorization);
  if (token === undefined) throw unauthorized('this route needs an API key: send "Authorization: Bearer <key>"', false);
  const principal = auth.keys.lookup(token);
  if (!principal) throw unauthorized('the API key is not valid (unknown or revoked)', true);
  if (!principal.scopes.has(scope)) throw forbidden(scope, principal);
  return principal;
}

/** The authenticated caller, when the request carried a valid key. */
export function principalOf(c: Context): Principal | undefined {
  return c.get('principal');
}

/**
 * Fails unless the caller may use `scope`: for checks finer than the route table (a route with an admin-only
 * option). Open mode allows everything.
 */
export function requireScope(c: Context, scope: Scope): void {
  if (c.get('authMode') !== 'keys') return;
  const principal = principalOf(c);
  if (!principal) throw unauthorized('this route needs an API key: send "Authorization: Bearer <key>"', false);
  if (!principal.scopes.has(scope)) throw forbidden(scope, principal);
}

// --- start-up -----------------------------------------------------------------------------------------------------

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|::1|\[::1\]|::ffff:127(\.\d{1,3}){3})$/i;

export function isLoopback(host: string): boolean {
  return LOOPBACK.test(host.trim());
}

/** Open mode is for one user on one machine: serving it beyond loopback must be asked for explicitly. */
export function assertOpenBindAllowed(options: { host: string; keysConfigured: boolean; allowOpen: boolean }): void {
  if (options.keysConfigured || options.allowOpen || isLoopback(options.host)) return;
  throw new ConfigError(
    `HOST ${options.host} is not a loopback address and no API keys are configured, so anyone who can reach it could read and write every tenant; ` +
      'configure keys with --api-keys FILE (SPANDA_API_KEYS_FILE), or bind 127.0.0.1, or pass --allow-open (SPANDA_ALLOW_OPEN=true) to serve without authentication anyway',
  );
}

export interface AuthSettings {
  readonly host: string;
  readonly apiKeysFile: string | undefined;
  /** A KV bucket of key hashes to follow (besides the file). */
  readonly apiKeysBucket: string | undefined;
  readonly allowOpen: boolean;
  readonly rateLimit: RateLimit | undefined;
  readonly documentLimit?: RateLimit | undefined;
  readonly metricsPublic: boolean;
}

/**
 * Builds the API's auth from configuration: loads and validates the key file, follows the KV bucket when one is
 * named, refuses an open non-loopback bind, and says at start which mode the API runs in.
 */
export async function loadApiAuth(settings: AuthSettings, logger: Logger, openBucket?: (name: string) => Promise<KV>): Promise<ApiAuth> {
  const fromFile = settings.apiKeysFile ? await loadApiKeysFile(settings.apiKeysFile) : undefined;
  const keysConfigured = fromFile !== undefined || settings.apiKeysBucket !== undefined;
  assertOpenBindAllowed({ host: settings.host, keysConfigured, allowOpen: settings.allowOpen });
  if (!keysConfigured) {
    logger.info(
      isLoopback(settings.host)
        ? 'no API keys configured: open single-user mode on loopback (any caller picks a tenant with x-tenant); set SPANDA_API_KEYS_FILE to require keys'
        : 'no API keys configured and --allow-open given: the API is open to anyone who can reach it',
      { host: settings.host },
    );
    return { keys: undefined };
  }
  const keys = new ApiKeys(fromFile?.keys ?? []);
  if (fromFile && fromFile.plaintext > 0) {
    logger.warn('the API keys file holds plaintext keys; store "sha256" hashes instead so the file does not grant access if it leaks', {
      file: settings.apiKeysFile,
      plaintext: fromFile.plaintext,
    });
  }
  if (settings.apiKeysBucket !== undefined) {
    if (!openBucket) throw new ConfigError('SPANDA_API_KEYS_BUCKET needs a NATS connection');
    await keys.follow(await openBucket(settings.apiKeysBucket), logger);
  }
  logger.info('API keys required', {
    keys: keys.size,
    ...(settings.apiKeysFile ? { file: settings.apiKeysFile } : {}),
    ...(settings.apiKeysBucket ? { bucket: settings.apiKeysBucket } : {}),
    ...(settings.rateLimit ? { rateLimit: `${settings.rateLimit.perSecond}/s burst ${settings.rateLimit.burst}` } : {}),
    ...(settings.documentLimit ? { documentLimit: `${settings.documentLimit.perSecond} documents/s burst ${settings.documentLimit.burst}` } : {}),
  });
  return {
    keys,
    ...(settings.rateLimit ? { rateLimit: settings.rateLimit } : {}),
    ...(settings.documentLimit ? { documentLimit: settings.documentLimit } : {}),
    metricsPublic: settings.metricsPublic,
  };
}

/** The auth settings of a node's configuration. */
export function authSettingsOf(config: OperationsConfig & { readonly host: string }): AuthSettings {
  return {
    host: config.host,
    apiKeysFile: config.apiKeysFile,
    apiKeysBucket: config.apiKeysBucket,
    allowOpen: config.allowOpen,
    rateLimit: config.rateLimit > 0 ? { perSecond: config.rateLimit, burst: config.rateBurst ?? Math.max(1, Math.ceil(config.rateLimit * 2)) } : undefined,
    // A whole batch (MAX_BATCH_DOCUMENTS) fits the default burst, or a full batch could never be sent.
    documentLimit:
      config.documentRateLimit > 0 ? { perSecond: config.documentRateLimit, burst: config.documentRateBurst ?? Math.max(1000, Math.ceil(config.documentRateLimit * 2)) } : undefined,
    metricsPublic: config.metricsPublic,
  };
}

/** A node's API auth: keys from SPANDA_API_KEYS_FILE and, when SPANDA_API_KEYS_BUCKET names one, from that KV bucket (created if missing). */
export function apiAuthFor(config: OperationsConfig & { readonly host: string }, nats: NatsHandle, logger: Logger): Promise<ApiAuth> {
  return loadApiAuth(authSettingsOf(config), logger, (bucket) => new Kvm(nats.js).create(bucket, { history: 5 }));
}

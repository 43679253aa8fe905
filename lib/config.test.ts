// Configuration from a file, the environment and flags: precedence, errors that name the key and its source, redacted secrets.
import { writeFileSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, natsAuthOf } from './config.ts';
import { ConfigError } from './errors.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'spanda-config-'));
function file(name: string, content: unknown): string {
  const p = path.join(dir, name);
  writeFileSync(p, typeof content === 'string' ? content : JSON.stringify(content));
  return p;
}

function failure(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('reads a JSON file keyed by the environment variable names; the environment beats it and flags beat both', () => {
    const f = file('ok.json', { PORT: 9000, HOST: '0.0.0.0', SPANDA_MODELS: ['hash', 'hash-128'], SPANDA_ALLOW_OPEN: true, SPANDA_CORS_ORIGINS: 'https://app.example' });
    const fromFile = loadConfig({}, { SPANDA_CONFIG: f });
    expect(fromFile).toMatchObject({ port: 9000, host: '0.0.0.0', allowOpen: true, corsOrigins: ['https://app.example'] });
    expect(fromFile.models).toEqual(['offline', 'hash', 'hash-128']);
    expect(loadConfig({}, { SPANDA_CONFIG: f, PORT: '9001' }).port).toBe(9001);
    expect(loadConfig({ PORT: '9002', SPANDA_CONFIG: f }, { PORT: '9001' }).port).toBe(9002);
    expect(loadConfig({}, {})).toMatchObject({ port: 8080, host: '127.0.0.1', allowOpen: false, corsOrigins: [], rateLimit: 0, apiKeysFile: undefined, logFormat: 'text' });
  });

  it('names every bad key, where its value came from and the form it must take', () => {
    const f = file('bad.json', { SPANDA_RATE_LIMIT: -1 });
    const message = failure(() => loadConfig({ PORT: 'eighty' }, { SPANDA_CONFIG: f, SPANDA_EMBEDDER: 'gpt', SPANDA_CORS_ORIGINS: 'https://a.example/path' }));
    expect(message).toMatch(/PORT \(from a command-line flag\): expected a network port/);
    expect(message).toMatch(/SPANDA_EMBEDDER \(from the environment\): expected one of \(offline, hash\) but received "gpt"/);
    expect(message).toMatch(/SPANDA_RATE_LIMIT \(from the config file .*bad\.json\): must be requests per second per API key, 0 for no limit/);
    expect(message).toMatch(/SPANDA_CORS_ORIGINS \(from the environment\): must be "\*" or a comma-separated list of origins/);
    expect(failure(() => loadConfig({}, { SPANDA_LOG_FORMAT: 'yaml' }))).toMatch(/SPANDA_LOG_FORMAT.*text, json/);
    expect(failure(() => loadConfig({}, { SPANDA_SHUTDOWN_GRACE_MS: '0' }))).toMatch(/SPANDA_SHUTDOWN_GRACE_MS.*above 0/);
    // Sizes a node could start with and then refuse every request or chunk with.
    expect(failure(() => loadConfig({}, { SPANDA_MAX_BODY_BYTES: '-5' }))).toMatch(/SPANDA_MAX_BODY_BYTES \(from the environment\): must be a whole number ≥ 1024/);
    expect(failure(() => loadConfig({}, { SPANDA_CHUNK_SIZE: '0' }))).toMatch(/SPANDA_CHUNK_SIZE .*≥ 100/);
    expect(failure(() => loadConfig({}, { SPANDA_CHUNK_OVERLAP: '-1' }))).toMatch(/SPANDA_CHUNK_OVERLAP .*≥ 0/);
    expect(failure(() => loadConfig({}, { SPANDA_EMBED_WORKERS: '0' }))).toMatch(/SPANDA_EMBED_WORKERS .*above 0/);
    expect(failure(() => loadConfig({}, { SPANDA_GENERATOR_TIMEOUT_MS: '0' }))).toMatch(/SPANDA_GENERATOR_TIMEOUT_MS .*above 0/);
    expect(failure(() => loadConfig({}, { SPANDA_QUERIES_MAX_AGE: '30 days' }))).toMatch(/SPANDA_QUERIES_MAX_AGE .*a duration of at least 1m such as 30d or 12h, or 0/);
    expect(failure(() => loadConfig({}, { SPANDA_QUERIES_MAX_AGE: '10s' }))).toMatch(/SPANDA_QUERIES_MAX_AGE/);
    expect(failure(() => loadConfig({}, { SPANDA_QUERIES_MAX_BYTES: '10 parsecs' }))).toMatch(/SPANDA_QUERIES_MAX_BYTES .*a size of at least 1MB such as 10GB/);
  });

  it('reads how much of QUERIES to keep: 90 days by default, a duration and a size as people write them, 0 for no limit', () => {
    expect(loadConfig({}, {})).toMatchObject({ queriesMaxAgeMs: 90 * 86_400_000, queriesMaxBytes: 0 });
    expect(loadConfig({}, { SPANDA_QUERIES_MAX_AGE: '12h', SPANDA_QUERIES_MAX_BYTES: '10GB' })).toMatchObject({ queriesMaxAgeMs: 12 * 3_600_000, queriesMaxBytes: 10e9 });
    expect(loadConfig({}, { SPANDA_QUERIES_MAX_AGE: '0', SPANDA_QUERIES_MAX_BYTES: '512MiB' })).toMatchObject({ queriesMaxAgeMs: 0, queriesMaxBytes: 512 * 1024 ** 2 });
    expect(loadConfig({}, {})).toMatchObject({ dlqMaxAgeMs: 30 * 86_400_000, dlqMaxBytes: 0 });
    expect(loadConfig({}, { SPANDA_DLQ_MAX_AGE: '7d', SPANDA_DLQ_MAX_BYTES: '1GB' })).toMatchObject({ dlqMaxAgeMs: 7 * 86_400_000, dlqMaxBytes: 1e9 });
  });

  it('refuses a config file key that nothing reads (a typo), listing the known ones', () => {
    const message = failure(() => loadConfig({}, { SPANDA_CONFIG: file('typo.json', { PORT: 1, SPANDA_EMBEDER: 'hash' }) }));
    expect(message).toMatch(/unknown key SPANDA_EMBEDER/);
    expect(message).toMatch(/SPANDA_EMBEDDER/);
  });

  it('says what is wrong with the file itself', () => {
    expect(failure(() => loadConfig({}, { SPANDA_CONFIG: path.join(dir, 'missing.json') }))).toMatch(/cannot read the config file .*missing\.json \(SPANDA_CONFIG \/ --config\)/);
    expect(failure(() => loadConfig({}, { SPANDA_CONFIG: file('broken.json', '{ "PORT": ') }))).toMatch(/is not valid JSON/);
    expect(failure(() => loadConfig({}, { SPANDA_CONFIG: file('array.json', [1]) }))).toMatch(/must hold one JSON object/);
    expect(failure(() => loadConfig({}, { SPANDA_CONFIG: file('nested.json', { PORT: { value: 1 } }) }))).toMatch(/PORT: expected a string, number, boolean or array/);
  });

  it('keeps NATS secrets redacted until they are handed to the client', () => {
    const config = loadConfig({}, { NATS_USER: 'spanda', NATS_PASSWORD: 'hunter2-secret', NATS_TOKEN: 'tok-secret', NATS_CREDS: 'user.creds' });
    expect(JSON.stringify(config)).not.toMatch(/hunter2-secret|tok-secret/);
    expect(String(config.natsPassword)).not.toContain('hunter2');
    expect(natsAuthOf(config)).toEqual({ user: 'spanda', pass: 'hunter2-secret', token: 'tok-secret', credsFile: 'user.creds' });
    expect(natsAuthOf(loadConfig({}, {}))).toEqual({});
  });
});

// Subject encoding: any upstream id becomes one NATS-safe token that decodes back to the same id.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../lib/errors.ts';
import { MAX_ID_TOKEN_BYTES, assertName, decodeIdToken, encodeIdToken, isHashedIdToken, parseDocumentSubject, subjects } from './subjects.ts';

const NATS_FORBIDDEN_IN_TOKEN = /[.*>\s]/u;

const ids = [
  'simple-id',
  'https://medium.com/p/4f1e2d',
  'a.b.c',
  'with space and\ttab\nnewline',
  '*',
  '>',
  'orders.*.>',
  '100%',
  '%2E already looks encoded',
  '~tilde-first',
  'mid~tilde',
  'Ünïcödé 文字 🚀',
  'emoji.🚀.dot',
  '\u0000control\u007f',
  'non\u00a0breaking\u2003spaces',
  '$SYS',
];

describe('encodeIdToken / decodeIdToken', () => {
  it.each(ids)('round-trips %j into a single NATS-safe token', (id) => {
    const token = encodeIdToken(id);
    expect(token).not.toMatch(NATS_FORBIDDEN_IN_TOKEN);
    expect(token.length).toBeGreaterThan(0);
    expect(decodeIdToken(token)).toBe(id);
  });

  it('keeps readable ids readable: only what NATS forbids is escaped', () => {
    expect(encodeIdToken('https://medium.com/p/4f1e2d')).toBe('https://medium%2Ecom/p/4f1e2d');
    expect(encodeIdToken('Ünïcödé')).toBe('Ünïcödé');
  });

  it('leaves an id with nothing to escape as it is, and escapes exactly what needs it, for any ASCII id', () => {
    expect(encodeIdToken('x'.repeat(MAX_ID_TOKEN_BYTES))).toBe('x'.repeat(MAX_ID_TOKEN_BYTES));
    const special = /[.*>%\s\x00-\x1f\x7f]|^~/;
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', 'Z', '0', '-', '/', ':', '.', '*', '>', '%', '~', ' ', '\t', '\u0000', '\u007f', '%2E'), minLength: 1, maxLength: 60 }), (id) => {
        const token = encodeIdToken(id);
        expect(token).not.toMatch(NATS_FORBIDDEN_IN_TOKEN);
        expect(token === id).toBe(!special.test(id));
        expect(decodeIdToken(token)).toBe(id);
      }),
      { numRuns: 2000 },
    );
  });

  it('gives distinct ids distinct tokens', () => {
    const tokens = new Set(ids.map(encodeIdToken));
    expect(tokens.size).toBe(ids.length);
    expect(encodeIdToken('a.b')).not.toBe(encodeIdToken('a%2Eb'));
  });

  it('hashes ids too long for a subject, deterministically and distinctly', () => {
    const long = 'x'.repeat(MAX_ID_TOKEN_BYTES + 1);
    const token = encodeIdToken(long);
    expect(isHashedIdToken(token)).toBe(true);
    expect(token).toBe(encodeIdToken(long));
    expect(token).not.toBe(encodeIdToken(`${long}y`));
    expect(decodeIdToken(token)).toBeUndefined();
    // An id that merely starts with "~" is escaped, so it can never be mistaken for a hash.
    expect(isHashedIdToken(encodeIdToken('~abc'))).toBe(false);
  });

  it('rejects empty ids and broken unicode with a reason', () => {
    expect(() => encodeIdToken('')).toThrow(ValidationError);
    expect(() => encodeIdToken('\ud800')).toThrow(/surrogate/);
  });
});

describe('names and subjects', () => {
  it('accepts plain tenant/source names and rejects the rest with the rule', () => {
    expect(assertName('tenant', 'acme-2')).toBe('acme-2');
    for (const bad of ['', 'Acme', 'a.b', 'a b', '*', '>', '-x', 'x'.repeat(64)]) {
      expect(() => assertName('tenant', bad)).toThrow(/invalid tenant name/);
    }
  });

  it('builds and parses document subjects', () => {
    const address = { tenant: 'acme', source: 'medium', id: 'https://medium.com/p/1' };
    const subject = subjects.embeddings('use-lite-512', address);
    expect(subject).toBe('embeddings.use-lite-512.acme.medium.https://medium%2Ecom/p/1');
    expect(parseDocumentSubject(subject)).toMatchObject({ kind: 'embeddings', model: 'use-lite-512', tenant: 'acme', source: 'medium', id: address.id });
    expect(parseDocumentSubject(subjects.document(address))).toMatchObject({ kind: 'docs', id: address.id });
    expect(parseDocumentSubject('queries.acme')).toBeUndefined();
  });
});

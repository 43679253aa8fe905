// The AsyncAPI document against the code: every subject Spanda publishes matches its channel's address, token for token.
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { querySubject } from '../inference/record.ts';
import { subjects } from './subjects.ts';

interface Channel {
  readonly address: string;
  readonly parameters?: Record<string, { readonly enum?: readonly string[] }>;
}

const spec = parse(await readFile(new URL('./asyncapi.yaml', import.meta.url), 'utf8')) as { channels: Record<string, Channel> };

/** Whether `subject` fills the channel's address: same number of tokens, literal tokens equal, enum parameters in range. */
function fills(channel: Channel, subject: string): boolean {
  const want = channel.address.split('.');
  const got = subject.split('.');
  if (want.length !== got.length) return false;
  return want.every((token, i) => {
    const value = got[i] as string;
    const parameter = /^\{(\w+)\}$/.exec(token)?.[1];
    if (parameter === undefined) return token === value;
    const allowed = channel.parameters?.[parameter]?.enum;
    return value.length > 0 && (allowed === undefined || allowed.includes(value));
  });
}

const channel = (name: string): Channel => {
  const found = spec.channels[name];
  if (!found) throw new Error(`asyncapi.yaml has no channel ${name}`);
  return found;
};

describe('asyncapi.yaml', () => {
  const doc = { tenant: 'acme', source: 'medium', id: 'posts/a.b c' };

  it('names the subjects the code publishes on', () => {
    expect(fills(channel('documents'), subjects.document(doc))).toBe(true);
    expect(fills(channel('chunks'), subjects.chunks(doc))).toBe(true);
    expect(fills(channel('embeddings'), subjects.embeddings('use-lite-512', doc))).toBe(true);
    expect(fills(channel('deadLetters'), subjects.dlq('chunker'))).toBe(true);
    for (const kind of ['received', 'answered', 'feedback'] as const) {
      expect(fills(channel('queries'), querySubject('acme', '01M8XSF254QJWBWX7N8HMXY7XC', kind))).toBe(true);
    }
  });

  it('tells a subject of another shape apart (the check itself can fail)', () => {
    expect(fills(channel('queries'), 'queries.acme')).toBe(false);
    expect(fills(channel('queries'), 'queries.acme.01M8.exploded')).toBe(false);
    expect(fills(channel('chunks'), subjects.document(doc))).toBe(false);
  });
});

// Metadata bounds: depth, key count and size are refused with a named limit, without recursing on hostile nesting.
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../lib/errors.ts';
import { METADATA_LIMITS, metadataSchema, parseEventData } from './index.ts';

/** `levels` arrays around a number; inside the metadata object that is levels + 1 containers deep. */
function nested(levels: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < levels; i++) value = [value];
  return value;
}

const upserted = (metadata: unknown) => ({
  tenant: 'acme',
  source: 'api',
  id: 'd',
  text: 'x',
  metadata,
  contentHash: `sha256:${'0'.repeat(64)}`,
});

describe('metadataSchema', () => {
  it('accepts metadata at the limits', () => {
    expect(metadataSchema.safeParse({ a: nested(METADATA_LIMITS.maxDepth - 1) }).success).toBe(true);
    const keys = Object.fromEntries(Array.from({ length: METADATA_LIMITS.maxKeys }, (_, i) => [`k${i}`, i]));
    expect(metadataSchema.safeParse(keys).success).toBe(true);
  });

  it.each([1_000, 2_000, 100_000])('refuses %i levels of nesting naming the depth limit, without a stack overflow', (levels) => {
    const result = metadataSchema.safeParse({ a: nested(levels) });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toMatch(/more than 32 levels deep; the limit is 32/);
  });

  it('refuses one level past the depth limit', () => {
    expect(metadataSchema.safeParse({ a: nested(METADATA_LIMITS.maxDepth) }).success).toBe(false);
  });

  it('refuses too many keys in total, counted across nesting', () => {
    const inner = Object.fromEntries(Array.from({ length: 600 }, (_, i) => [`k${i}`, i]));
    const result = metadataSchema.safeParse({ a: inner, b: { ...inner } });
    expect(result.error?.issues[0]?.message).toMatch(/more than 1000 keys in total/);
  });

  it('refuses metadata over 64 KiB as JSON, such as 1 MB of it', () => {
    const result = metadataSchema.safeParse({ blob: 'x'.repeat(1_000_000) });
    expect(result.error?.issues[0]?.message).toMatch(/the limit is 65536 bytes \(64 KiB\)/);
  });

  it('is checked when an event is decoded, so a document.upserted written straight to the log is refused', () => {
    expect(() => parseEventData('document.upserted', 1, upserted({ a: nested(1_500) }))).toThrow(ValidationError);
    expect(() => parseEventData('document.upserted', 1, upserted({ a: nested(1_500) }))).toThrow(/metadata: nests more than 32 levels/);
  });
});

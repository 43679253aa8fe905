// Poll scheduling and feed configuration: backoff per feed with a cap and Retry-After, and clear errors for bad URLs.
import { describe, expect, it } from 'vitest';
import { feedTargets, nextDelayMs } from './rss.ts';

describe('nextDelayMs', () => {
  const noJitter = () => 0.5;
  it('waits the interval after a success and doubles it per failure in a row, up to the cap', () => {
    expect(nextDelayMs({ failures: 0 }, 60_000, 3_600_000, noJitter)).toBe(60_000);
    expect(nextDelayMs({ failures: 1 }, 60_000, 3_600_000, noJitter)).toBe(120_000);
    expect(nextDelayMs({ failures: 3 }, 60_000, 3_600_000, noJitter)).toBe(480_000);
    expect(nextDelayMs({ failures: 40 }, 60_000, 3_600_000, noJitter)).toBe(3_600_000);
  });
  it('never polls sooner than Retry-After, and spreads feeds with ±10% jitter', () => {
    expect(nextDelayMs({ failures: 1, retryAfterMs: 900_000 }, 60_000, 3_600_000, noJitter)).toBe(900_000);
    expect(nextDelayMs({ failures: 0 }, 60_000, 3_600_000, () => 0)).toBe(54_000);
    expect(nextDelayMs({ failures: 0 }, 60_000, 3_600_000, () => 1)).toBe(66_000);
  });
});

describe('feedTargets', () => {
  it('names each feed source after its host unless one is given', () => {
    expect(feedTargets({ feeds: ['https://medium.com/feed/@ada', 'https://x.substack.com/feed'] }).map((t) => t.source)).toEqual(['medium', 'substack']);
    expect(feedTargets({ feeds: ['https://medium.com/feed/@ada'], source: 'blog', tenant: 'acme' })).toEqual([
      { url: 'https://medium.com/feed/@ada', source: 'blog', tenant: 'acme' },
    ]);
  });
  it('refuses what is not an http(s) URL', () => {
    expect(() => feedTargets({ feeds: ['medium.com/feed'] })).toThrow(/is not a URL/);
    expect(() => feedTargets({ feeds: ['file:///etc/passwd'] })).toThrow(/only http and https/);
  });
});

// `spanda query` refuses a bad --k, --mode or --filter itself (exit 2 and the usage) before it asks any API.
import { describe, expect, it } from 'vitest';
import { freePort } from '../../streams/server.ts';
import { runCli } from '../../test/helpers/cli.ts';

describe('spanda query', () => {
  it('answers a bad --k, --mode or --filter with exit 2 and the usage, without asking the API', async () => {
    // Nothing listens at --url: a request would fail with exit 1 and "no Spanda API answers".
    const url = `http://127.0.0.1:${await freePort()}`;
    const cases: Array<[string[], RegExp]> = [
      [['--k', 'abc'], /--k must be a whole number ≥ 1 .*got "abc"/],
      [['--k', '0'], /--k must be a whole number/],
      [['--k', '2.5'], /--k must be a whole number/],
      [['--mode', 'semantic'], /--mode must be hybrid, vector or keyword, got "semantic"/],
      [['--filter', '{bad'], /--filter must be JSON/],
    ];
    for (const [flags, message] of cases) {
      const run = await runCli(['query', 'retries', ...flags, '--url', url]);
      expect(run.code, flags.join(' ')).toBe(2);
      expect(run.stderr).toMatch(message);
    }
    const unreachable = await runCli(['query', 'retries', '--k', '3', '--url', url]);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(/no Spanda API answers at/);
  });
});

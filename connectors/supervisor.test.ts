// The connector supervisor: failed starts and failed runs are retried with backoff, a finished run is not, stop ends a wait.
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../lib/log.ts';
import type { Connector, ConnectorContext, ConnectorOutcome, RunningConnector } from './connector.ts';
import { superviseConnector } from './supervisor.ts';
import { eventually } from '../test/helpers/eventually.ts';

const ctx = { logger: silentLogger } as unknown as ConnectorContext;

/** A connector whose starts and runs follow a script: 'throw' fails the start, else the run publishes n and ends so. */
function scripted(script: Array<'throw' | { published: number; outcome?: ConnectorOutcome }>): Connector & { starts: number } {
  const connector = {
    name: 'fake',
    starts: 0,
    async start(): Promise<RunningConnector> {
      const step = script[connector.starts++] ?? { published: 0 };
      if (step === 'throw') throw new Error(`cannot reach upstream (attempt ${connector.starts})`);
      let end!: (o: ConnectorOutcome) => void;
      const done = new Promise<ConnectorOutcome>((r) => (end = r));
      if (step.outcome) setTimeout(() => end(step.outcome as ConnectorOutcome), 5);
      return { name: 'fake', done, stop: async () => end({ ok: true }), status: () => ({ name: 'fake', state: 'running', published: step.published }) };
    },
  };
  return connector;
}

describe('superviseConnector', () => {
  it('retries a start that fails, says why meanwhile, and runs once upstream answers', async () => {
    const connector = scripted(['throw', 'throw', { published: 3 }]);
    const failures: string[] = [];
    const running = superviseConnector(connector, ctx, { minDelayMs: 40, onFailure: (name, error) => failures.push(`${name}: ${error}`) });
    await eventually(() => running.status().state === 'retrying');
    expect(running.status()).toMatchObject({ name: 'fake', state: 'retrying', published: 0, lastError: 'cannot reach upstream (attempt 1)', details: { restarts: 1 } });
    expect(running.status().details?.retryAt).toEqual(expect.any(String));
    await eventually(() => running.status().state === 'running');
    expect(connector.starts).toBe(3);
    expect(failures).toEqual(['fake: cannot reach upstream (attempt 1)', 'fake: cannot reach upstream (attempt 2)']);
    expect(running.status()).toMatchObject({ state: 'running', published: 3, details: { restarts: 2 } });
    expect(running.status().details?.retryAt).toBeUndefined();
    await running.stop();
    expect(running.status().state).toBe('stopped');
  });

  it('starts a run that failed again, keeping the count of what it published', async () => {
    const connector = scripted([{ published: 5, outcome: { ok: false, error: 'replication slot dropped' } }, { published: 2 }]);
    const running = superviseConnector(connector, ctx, { minDelayMs: 10 });
    await eventually(() => connector.starts === 2 && running.status().state === 'running');
    expect(running.status()).toMatchObject({ published: 7, details: { restarts: 1 } });
    expect(running.status().lastError).toBeUndefined();
    await running.stop();
  });

  it('does not start again a run that ended well, and its name can be given', async () => {
    const connector = scripted([{ published: 1, outcome: { ok: true } }]);
    const running = superviseConnector(connector, ctx, { minDelayMs: 10, name: 'fake-2' });
    expect(await running.done).toEqual({ ok: true });
    await new Promise((r) => setTimeout(r, 50));
    expect(connector.starts).toBe(1);
    expect(running.status()).toMatchObject({ name: 'fake-2', state: 'stopped', published: 1 });
  });

  it('stops at once while it waits to retry', async () => {
    const connector = scripted(['throw']);
    const running = superviseConnector(connector, ctx, { minDelayMs: 60_000 });
    await eventually(() => running.status().state === 'retrying');
    const asked = Date.now();
    await running.stop();
    expect(Date.now() - asked).toBeLessThan(1000);
    expect(connector.starts).toBe(1);
    expect(running.status().state).toBe('stopped');
  });

  it('doubles the wait per failure in a row, up to the longest wait', async () => {
    const connector = scripted(Array.from({ length: 50 }, () => 'throw' as const));
    const waits: number[] = [];
    const running = superviseConnector(connector, ctx, { minDelayMs: 10, maxDelayMs: 40, onFailure: () => setImmediate(() => waits.push(Date.parse(String(running.status().details?.retryAt)) - Date.now())) });
    await eventually(() => waits.length >= 6);
    await running.stop();
    // 10, 20, 40, 40 …: each measured a moment after it was set, so at most the wait itself.
    expect(waits.slice(0, 6).every((w) => w <= 40)).toBe(true);
    expect(Math.max(...waits.slice(3, 6))).toBeGreaterThan(20);
  });
});

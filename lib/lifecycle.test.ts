// startScoped hands back the error a program failed with or threw, with its class and message, and releases what it acquired.
import * as Effect from 'effect/Effect';
import { describe, expect, it, vi } from 'vitest';
import { ConfigError } from './errors.ts';
import { attempt, resource, SLOW_RELEASE_MS, startScoped } from './lifecycle.ts';
import { createLogger } from './log.ts';

describe('startScoped', () => {
  it('throws the error itself whether the program failed with it or threw it, after releasing what it had acquired', async () => {
    const released: string[] = [];
    const acquire = Effect.acquireRelease(Effect.succeed('nats'), () => Effect.sync(() => released.push('nats')));
    const threw = Effect.gen(function* () {
      yield* acquire;
      throw new ConfigError('SPANDA_CHUNK_OVERLAP=500: too large');
    });
    const failed = Effect.gen(function* () {
      yield* acquire;
      return yield* attempt(() => Promise.reject(new ConfigError('no NATS')));
    });
    for (const [program, message] of [[threw, 'SPANDA_CHUNK_OVERLAP=500: too large'], [failed, 'no NATS']] as const) {
      const err = await startScoped(program).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigError);
      // The message alone: a defect's rendering used to carry the stack trace into what the CLI printed.
      expect((err as Error).message).toBe(message);
    }
    expect(released).toEqual(['nats', 'nats']);
  });
});

describe('resource', () => {
  it('names a resource whose stop hangs, every SLOW_RELEASE_MS while it does, and nothing for a quick one', async () => {
    vi.useFakeTimers();
    try {
      const lines: Array<{ level: string; message: string }> = [];
      const logger = createLogger('test', 'debug', (line) => lines.push(JSON.parse(line)), { format: 'json' });
      let stopHung: () => void = () => undefined;
      const program = Effect.gen(function* () {
        yield* resource('NATS connection', logger, async () => 'nats', () => new Promise<void>((resolve) => (stopHung = resolve)));
        yield* resource('API server', logger, async () => 'api', async () => undefined);
      });
      const started = await startScoped(program);
      const closing = started.close();
      await vi.advanceTimersByTimeAsync(SLOW_RELEASE_MS * 2 + 1);
      stopHung();
      await closing;
      await vi.advanceTimersByTimeAsync(SLOW_RELEASE_MS * 2);
      expect(lines.map((l) => [l.level, l.message])).toEqual([
        ['warn', 'stopping NATS connection is taking long'],
        ['warn', 'stopping NATS connection is taking long'],
      ]);
    } finally {
      vi.useRealTimers();
    }
  });
});

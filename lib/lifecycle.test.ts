// startScoped hands back the error a program failed with or threw, with its class and message, and releases what it acquired.
import * as Effect from 'effect/Effect';
import { describe, expect, it } from 'vitest';
import { ConfigError } from './errors.ts';
import { attempt, startScoped } from './lifecycle.ts';

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

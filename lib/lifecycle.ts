// Resource lifetimes with Effect: acquire in order, release in reverse on shutdown or failure, and run until a signal.
import * as Cause from 'effect/Cause';
import * as Effect from 'effect/Effect';
import * as Exit from 'effect/Exit';
import * as Scope from 'effect/Scope';
import { errorMessage } from './errors.ts';
import type { Logger } from './log.ts';

/** A promise-returning call as an Effect whose failure keeps the error's class (Effect.promise would make it a defect). */
export function attempt<A>(run: () => Promise<A>): Effect.Effect<A, Error> {
  return Effect.tryPromise({ try: run, catch: (err) => (err instanceof Error ? err : new Error(String(err))) });
}

/** How long a resource may take to stop before the log says which one is still stopping (and again as often). */
export const SLOW_RELEASE_MS = 15_000;

/** A resource acquired by a promise and released by another; release errors are logged, never thrown. */
export function resource<A>(name: string, logger: Logger, acquire: () => Promise<A>, release: (a: A) => Promise<void>): Effect.Effect<A, Error, Scope.Scope> {
  return Effect.acquireRelease(
    attempt(acquire),
    (a) =>
      // Cannot fail: a release error is logged, and the remaining resources are still released.
      Effect.promise(async () => {
        // A stop that hangs (a broker that no longer answers, a stuck thread) is named while it hangs.
        const started = Date.now();
        const slow = setInterval(() => logger.warn(`stopping ${name} is taking long`, { waitedMs: Date.now() - started }), SLOW_RELEASE_MS);
        slow.unref();
        try {
          await release(a);
        } catch (err) {
          logger.warn(`stopping ${name} failed`, { error: errorMessage(err) });
        } finally {
          clearInterval(slow);
        }
      }),
  );
}

export interface Started<A> {
  readonly value: A;
  /** Releases every resource in reverse order of acquisition. */
  close(): Promise<void>;
}

/** Acquires a scoped program and hands back its value with a close() (for tests and embedding in other programs). */
export async function startScoped<A>(program: Effect.Effect<A, Error, Scope.Scope>): Promise<Started<A>> {
  const scope = Effect.runSync(Scope.make());
  const exit = await Effect.runPromiseExit(Scope.extend(program, scope));
  if (Exit.isFailure(exit)) {
    await Effect.runPromise(Scope.close(scope, exit));
    // The error itself, whether the program failed with it or threw it (a defect): its class decides how the CLI
    // reports it, and a defect's rendering would carry its stack into the message.
    const failure: unknown = Cause.squash(exit.cause);
    throw failure instanceof Error ? failure : new Error(errorMessage(failure));
  }
  let closing: Promise<void> | undefined;
  return {
    value: exit.value,
    close: () => {
      closing ??= Effect.runPromise(Scope.close(scope, Exit.void));
      return closing;
    },
  };
}

/**
 * Runs a scoped program until SIGINT or SIGTERM, then releases everything gracefully (the API stops accepting and
 * finishes requests in flight, processors finish their batch and drain, NATS drains last).
 * A second signal while shutting down exits at once. `signals` is the process unless a test passes its own emitter.
 */
export async function runUntilSignal<A>(
  program: Effect.Effect<A, Error, Scope.Scope>,
  logger: Logger,
  onStarted: (value: A) => void,
  signals: Pick<NodeJS.EventEmitter, 'on' | 'off'> = process,
): Promise<void> {
  const started = await startScoped(program);
  onStarted(started.value);
  await new Promise<void>((resolve) => {
    let shuttingDown = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (shuttingDown) {
        logger.warn(`second ${signal}: exiting without waiting`);
        process.exit(130);
      }
      shuttingDown = true;
      logger.info(`${signal} received: finishing requests in flight, draining consumers and stopping`);
      void started.close().then(finish, finish);
    };
    const finish = () => {
      signals.off('SIGINT', onSignal);
      signals.off('SIGTERM', onSignal);
      logger.info('stopped');
      resolve();
    };
    signals.on('SIGINT', onSignal);
    signals.on('SIGTERM', onSignal);
  });
}

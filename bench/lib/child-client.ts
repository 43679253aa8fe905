// Runs a benchmark client in a process of its own: a plain Node script (input as JSON on stdin, result on stdout), or the load publisher.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fromRoot } from './common.ts';
import type { LoadPublisherInput } from './load-publisher.ts';

/** Runs `script` with `input` on stdin and parses what it printed; rejects when it exits with a failure. */
export async function runChildClient<T>(script: string, input: Record<string, unknown>, what: string): Promise<T> {
  const child = spawn(process.execPath, [script], { stdio: ['pipe', 'pipe', 'inherit'] });
  const out: Buffer[] = [];
  child.stdout.on('data', (d: Buffer) => out.push(d));
  const exited = new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => resolve(code ?? 1));
  });
  child.stdin.end(JSON.stringify(input));
  const code = await exited;
  if (code !== 0) throw new Error(`the ${what} process exited with code ${code}`);
  return JSON.parse(Buffer.concat(out).toString('utf8')) as T;
}

export interface LoadPublisher {
  /** Starts publishing (the process has connected and made its documents). */
  go(): void;
  /** Stops a rate (a burst stops by itself) and resolves with what was published once the process has exited. */
  stop(): Promise<{ sent: number; seconds: number }>;
  /** Resolves as `stop` does, once the process is done (a burst: all published). */
  readonly done: Promise<{ sent: number; seconds: number }>;
}

/**
 * Starts bench/lib/load-publisher.ts in a process of its own (an upstream system publishing to DOCUMENTS, as a
 * deployment's are) and resolves once it is connected and ready to start.
 */
export async function startLoadPublisher(input: LoadPublisherInput): Promise<LoadPublisher> {
  const child = spawn(process.execPath, ['--import', 'tsx', fromRoot('bench/lib/load-publisher.ts')], { stdio: ['pipe', 'pipe', 'inherit'], cwd: fromRoot('.') });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const exited = new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => resolve(code ?? 1));
  });
  const read = async <T>(): Promise<T> => {
    const line = await lines.next();
    if (line.done) throw new Error(`the load publisher exited with code ${await exited} before it finished (its error is printed above)`);
    return JSON.parse(line.value) as T;
  };
  child.stdin.write(`${JSON.stringify(input)}\n`);
  await read<{ ready: true }>();
  const done = (async () => {
    const result = await read<{ sent: number; seconds: number }>();
    const code = await exited;
    if (code !== 0) throw new Error(`the load publisher exited with code ${code}`);
    return result;
  })();
  done.catch(() => undefined);
  return {
    go: () => child.stdin.write('go\n'),
    stop: () => {
      child.stdin.end('stop\n');
      return done;
    },
    done,
  };
}

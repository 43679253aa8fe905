// Test helper: drive the spanda command as a user does — `spanda up` as a child process, one-shot commands, HTTP calls.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

export const BIN = path.resolve('bin/spanda.js');

export interface Up {
  readonly child: ChildProcess;
  readonly api: string;
  readonly banner: Record<string, unknown>;
  readonly output: () => string;
}

/** Starts `spanda up --json` and resolves with its banner once it prints one; rejects with its output if it exits first. */
export function startUp(args: string[], env: Record<string, string> = {}, timeoutMs = 120_000): Promise<Up> {
  const child = spawn(process.execPath, [BIN, 'up', '--json', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`spanda up did not come up in ${timeoutMs / 1000} s:\n${out}`)), timeoutMs);
    child.stdout?.on('data', () => {
      const line = out.split('\n').find((l) => l.startsWith('{"status":"up"'));
      if (line) {
        clearTimeout(timer);
        const banner = JSON.parse(line) as Record<string, unknown>;
        resolve({ child, api: banner.api as string, banner, output: () => out });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`spanda up exited with ${code}:\n${out}`));
    });
  });
}

/** Runs a spanda command to completion and returns its exit code and output. */
export function runCli(args: string[], env: Record<string, string> = {}, input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdin.end(input ?? '');
    child.once('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** Resolves with the exit code once the child has exited (at once if it already has). */
export const exited = (child: ChildProcess): Promise<number | null> =>
  new Promise((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', (code) => resolve(code))));

/**
 * Polls `probe` until `accept` holds (errors count as not yet); fails with the last value after `timeoutMs`, followed by
 * what `context` gives (a child's output, say).
 */
export async function eventually<T>(probe: () => Promise<T>, accept: (v: T) => boolean, timeoutMs = 60_000, context?: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    try {
      last = await probe();
      if (accept(last)) return last;
    } catch {
      // not ready yet
    }
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms; last: ${String(JSON.stringify(last)).slice(0, 400)}${context ? `\n${context()}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

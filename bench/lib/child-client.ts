// Runs a benchmark client script in a process of its own (plain Node, no loader): input as JSON on stdin, result as JSON on stdout.
import { spawn } from 'node:child_process';

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

// Other processes by pid: is one alive, and is it the program we think (pid files outlive the processes they name).
import { readFile } from 'node:fs/promises';

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** True when `pid` is alive and its command line contains `needle` (guards against a recycled pid). */
export async function isProcessRunning(pid: number, needle: string): Promise<boolean> {
  if (!isAlive(pid)) return false;
  try {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes(needle);
  } catch {
    // No /proc (macOS): trust the pid file if the process is alive.
    return true;
  }
}

// Test helper: hanging a process (SIGSTOP) and knowing it has taken effect.
import { readFile } from 'node:fs/promises';

/**
 * SIGSTOPs `pid` and resolves once the kernel shows it stopped (Linux /proc; elsewhere at once): the signal takes
 * effect asynchronously, and a server still running for a moment may answer what a test sends right after it.
 */
export async function hangProcess(pid: number, timeoutMs = 5_000): Promise<void> {
  process.kill(pid, 'SIGSTOP');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let state: string;
    try {
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
      state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    } catch {
      return; // no /proc here: nothing better to wait on
    }
    if (state === 'T') return;
    if (Date.now() > deadline) throw new Error(`process ${pid} did not stop within ${timeoutMs} ms of SIGSTOP (state ${state})`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

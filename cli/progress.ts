// Progress on stderr: a bar with rate and ETA on a terminal; plain lines now and then in a pipe or a log file.
export interface ProgressBar {
  update(label: string, done: number, total: number): void;
  finish(): void;
}

export function progressBar(enabled = process.stderr.isTTY === true): ProgressBar {
  if (!enabled) return { update: () => undefined, finish: () => undefined };
  let started = Date.now();
  let current: string | undefined;
  let lastDraw = 0;
  let drawn = false;
  return {
    update(label, done, total) {
      const now = Date.now();
      if (label !== current) {
        // A new phase or slice: its rate and ETA count from here, on a line of its own.
        if (drawn) process.stderr.write('\n');
        current = label;
        started = now;
        lastDraw = 0;
      }
      if (now - lastDraw < 100 && done < total) return;
      lastDraw = now;
      const fraction = total > 0 ? Math.min(1, done / total) : 1;
      const width = 30;
      const filled = Math.round(fraction * width);
      const seconds = Math.max(0.001, (now - started) / 1000);
      const rate = done / seconds;
      const eta = rate > 0 && total > done ? `${Math.ceil((total - done) / rate)} s` : '–';
      process.stderr.write(
        `\r${label.padEnd(9)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}%  ${done}/${total}  ${Math.round(rate)}/s  ETA ${eta}   `,
      );
      drawn = true;
    },
    finish() {
      // Idempotent: a command finishes before printing its result and again on its way out (errors included).
      if (drawn) process.stderr.write('\n');
      drawn = false;
      current = undefined;
    },
  };
}

/** How often a long command reports where it stands when stderr is not a terminal. */
export const PROGRESS_LINE_EVERY_MS = 5000;

/**
 * Progress of a long command (replay, verify): the bar on a terminal; in a pipe or a log file a plain line when a
 * phase starts and then at most every `everyMs` (a script or CI log shows that the command is alive and where it
 * waits); nothing when `quiet` (--json).
 */
export function progressReporter(quiet: boolean, terminal = process.stderr.isTTY === true, everyMs = PROGRESS_LINE_EVERY_MS): ProgressBar {
  if (quiet) return progressBar(false);
  if (terminal) return progressBar(true);
  let current: string | undefined;
  let phaseStarted = 0;
  let lastAt = 0;
  let ended = false;
  return {
    update(label, done, total) {
      const now = Date.now();
      const end = done >= total;
      if (label !== current) {
        current = label;
        phaseStarted = now;
        ended = false;
      } else if (end ? ended : now - lastAt < everyMs) return;
      ended = end;
      lastAt = now;
      const percent = total > 0 ? Math.floor((Math.min(done, total) / total) * 100) : 100;
      const seconds = Math.round((now - phaseStarted) / 1000);
      process.stderr.write(`${label}: ${done}/${total} (${percent}%)${seconds > 0 ? `, ${seconds} s` : ''}\n`);
    },
    finish: () => undefined,
  };
}

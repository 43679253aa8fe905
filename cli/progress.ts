// A progress bar with rate and ETA on a terminal (stderr); silent when stderr is not a terminal or output is JSON.
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

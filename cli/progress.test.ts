// The terminal progress bar: one line per phase, redrawn in place, rate and ETA counted from the phase's start.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { progressBar } from './progress.ts';

describe('progressBar', () => {
  afterEach(() => vi.restoreAllMocks());

  it('redraws a phase in place and starts a new line for the next phase', () => {
    const out: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out.push(String(chunk));
      return true;
    });
    const bar = progressBar(true);
    bar.update('CHUNKS', 0, 4);
    bar.update('CHUNKS', 4, 4);
    bar.update('EMBEDDINGS', 2, 2);
    bar.finish();
    bar.finish(); // a command finishes before its result and again on its way out: one newline
    const text = out.join('');
    const lines = text.split('\n');
    expect(lines).toHaveLength(3); // two phases, then the final newline
    expect(lines[0]).toMatch(/^\rCHUNKS +\[\.+\] +0% +0\/4 .*\rCHUNKS +\[#+\] 100% +4\/4 /);
    expect(lines[1]).toMatch(/^\rEMBEDDINGS \[#{30}\] 100% +2\/2 /);
    expect(lines[2]).toBe('');
  });

  it('writes nothing when disabled', () => {
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const bar = progressBar(false);
    bar.update('x', 1, 2);
    bar.finish();
    expect(write).not.toHaveBeenCalled();
  });
});

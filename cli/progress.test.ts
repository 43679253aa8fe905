// The terminal progress bar: one line per phase, redrawn in place, rate and ETA counted from the phase's start.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { progressBar, progressReporter } from './progress.ts';

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

  it('writes plain lines off a terminal: one when a phase starts, then at most every few seconds, and the end', () => {
    const out: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out.push(String(chunk));
      return true;
    });
    let now = 1_000_000;
    vi.spyOn(Date, 'now').mockImplementation(() => now);
    const progress = progressReporter(false, false, 5000);
    progress.update('backfill embedder hash-256', 0, 13);
    now += 1000;
    progress.update('backfill embedder hash-256', 0, 13); // within 5 s: nothing
    now += 5000;
    progress.update('backfill embedder hash-256', 0, 13); // still waiting: a line shows it is alive and for how long
    progress.update('backfill embedder hash-256', 5, 13); // within 5 s of that line: nothing
    now += 500;
    progress.update('backfill embedder hash-256', 13, 13); // the end of a phase always shows, once
    progress.update('backfill embedder hash-256', 13, 13);
    progress.update('project', 0, 40);
    progress.finish();
    expect(out).toEqual([
      'backfill embedder hash-256: 0/13 (0%)\n',
      'backfill embedder hash-256: 0/13 (0%), 6 s\n',
      'backfill embedder hash-256: 13/13 (100%), 7 s\n',
      'project: 0/40 (0%)\n',
    ]);
  });

  it('reports nothing when quiet (--json), and draws the bar on a terminal', () => {
    const out: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out.push(String(chunk));
      return true;
    });
    progressReporter(true, false).update('x', 1, 2);
    progressReporter(true, true).update('x', 1, 2);
    expect(out).toEqual([]);
    progressReporter(false, true).update('x', 1, 2);
    expect(out.join('')).toMatch(/^\rx +\[#{15}\.{15}\] +50% +1\/2 /);
  });
});

// Replay progress counts events this run applies, whatever the stream sequences say.
import { describe, expect, it } from 'vitest';
import { catchUpProgress } from './catch-up-progress.ts';

const at = (key: string, applied: number, pending: number, read: number) => ({ key, stream: key.split(':')[0] as string, applied, pending, read });

describe('catchUpProgress', () => {
  it('shows nothing until a source has counted its slice', () => {
    expect(catchUpProgress([at('CHUNKS', 0, 0, 0), at('EMBEDDINGS:m', 0, 0, 0)], false)).toBeUndefined();
  });

  it('counts a resumed build from where it resumed, not from sequence 1', () => {
    // Resumed at sequence 900,000 of CHUNKS, 20 events applied since, 80 to go; EMBEDDINGS' sequences are another model's too.
    expect(catchUpProgress([at('CHUNKS', 900_020, 80, 20), at('EMBEDDINGS:m', 1_800_040, 180, 40)], false)).toEqual({ applied: 60, total: 320 });
  });

  it('ends at applied = total once caught up, even with events published past the target still pending', () => {
    expect(catchUpProgress([at('CHUNKS', 100, 3, 100), at('EMBEDDINGS:m', 300, 0, 100)], true)).toEqual({ applied: 200, total: 200 });
  });
});

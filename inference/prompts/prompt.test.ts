// Prompt templates: chosen by name and version, passages numbered by rank under a token budget, citations read back.
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../lib/errors.ts';
import { citedMarkers, loadTemplates, promptTemplate, renderPrompt, truncateToTokens } from './prompt.ts';

describe('prompt templates', () => {
  it('loads every template file and picks by name (latest version) or name@version', () => {
    expect(loadTemplates().map((t) => `${t.name}@${t.version}`).sort()).toEqual(['concise@1', 'grounded@1']);
    expect(promptTemplate('grounded').version).toBe(1);
    expect(promptTemplate('concise@1').name).toBe('concise');
    expect(() => promptTemplate('nope')).toThrow(ConfigError);
    expect(() => promptTemplate('nope')).toThrow(/SPANDA_PROMPT=nope.*grounded@1/);
  });

  it('numbers passages by rank, cuts long ones, and stops at the context budget', () => {
    const t = { ...promptTemplate('grounded'), budget: { contextTokens: 120, passageTokens: 50, minPassageTokens: 20 } };
    const long = 'First sentence here. '.repeat(40);
    const p = renderPrompt(t, 'q?', [
      { chunkId: 'a', title: 'A', text: long },
      { chunkId: 'b', title: 'B', text: 'Short one.' },
      { chunkId: 'c', title: 'C', text: long },
      { chunkId: 'd', title: 'D', text: long },
    ]);
    expect(p.passages.map((x) => x.n)).toEqual([1, 2, 3]);
    expect(p.passages[0]?.truncated).toBe(true);
    expect(p.passages[0]?.text.length).toBeLessThanOrEqual(50 * 4 + 2);
    expect(p.passages[1]).toMatchObject({ text: 'Short one.', truncated: false });
    expect(p.contextTokens).toBeLessThanOrEqual(120);
    expect(p.messages.map((m) => m.role)).toEqual(['system', 'user']);
    expect(p.messages[1]?.content).toContain('[2] B\nShort one.');
    expect(p.messages[1]?.content).toContain('Question: q?');
    expect(p.template).toEqual({ name: 'grounded', version: 1 });
  });

  it('shows passage text verbatim, and a passage without a title as "[n]" on its own line', () => {
    const text = 'See the table [2] \nbelow, then [3] \nafter it.';
    const p = renderPrompt(promptTemplate('grounded'), 'q?', [
      { chunkId: 'a', title: 'Titled', text },
      { chunkId: 'b', text },
    ]);
    const user = p.messages.at(-1)?.content ?? '';
    expect(user).toContain(`[1] Titled\n${text}\n\n[2]\n${text}\n\nQuestion: q?`);
  });

  it('cuts at a sentence end when one is in reach', () => {
    expect(truncateToTokens('One two three. Four five six seven eight nine.', 5)).toEqual({ text: 'One two three. …', truncated: true });
    expect(truncateToTokens('short', 5)).toEqual({ text: 'short', truncated: false });
  });

  it('reads citation markers in order of first use, within range', () => {
    expect(citedMarkers('A [2]. B [1][2]. C [3, 1]. D [9]. E [0].', 3)).toEqual([2, 1, 3]);
  });
});

// Extractive answers quote the retrieved sentences that best match the question and cite them as [n].
import { describe, expect, it } from 'vitest';
import { extractiveAnswer } from './extractive-answer.ts';

describe('extractiveAnswer', () => {
  it('quotes the sentences sharing the most words with the question, each cited with its result number', () => {
    const { answer, cited } = extractiveAnswer('Why do stratovolcanoes erupt explosively?', [
      { text: 'Volcanoes come in many shapes. Stratovolcanoes erupt explosively because their magma is viscous and traps gas.' },
      { text: 'Shield volcanoes erupt gently. Their basalt lava is runny.' },
    ]);
    expect(answer).toMatch(/^Stratovolcanoes erupt explosively because their magma is viscous and traps gas\. \[1\]/);
    expect(answer).not.toMatch(/many shapes/);
    expect(cited[0]).toBe(1);
  });

  it('presents cited sentences in reading order across results', () => {
    const { answer } = extractiveAnswer('okapi giraffe forest', [
      { text: 'The okapi is a forest giraffe.' },
      { text: 'An okapi has striped legs like a zebra, yet it is a giraffe.' },
    ]);
    expect(answer.indexOf('[1]')).toBeLessThan(answer.indexOf('[2]'));
  });

  it('says so when nothing was retrieved, and quotes the best result when no words overlap', () => {
    expect(extractiveAnswer('anything', []).answer).toMatch(/No indexed document/);
    const { answer, cited } = extractiveAnswer('zzz', [{ text: 'Tardigrades survive the vacuum of space for days.' }]);
    expect(answer).toBe('Tardigrades survive the vacuum of space for days. [1]');
    expect(cited).toEqual([1]);
  });

  it('quotes a sentence once when overlapping chunks both hold it, whole or its end', () => {
    const { answer, cited } = extractiveAnswer('sentence boundary near', [
      { text: 'Chunks overlap by a few words. Splitting in the middle of a sentence is avoided whenever a sentence boundary is near.' },
      { text: 'Splitting in the middle of a sentence is avoided whenever a sentence boundary is near. Then the next chunk goes on.' },
      { text: 'is avoided whenever a sentence boundary is near. A third chunk.' },
    ]);
    expect(answer.match(/boundary is near/g)).toHaveLength(1);
    expect(answer).toMatch(/^Splitting in the middle of a sentence is avoided whenever a sentence boundary is near\. \[1\]/);
    expect(cited[0]).toBe(1);
  });
});

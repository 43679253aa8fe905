// Keyword terms for Qdrant: Porter stems as FTS5's porter tokenizer does, and queries and chunks share one notion of a term.
import { describe, expect, it } from 'vitest';
import { porterStem } from './porter.ts';
import { documentVector, queryTerms, queryVector, termIndex } from './terms.ts';

describe('porterStem', () => {
  it("gives the stems of Porter's published examples", () => {
    const cases: Record<string, string> = {
      caresses: 'caress', ponies: 'poni', ties: 'ti', caress: 'caress', cats: 'cat', feed: 'feed', agreed: 'agre',
      plastered: 'plaster', bled: 'bled', motoring: 'motor', sing: 'sing', conflated: 'conflat', troubled: 'troubl',
      sized: 'size', hopping: 'hop', tanned: 'tan', falling: 'fall', hissing: 'hiss', fizzed: 'fizz', failing: 'fail',
      filing: 'file', happy: 'happi', sky: 'sky', relational: 'relat', conditional: 'condit', rational: 'ration',
      digitizer: 'digit', vietnamization: 'vietnam', predication: 'predic', operator: 'oper', feudalism: 'feudal',
      decisiveness: 'decis', hopefulness: 'hope', callousness: 'callous', formaliti: 'formal', sensitiviti: 'sensit',
      sensibiliti: 'sensibl', triplicate: 'triplic', formative: 'form', formalize: 'formal', electriciti: 'electr',
      electrical: 'electr', hopeful: 'hope', goodness: 'good', revival: 'reviv', allowance: 'allow', inference: 'infer',
      airliner: 'airlin', gyroscopic: 'gyroscop', adjustable: 'adjust', defensible: 'defens', irritant: 'irrit',
      replacement: 'replac', adjustment: 'adjust', dependent: 'depend', adoption: 'adopt', communism: 'commun',
      activate: 'activ', effective: 'effect', bowdlerize: 'bowdler', probate: 'probat', rate: 'rate', cease: 'ceas',
      controll: 'control', roll: 'roll', generalizations: 'gener', oscillators: 'oscil', tomatoes: 'tomato', tomato: 'tomato',
    };
    expect(Object.fromEntries(Object.keys(cases).map((w) => [w, porterStem(w)]))).toEqual(cases);
  });

  it('leaves short words, digits and other scripts alone', () => {
    expect(['is', '2024', 'straße', 'мама'].map(porterStem)).toEqual(['is', '2024', 'straße', 'мама']);
  });
});

describe('keyword terms', () => {
  it('stems and folds diacritics the same way for queries and chunks', () => {
    expect(queryTerms('Tomatoes, CAFÉ and the grilling!')).toEqual(['tomato', 'cafe', 'grill']);
    const chunk = documentVector({ text: 'grilled tomato at the cafe' });
    const query = queryVector('tomatoes café grilling') as { indices: number[] };
    expect(query.indices.every((i) => chunk.indices.includes(i))).toBe(true);
  });

  it('finds no terms in text without words, and keeps stopwords when nothing else is left', () => {
    expect(queryVector('!!! ??? ***')).toBeUndefined();
    expect(queryTerms('to be or not to be')).toEqual(['to', 'be', 'or', 'not']);
  });

  it('weights a term by BM25 saturation: more occurrences weigh more, but less than linearly', () => {
    const once = documentVector({ text: 'salmon river' });
    const thrice = documentVector({ text: 'salmon salmon salmon' });
    const weight = (v: { indices: number[]; values: number[] }) => v.values[v.indices.indexOf(termIndex('salmon'))] as number;
    expect(weight(thrice)).toBeGreaterThan(weight(once));
    expect(weight(thrice)).toBeLessThan(3 * weight(once));
  });

  it('counts a title word 1.5 times a body word', () => {
    const body = documentVector({ text: 'salmon' });
    const titled = documentVector({ text: 'fish', title: 'salmon' });
    const at = (v: { indices: number[]; values: number[] }) => v.values[v.indices.indexOf(termIndex('salmon'))] as number;
    expect(at(titled)).toBeGreaterThan(at(body));
  });

  it('sends indices sorted and unique, as Qdrant requires', () => {
    const v = documentVector({ text: 'b a b c a', title: 'a', heading: 'c' });
    expect(v.indices).toEqual([...new Set(v.indices)].sort((a, b) => a - b));
  });
});

// Search options from configuration: keyword expansion reaches the search, and a store that cannot expand refuses at start.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../lib/config.ts';
import { ConfigError } from '../lib/errors.ts';
import { refuseExpansion } from '../projections/store.ts';
import { DEFAULT_SEARCH_OPTIONS, searchOptions } from './settings.ts';

describe('searchOptions', () => {
  it('passes SPANDA_KEYWORD_EXPANSION=rm3 to the search with the sqlite store, and none by default', () => {
    expect(searchOptions(loadConfig({}, {}))).toEqual(DEFAULT_SEARCH_OPTIONS);
    expect(searchOptions(loadConfig({ SPANDA_KEYWORD_EXPANSION: 'rm3' }, {}))).toEqual({ ...DEFAULT_SEARCH_OPTIONS, keywordExpansion: 'rm3' });
  });

  it('refuses rm3 at start when the serving store ranks keywords remotely, naming the settings', () => {
    for (const store of ['weaviate', 'qdrant']) {
      expect(() => searchOptions({ keywordExpansion: 'rm3', store })).toThrow(ConfigError);
      expect(() => searchOptions({ keywordExpansion: 'rm3', store })).toThrow(/SPANDA_KEYWORD_EXPANSION=rm3 .*sqlite store only .*SPANDA_STORE is/);
      expect(() => refuseExpansion(store, { tenant: 't', limit: 5, text: 'x', expansion: 'rm3' })).toThrow(/unset SPANDA_KEYWORD_EXPANSION/);
    }
    expect(() => refuseExpansion('qdrant', { tenant: 't', limit: 5, text: 'x' })).not.toThrow();
  });

  it('names the setting when the value is unknown', () => {
    expect(() => loadConfig({ SPANDA_KEYWORD_EXPANSION: 'bm25+' }, {})).toThrow(/SPANDA_KEYWORD_EXPANSION/);
  });
});

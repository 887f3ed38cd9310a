import { describe, expect, it } from '@jest/globals';
import { compileFilter, InvalidFilterError, typePatternError, typePatternToRegex } from '../src/index.js';

const event = (type: string, sourceid = 'src-1') => ({ type, sourceid });

describe('compileFilter', () => {
  it('matches everything when empty', () => {
    const filter = compileFilter({});
    expect(filter.matchesEverything).toBe(true);
    expect(filter.matches(event('seatable.row.inserted'))).toBe(true);
  });

  it('matches literal types exactly', () => {
    const filter = compileFilter({ types: ['seatable.row.inserted'] });
    expect(filter.matches(event('seatable.row.inserted'))).toBe(true);
    expect(filter.matches(event('seatable.row.inserted.extra'))).toBe(false);
    expect(filter.matches(event('seatable.row.modified'))).toBe(false);
  });

  it('lets * match exactly one segment', () => {
    const filter = compileFilter({ types: ['jellyfish.peer.*'] });
    expect(filter.matches(event('jellyfish.peer.connected'))).toBe(true);
    expect(filter.matches(event('jellyfish.peer'))).toBe(false);
    expect(filter.matches(event('jellyfish.peer.a.b'))).toBe(false);
    expect(filter.matches(event('jellyfish.room.created'))).toBe(false);
    expect(compileFilter({ types: ['*.row.*'] }).matches(event('seatable.row.deleted'))).toBe(true);
  });

  it('lets a trailing ** match any rest of at least one segment', () => {
    const filter = compileFilter({ types: ['seatable.**'] });
    expect(filter.matches(event('seatable.row.inserted'))).toBe(true);
    expect(filter.matches(event('seatable.op.rename_column'))).toBe(true);
    expect(filter.matches(event('seatable'))).toBe(false);
    expect(filter.matches(event('jellyfish.room.created'))).toBe(false);
    expect(compileFilter({ types: ['**'] }).matchesEverything).toBe(true);
  });

  it('combines types and sources', () => {
    const filter = compileFilter({ types: ['seatable.**'], sources: ['a'] });
    expect(filter.matches(event('seatable.row.inserted', 'a'))).toBe(true);
    expect(filter.matches(event('seatable.row.inserted', 'b'))).toBe(false);
    expect(filter.matchesEverything).toBe(false);
  });

  it.each([['seatable..row'], ['seatable.**.row'], ['Seatable.row'], ['a b'], [''], ['seatable.r*w']])(
    'rejects the bad pattern %j',
    (pattern) => {
      expect(typePatternError(pattern)).toBeDefined();
      expect(() => compileFilter({ types: [pattern] })).toThrow(InvalidFilterError);
    },
  );

  it('refuses oversized filters', () => {
    expect(() => compileFilter({ types: Array.from({ length: 101 }, (_, i) => `t${i}`) })).toThrow(
      InvalidFilterError,
    );
  });
});

describe('typePatternToRegex', () => {
  const cases: Array<[string, string, boolean]> = [
    ['seatable.row.*', 'seatable.row.inserted', true],
    ['seatable.row.*', 'seatable.row.a.b', false],
    ['seatable.**', 'seatable.x.y', true],
    ['seatable.**', 'seatable', false],
    ['seatable.**', 'seatablex.y', false],
    ['a.b', 'a.b', true],
    ['a.b', 'axb', false],
    ['**', 'anything.at.all', true],
  ];
  it.each(cases)('%s against %s is %s, like the in-memory matcher', (pattern, type, expected) => {
    expect(new RegExp(typePatternToRegex(pattern)).test(type)).toBe(expected);
    expect(compileFilter({ types: [pattern] }).matchesType(type)).toBe(expected);
  });
});

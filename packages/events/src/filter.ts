import { MAX_TYPE_LENGTH } from './event-types.js';

/** What a subscription or endpoint wants: type patterns and source ids. Empty lists match everything. */
export interface EventFilter {
  types?: readonly string[];
  sources?: readonly string[];
}

/** The fields a filter looks at, so both envelopes and stored rows can be matched. */
export interface Filterable {
  type: string;
  sourceid: string;
}

export class InvalidFilterError extends Error {
  constructor(
    message: string,
    readonly pattern?: string,
  ) {
    super(message);
    this.name = 'InvalidFilterError';
  }
}

export const MAX_FILTER_PATTERNS = 100;
const SEGMENT = /^[a-z0-9_-]+$/;

/** A type pattern split once: literal segments, `*` (one segment), and a trailing `**` (any rest). */
interface CompiledPattern {
  segments: readonly string[];
  openEnded: boolean;
}

export interface CompiledFilter {
  readonly matchesEverything: boolean;
  matchesType(type: string): boolean;
  matches(event: Filterable): boolean;
}

/**
 * Checks a type pattern and returns why it is bad, or undefined. Used for request validation so the
 * caller gets one message per bad pattern.
 */
export function typePatternError(pattern: string): string | undefined {
  if (typeof pattern !== 'string' || pattern.length === 0) return 'a type pattern must be a non-empty string';
  if (pattern.length > MAX_TYPE_LENGTH) return `a type pattern is at most ${MAX_TYPE_LENGTH} characters`;
  const segments = pattern.split('.');
  for (const [index, segment] of segments.entries()) {
    if (segment === '*') continue;
    if (segment === '**') {
      if (index !== segments.length - 1) return `"**" may only be the last segment of "${pattern}"`;
      continue;
    }
    if (!SEGMENT.test(segment)) {
      return `"${pattern}" has an invalid segment "${segment}" (use a-z, 0-9, _, -, "*" or a trailing "**")`;
    }
  }
  return undefined;
}

function compilePattern(pattern: string): CompiledPattern {
  const error = typePatternError(pattern);
  if (error) throw new InvalidFilterError(error, pattern);
  const segments = pattern.split('.');
  const openEnded = segments[segments.length - 1] === '**';
  return { segments: openEnded ? segments.slice(0, -1) : segments, openEnded };
}

function patternMatches(pattern: CompiledPattern, typeSegments: readonly string[]): boolean {
  const { segments, openEnded } = pattern;
  if (openEnded ? typeSegments.length <= segments.length : typeSegments.length !== segments.length) {
    return false;
  }
  for (let i = 0; i < segments.length; i++) {
    const expected = segments[i];
    if (expected !== '*' && expected !== typeSegments[i]) return false;
  }
  return true;
}

/**
 * Compiles a filter once for hot-path matching: literal patterns become a set lookup, wildcard
 * patterns are pre-split, and each distinct type's verdict is memoised (types are a small, closed set
 * in practice; the memo is bounded anyway).
 */
export function compileFilter(filter: EventFilter = {}): CompiledFilter {
  const types = filter.types ?? [];
  const sources = filter.sources ?? [];
  if (types.length > MAX_FILTER_PATTERNS || sources.length > MAX_FILTER_PATTERNS) {
    throw new InvalidFilterError(`a filter holds at most ${MAX_FILTER_PATTERNS} types and sources`);
  }
  for (const source of sources) {
    if (typeof source !== 'string' || source.length === 0) {
      throw new InvalidFilterError('a source filter entry must be a non-empty string');
    }
  }
  const literals = new Set<string>();
  const wildcards: CompiledPattern[] = [];
  for (const pattern of types) {
    const compiled = compilePattern(pattern);
    if (!compiled.openEnded && !compiled.segments.includes('*')) literals.add(pattern);
    else wildcards.push(compiled);
  }
  const anyType = types.length === 0 || wildcards.some((p) => p.openEnded && p.segments.length === 0);
  const sourceSet = sources.length === 0 ? undefined : new Set(sources);
  const memo = new Map<string, boolean>();
  const MEMO_LIMIT = 10_000;

  const matchesType = (type: string): boolean => {
    if (anyType || literals.has(type)) return true;
    if (wildcards.length === 0) return false;
    const cached = memo.get(type);
    if (cached !== undefined) return cached;
    const typeSegments = type.split('.');
    const verdict = wildcards.some((pattern) => patternMatches(pattern, typeSegments));
    if (memo.size >= MEMO_LIMIT) memo.clear();
    memo.set(type, verdict);
    return verdict;
  };

  return {
    matchesEverything: anyType && !sourceSet,
    matchesType,
    matches: (event) => (!sourceSet || sourceSet.has(event.sourceid)) && matchesType(event.type),
  };
}

/**
 * Turns a type pattern into an anchored POSIX regular expression with the same meaning, so stores can
 * filter in SQL (`type ~ ANY($patterns)`) without re-checking rows in code.
 */
export function typePatternToRegex(pattern: string): string {
  const { segments, openEnded } = compilePattern(pattern);
  const body = segments.map((s) => (s === '*' ? '[^.]+' : s)).join('\\.');
  if (!openEnded) return `^${body}$`;
  return segments.length === 0 ? '^' : `^${body}\\.`;
}

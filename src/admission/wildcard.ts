// Kyverno's glob matching (`ext/wildcard`, a wrapper of github.com/IGLOU-EU/go-wildcard, itself
// MinIO's matcher): used for `imageReferences`, `skipImageReferences`, names and namespaces.
//
// Semantics, as Kyverno's own table (ext/wildcard/match_test.go) pins them:
//   `*`  any run of characters, including none and including '/'
//   `?`  exactly one character, '/' included ("abc?" does not match "abc")
//   anything else, '.' included, matches itself; there is no escape character and no [class]
//   the empty pattern matches only the empty text
// go-wildcard v2 also treats '.' as "any one character"; Kyverno's table does not, and a policy
// author who writes `ghcr.io/*` means a literal dot, so Sigil keeps '.' literal.

/** One `*`-free piece of a pattern; `?` in it matches any one character. */
type Segment = readonly string[];

/** True when `segment` matches `text` at `offset` (same length, `?` matching anything). */
function matchesAt(segment: Segment, text: readonly string[], offset: number): boolean {
  for (let i = 0; i < segment.length; i++) {
    const p = segment[i];
    if (p !== '?' && p !== text[offset + i]) return false;
  }
  return true;
}

/**
 * True when the Kyverno wildcard `pattern` matches all of `text`. Runs in O(|pattern|·|text|)
 * at worst with no backtracking: the pattern is cut at each `*` into fixed-length segments, the
 * first is anchored at the start, the last at the end, and each middle one is placed at its
 * leftmost possible position (leftmost is always safe, as a `*` can absorb whatever is skipped).
 */
export function wildcardMatch(pattern: string, text: string): boolean {
  const literal = literalSegments(pattern);
  if (literal !== undefined) return matchesLiteral(literal, text);
  return matchesCodePoints(pattern, text);
}

/**
 * The `*`-separated pieces of a pattern without `?` or surrogate code units, or undefined for any
 * other pattern. Such pieces match UTF-16 units exactly where they match code points (none of their
 * units can land inside a surrogate pair), so string search gives the code-point answer without
 * splitting the text. Kept per pattern: policies hold few, and every request matches against them.
 */
function literalSegments(pattern: string): readonly string[] | undefined {
  let segments = LITERAL.get(pattern);
  if (segments === undefined) {
    segments = /[?\uD800-\uDFFF]/.test(pattern) ? null : Object.freeze(pattern.split('*'));
    if (LITERAL.size >= MAX_LITERAL) LITERAL.clear();
    LITERAL.set(pattern, segments);
  }
  return segments ?? undefined;
}

/** Patterns seen, with their literal pieces or null when matching needs code points. */
const LITERAL = new Map<string, readonly string[] | null>();
/** At most this many, then the map starts over: bounds memory whatever patterns requests bring (names, globs). */
const MAX_LITERAL = 4096;

/** wildcardMatch for literal pieces: the same anchored, leftmost placement, over UTF-16 units. */
function matchesLiteral(segments: readonly string[], text: string): boolean {
  const first = segments[0] ?? '';
  if (segments.length === 1) return first === text;
  const last = segments[segments.length - 1] ?? '';
  if (first.length + last.length > text.length) return false;
  if (!text.startsWith(first) || !text.endsWith(last)) return false;
  let position = first.length;
  const end = text.length - last.length;
  for (let s = 1; s < segments.length - 1; s++) {
    const segment = segments[s] ?? '';
    const found = text.indexOf(segment, position);
    if (found === -1 || found + segment.length > end) return false;
    position = found + segment.length;
  }
  return true;
}

/** wildcardMatch over code points, for patterns with `?` (one character, whatever its UTF-16 length). */
function matchesCodePoints(pattern: string, text: string): boolean {
  // Code points, not UTF-16 units, so `?` consumes one character even outside the BMP.
  const t = Array.from(text);
  const segments: Segment[] = pattern.split('*').map((s) => Array.from(s));
  const first = segments[0] ?? [];
  if (segments.length === 1) return first.length === t.length && matchesAt(first, t, 0);
  const last = segments[segments.length - 1] ?? [];
  if (first.length + last.length > t.length) return false;
  if (!matchesAt(first, t, 0) || !matchesAt(last, t, t.length - last.length)) return false;
  let position = first.length;
  const end = t.length - last.length;
  for (let s = 1; s < segments.length - 1; s++) {
    const segment = segments[s] ?? [];
    let found = -1;
    for (let at = position; at + segment.length <= end; at++) {
      if (matchesAt(segment, t, at)) {
        found = at;
        break;
      }
    }
    if (found === -1) return false;
    position = found + segment.length;
  }
  return true;
}

/** True when any pattern in `patterns` matches `text` (Kyverno: a rule applies if any pattern matches). */
export function matchesAnyWildcard(patterns: readonly string[], text: string): boolean {
  return patterns.some((pattern) => wildcardMatch(pattern, text));
}

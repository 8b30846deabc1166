import type { RuleRef } from './types.ts';

/**
 * Parsing of ignore files into patterns for the `ignore` library, all relative
 * to the workspace root, so that every layer can live in ONE `ignore` instance
 * (see docs/decisions/0002-ignore-matching.md for why).
 */
export type IgnoreSyntax = 'gitignore' | 'dockerignore';

export interface ParsedRule {
  ref: RuleRef;
  /**
   * Patterns for the `ignore` library, relative to the workspace root, with a
   * leading `!` when the rule is negative. Usually one; a pattern that uses a
   * git quirk the library does not share expands into two (their union).
   */
  patterns: readonly string[];
}

export interface ParseIgnoreFileOptions {
  syntax: IgnoreSyntax;
  /** Label for explanations: the file's workspace-relative path, or `<defaults>`. */
  source: string;
  /** Workspace-relative directory holding the file (gitignore only); '' = root. */
  dir?: string;
}

const BOM = '\uFEFF';

/** Parse the content of an ignore file. Lines are numbered from 1. */
export function parseIgnoreFile(content: string, options: ParseIgnoreFileOptions): ParsedRule[] {
  const lines = splitLines(content);
  const rules: ParsedRule[] = [];
  lines.forEach((line, index) => {
    const rule =
      options.syntax === 'gitignore'
        ? parseGitignoreLine(line, options.dir ?? '')
        : parseDockerignoreLine(line);
    if (rule !== undefined) {
      rules.push({
        ref: { source: options.source, line: index + 1, pattern: line, negative: rule.negative },
        patterns: rule.patterns,
      });
    }
  });
  return rules;
}

/** Parse a list of root-level gitignore patterns (one pattern per entry). */
export function parsePatternList(patterns: readonly string[], source: string): ParsedRule[] {
  const rules: ParsedRule[] = [];
  patterns.forEach((pattern, index) => {
    const rule = parseGitignoreLine(pattern, '');
    if (rule !== undefined) {
      rules.push({
        ref: { source, line: index + 1, pattern, negative: rule.negative },
        patterns: rule.patterns,
      });
    }
  });
  return rules;
}

/**
 * Split like git's add_patterns_from_buffer: a UTF-8 BOM is dropped, lines end
 * at LF, and one CR before the LF is dropped.
 */
export function splitLines(content: string): string[] {
  const text = content.startsWith(BOM) ? content.slice(1) : content;
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines.map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
}

/**
 * git's trim_trailing_spaces: unescaped trailing spaces go; `\ ` keeps its
 * space (and its backslash, which the matcher reads as an escape).
 */
export function trimTrailingSpaces(line: string): string {
  let lastSpace = -1;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === ' ') {
      if (lastSpace < 0) lastSpace = i;
      continue;
    }
    if (c === '\\') {
      i++;
      if (i >= line.length) return line;
    }
    lastSpace = -1;
  }
  return lastSpace >= 0 ? line.slice(0, lastSpace) : line;
}

interface LineRule {
  negative: boolean;
  patterns: string[];
}

function parseGitignoreLine(line: string, dir: string): LineRule | undefined {
  if (line === '' || line.startsWith('#')) return undefined;
  const trimmed = trimTrailingSpaces(line);
  const negative = trimmed.startsWith('!');
  const body = negative ? trimmed.slice(1) : trimmed;
  const patterns = rootRelativePatterns(body, dir);
  if (patterns.length === 0) return undefined;
  return { negative, patterns: negative ? patterns.map((p) => `!${p}`) : patterns };
}

/**
 * Rewrite one gitignore pattern (negation already removed) of the file in
 * `dir` into equivalent patterns relative to the workspace root:
 *  - no slash except a trailing one (`foo`, `*.tmp`, `foo/`): `/dir/**\/foo`
 *  - a leading or inner slash (`/foo`, `a/b`): `/dir/a/b`
 * The directory is escaped, since its name may hold glob characters.
 */
export function rootRelativePatterns(body: string, dir: string): string[] {
  const dirOnly = body.endsWith('/');
  const core = dirOnly ? body.slice(0, -1) : body;
  if (core === '') return [];
  const suffix = dirOnly ? '/' : '';
  const base = dir === '' ? '' : `${escapeGlob(dir)}/`;
  if (!core.includes('/')) {
    if (dir !== '') return [`/${base}**/${body}`];
    // A BOM may only start a pattern escaped: the library drops a leading one.
    return [body.startsWith(BOM) ? `\\${body}` : body];
  }
  const anchored = core.startsWith('/') ? core.slice(1) : core;
  return expandGlobstarQuirk(anchored).map((p) => `/${base}${p}${suffix}`);
}

/** Escape glob metacharacters so the text matches itself literally. */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

const GLOB_SPECIAL = '*?[\\';

/**
 * git matches the literal head of a path pattern (up to the first of `*?[\`)
 * by string compare and hands only the rest to wildmatch, where a `**` at the
 * start is a globstar. So "a**" + "/b" matches `ab`, `a/b` and `ax/y/b` in git,
 * while gitignore(5) and the `ignore` library read `a**` as plain stars.
 * Rewrite such a pattern into the union of patterns the library reads as git
 * does: "a**" + "/rest" becomes "a" + "rest" (the globstar matched nothing)
 * and "a*" + "/**" + "/rest"; a final "a**" becomes "a*" and "a*" + "/**".
 */
export function expandGlobstarQuirk(pattern: string): string[] {
  let head = 0;
  while (head < pattern.length && !GLOB_SPECIAL.includes(pattern.charAt(head))) head++;
  if (head === 0 || pattern[head - 1] === '/' || !pattern.startsWith('**', head)) {
    return [pattern];
  }
  let end = head;
  while (pattern[end] === '*') end++;
  const literal = pattern.slice(0, head);
  const after = pattern.slice(end);
  if (after === '') return [`${literal}*`, `${literal}*/**`];
  if (!after.startsWith('/')) return [pattern];
  const rest = after.slice(1);
  return [...expandGlobstarQuirk(literal + rest), `${literal}*/**/${rest}`];
}

/**
 * Docker semantics (moby's ignorefile.ReadAll): comments, then whitespace
 * trimmed on both sides, the path cleaned, and every pattern anchored at the
 * root. A trailing slash is cleaned away: Docker has no directory-only rules.
 */
function parseDockerignoreLine(line: string): LineRule | undefined {
  if (line.startsWith('#')) return undefined;
  let pattern = line.trim();
  if (pattern === '') return undefined;
  const negative = pattern.startsWith('!');
  if (negative) pattern = pattern.slice(1).trim();
  const cleaned = cleanPath(pattern);
  if (cleaned === '' || cleaned === '.' || cleaned === '..' || cleaned.startsWith('../')) {
    return undefined;
  }
  const anchored = `/${cleaned}`;
  return { negative, patterns: [negative ? `!${anchored}` : anchored] };
}

/** Like Go's path.Clean, minus the leading slash. */
function cleanPath(pattern: string): string {
  const absolute = pattern.startsWith('/');
  const out: string[] = [];
  for (const segment of pattern.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..' && out.length > 0 && out[out.length - 1] !== '..') out.pop();
    else if (segment !== '..' || !absolute) out.push(segment);
  }
  return out.join('/') || (absolute ? '' : '.');
}

import { constants, lstatSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import ignore from 'ignore';
import { localError, systemErrorCode } from '../errors.ts';
import { DEFAULT_EXCLUDES } from './default-excludes.ts';
import { parseIgnoreFile, parsePatternList, type ParsedRule } from './parse-ignore-file.ts';
import type { FilterDecision, RuleRef } from './types.ts';

export type { FilterDecision, RuleRef } from './types.ts';

type Matcher = ReturnType<typeof ignore>;

export interface WorkspaceFilterOptions {
  /** Absolute workspace directory. */
  root: string;
  /** Extra gitignore-syntax patterns, after the defaults (source `<settings>`). */
  extraExcludes?: readonly string[];
  /** Replaces DEFAULT_EXCLUDES (source `<defaults>`). */
  defaults?: readonly string[];
  /** Reads the ignore files; defaults to `readIgnoreFile`. A cache goes here (the monitor's scanner). */
  readFile?: IgnoreFileReader;
}

/**
 * Reads one ignore file: its text, or undefined when there is none (missing,
 * not a regular file, or a symlink when `followSymlink` is false). Throws
 * LOCAL_UNREADABLE when it exists but cannot be read.
 */
export type IgnoreFileReader = (
  absPath: string,
  options: { followSymlink: boolean },
) => Promise<string | undefined>;

/** The rules of a workspace given as content, e.g. taken from the remote copy on pull. */
export interface WorkspaceRules {
  /** Defaults to DEFAULT_EXCLUDES; pass [] for none. */
  defaults?: readonly string[];
  /** `.gitignore` content by workspace-relative directory ('' = root). */
  gitignores?: Readonly<Record<string, string>>;
  dockerignore?: string;
  syncignore?: string;
  extraExcludes?: readonly string[];
}

interface CompiledRule extends ParsedRule {
  /** Tells the rule apart in results of the shared matcher. */
  mark: string;
  /** Matches exactly the paths this rule matches by itself; made on the explain path only. */
  tester?: Matcher;
}

interface GitignoreFile {
  dir: string;
  rules: CompiledRule[];
  matcher: Matcher;
}

export const GITIGNORE = '.gitignore';
export const DOCKERIGNORE = '.dockerignore';
export const SYNCIGNORE = '.syncignore';

/** The shared matcher caches every answer; start a fresh one after this many. */
const MAX_CACHED_QUERIES = 50_000;

/**
 * Decides, for a path relative to a workspace root, whether it is excluded,
 * with git's semantics. Rules, lowest precedence first (the last rule that
 * matches wins across the whole list, as in git):
 *   1. the defaults (`<defaults>`), then `extraExcludes` (`<settings>`),
 *   2. every `.gitignore` in the tree, shallower before deeper,
 *   3. `.dockerignore` at the root (every pattern anchored at the root),
 *   4. `.syncignore` at the root (gitignore syntax).
 * All of them live in ONE `ignore` matcher with patterns rewritten relative to
 * the root, so a later layer can re-include what an earlier one excluded
 * (docs/decisions/0002-ignore-matching.md).
 */
export class WorkspaceFilter {
  readonly #root: string | undefined;
  readonly #readFile: IgnoreFileReader;
  readonly #head: CompiledRule[];
  readonly #tail: CompiledRule[];
  readonly #headMatcher: Matcher;
  readonly #tailMatcher: Matcher;
  /** Kept in precedence order: a directory's ancestors come before it. */
  #gitignores = new Map<string, GitignoreFile>();
  #gitMatcher: Matcher = newMatcher();
  readonly #entered = new Map<string, Promise<void>>();
  readonly #byMark = new Map<string, CompiledRule>();
  #nextMark = 0;
  #matcher: Matcher | undefined;
  #ordered: CompiledRule[] | undefined;
  #queries = 0;

  private constructor(
    root: string | undefined,
    head: ParsedRule[],
    tail: ParsedRule[],
    readFile: IgnoreFileReader = readIgnoreFile,
  ) {
    this.#root = root;
    this.#readFile = readFile;
    this.#head = head.map((rule) => this.#compile(rule));
    this.#tail = tail.map((rule) => this.#compile(rule));
    this.#headMatcher = matcherOf(this.#head);
    this.#tailMatcher = matcherOf(this.#tail);
  }

  /**
   * Reads the root `.gitignore`, `.dockerignore` and `.syncignore` (a missing
   * file is fine; an unreadable one throws LOCAL_UNREADABLE). Nested
   * `.gitignore` files are read by `enterDirectory` during the walk.
   */
  static async load(options: WorkspaceFilterOptions): Promise<WorkspaceFilter> {
    const root = path.resolve(options.root);
    const readFile = options.readFile ?? readIgnoreFile;
    const [gitignore, dockerignore, syncignore] = await Promise.all([
      readFile(path.join(root, GITIGNORE), { followSymlink: false }),
      readFile(path.join(root, DOCKERIGNORE), { followSymlink: true }),
      readFile(path.join(root, SYNCIGNORE), { followSymlink: true }),
    ]);
    const filter = new WorkspaceFilter(
      root,
      headRules(options.defaults, options.extraExcludes),
      tailRules(dockerignore, syncignore),
      readFile,
    );
    if (gitignore !== undefined) filter.addGitignore('', gitignore);
    filter.#entered.set('', Promise.resolve());
    return filter;
  }

  /** Pure: a filter over rules given as content (unit tests, pull). */
  static fromRules(layers: WorkspaceRules): WorkspaceFilter {
    const filter = new WorkspaceFilter(
      undefined,
      headRules(layers.defaults, layers.extraExcludes),
      tailRules(layers.dockerignore, layers.syncignore),
    );
    const gitignores = Object.entries(layers.gitignores ?? {})
      .map(([dir, content]) => [normalizeDir(dir), content] as const)
      .sort(([a], [b]) => depth(a) - depth(b));
    for (const [dir, content] of gitignores) filter.addGitignore(dir, content);
    return filter;
  }

  /**
   * Pure: the rules of a workspace given as its ignore files' contents by
   * workspace-relative path (`.gitignore`, `src/.gitignore`, `.dockerignore`,
   * `.syncignore`; other paths are not ignore files and are left out), e.g.
   * as read from the bucket.
   */
  static fromIgnoreFiles(
    files: ReadonlyMap<string, string>,
    base: Pick<WorkspaceRules, 'defaults' | 'extraExcludes'>,
  ): WorkspaceFilter {
    const gitignores: Record<string, string> = {};
    let dockerignore: string | undefined;
    let syncignore: string | undefined;
    for (const [relPath, text] of files) {
      if (relPath === DOCKERIGNORE) dockerignore = text;
      else if (relPath === SYNCIGNORE) syncignore = text;
      else if (isIgnoreFile(relPath))
        gitignores[relPath === GITIGNORE ? '' : relPath.slice(0, -`/${GITIGNORE}`.length)] = text;
    }
    return WorkspaceFilter.fromRules({ ...base, gitignores, dockerignore, syncignore });
  }

  /**
   * Reads `relDir/.gitignore` if there is one (not through a symlink, as git
   * does). Idempotent; a no-op for a filter made by `fromRules`. Throws
   * LOCAL_UNREADABLE when the file exists but cannot be read.
   */
  async enterDirectory(relDir: string): Promise<void> {
    const dir = normalizeDir(relDir);
    if (this.#root === undefined) return;
    let pending = this.#entered.get(dir);
    if (pending === undefined) {
      pending = this.#readGitignore(this.#root, dir);
      this.#entered.set(dir, pending);
    }
    return pending;
  }

  /** Pure variant of `enterDirectory`: adds (or replaces) the `.gitignore` of `relDir`. */
  addGitignore(relDir: string, content: string): void {
    const dir = normalizeDir(relDir);
    this.#entered.set(dir, Promise.resolve());
    const source = dir === '' ? GITIGNORE : `${dir}/${GITIGNORE}`;
    const rules = parseIgnoreFile(content, { syntax: 'gitignore', source, dir }).map((rule) =>
      this.#compile(rule),
    );
    const replacing = this.#gitignores.has(dir);
    if (rules.length === 0 && !replacing) return;
    const file: GitignoreFile = { dir, rules, matcher: matcherOf(rules) };
    const inOrder = !replacing && ![...this.#gitignores.keys()].some((d) => isInside(d, dir));
    this.#gitignores.set(dir, file);
    if (inOrder) {
      this.#gitMatcher.add(file.matcher);
    } else {
      this.#gitignores = new Map([...this.#gitignores].sort(([a], [b]) => depth(a) - depth(b)));
      this.#gitMatcher = newMatcher().add([...this.#gitignores.values()].map((f) => f.matcher));
    }
    this.#matcher = undefined;
    this.#ordered = undefined;
  }

  /**
   * Whether the path is excluded: the path's own decision when its parent
   * directories are included (the walker only asks about such paths), and
   * true when an ancestor directory is excluded. Fast and cached.
   */
  isIgnored(relPath: string, isDirectory: boolean): boolean {
    if (relPath === '') return false;
    if (isGitDir(relPath)) return true;
    return this.#query(keyOf(relPath, isDirectory)).ignored;
  }

  /**
   * The path's own decision, assuming its parent directories are included,
   * with the last rule that matches the path itself (positive or negative).
   * Fast when the path is excluded by its own rule or matched by no rule.
   */
  decide(relPath: string, isDirectory: boolean): FilterDecision {
    if (relPath === '') return { ignored: false };
    if (isGitDir(relPath)) return { ignored: true, rule: GIT_DIR_RULE };
    const key = keyOf(relPath, isDirectory);
    const result = this.#query(key);
    if (result.ignored) {
      const parent = parentKey(relPath);
      const rule = result.rule?.mark === undefined ? undefined : this.#byMark.get(result.rule.mark);
      if (rule !== undefined && (parent === '' || !this.#query(parent).ignored)) {
        return { ignored: true, rule: rule.ref };
      }
      return this.#scan(key);
    }
    return result.unignored ? this.#scan(key) : { ignored: false };
  }

  /** `.gitignore` anywhere, or the root `.dockerignore` / `.syncignore`. */
  isIgnoreFile(relPath: string): boolean {
    return isIgnoreFile(relPath);
  }

  /** Every rule in precedence order (lowest first), for explanations and debugging. */
  rules(): RuleRef[] {
    return this.#orderedRules().map((rule) => rule.ref);
  }

  #compile(rule: ParsedRule): CompiledRule {
    const mark = String(this.#nextMark++);
    const compiled: CompiledRule = { ...rule, mark };
    this.#byMark.set(mark, compiled);
    return compiled;
  }

  #query(key: string): ReturnType<Matcher['test']> {
    if (this.#matcher === undefined || this.#queries >= MAX_CACHED_QUERIES) {
      this.#matcher = newMatcher().add([this.#headMatcher, this.#gitMatcher, this.#tailMatcher]);
      this.#queries = 0;
    }
    this.#queries++;
    return this.#matcher.test(asBytes(key));
  }

  #orderedRules(): CompiledRule[] {
    this.#ordered ??= [
      ...this.#head,
      ...[...this.#gitignores.values()].flatMap((file) => file.rules),
      ...this.#tail,
    ];
    return this.#ordered;
  }

  /** The last rule matching the path itself, tested rule by rule. */
  #scan(key: string): FilterDecision {
    const rules = this.#orderedRules();
    for (let i = rules.length - 1; i >= 0; i--) {
      const rule = rules[i];
      if (rule === undefined) continue;
      // Every pattern as a negation: with no positive rule nothing is excluded
      // through a parent, and `unignored` says the path itself matched.
      rule.tester ??= newMatcher().add(
        rule.patterns.map((p) => asBytes(p.startsWith('!') ? p : `!${p}`)),
      );
      if (rule.tester.test(asBytes(key)).unignored) {
        return { ignored: !rule.ref.negative, rule: rule.ref };
      }
    }
    return { ignored: false };
  }

  async #readGitignore(root: string, dir: string): Promise<void> {
    const content = await this.#readFile(path.join(root, dir, GITIGNORE), {
      followSymlink: false,
    });
    if (content !== undefined) this.addGitignore(dir, content);
  }
}

/** A file whose change changes the rules: `.gitignore` anywhere, or the root `.dockerignore` / `.syncignore`. */
export function isIgnoreFile(relPath: string): boolean {
  return (
    relPath === DOCKERIGNORE ||
    relPath === SYNCIGNORE ||
    relPath === GITIGNORE ||
    relPath.endsWith(`/${GITIGNORE}`)
  );
}

/**
 * `.git` is git's own store: git never tracks it whatever the rules say, so
 * neither do we (not even a whitelist `.gitignore` that re-includes every directory).
 */
const GIT_DIR_RULE: RuleRef = { source: '<builtin>', line: 1, pattern: '.git', negative: false };

function isGitDir(relPath: string): boolean {
  return relPath === '.git' || relPath.endsWith('/.git');
}

/**
 * Full explanation for a path including its parents: the first excluded
 * ancestor directory wins (git never re-includes below an excluded directory).
 */
export function explainPath(
  filter: WorkspaceFilter,
  relPath: string,
  isDirectory: boolean,
): { ignored: boolean; rule?: RuleRef; excludedAncestor?: string } {
  const parts = relPath.split('/');
  for (let i = 1; i < parts.length; i++) {
    const ancestor = parts.slice(0, i).join('/');
    const decision = filter.decide(ancestor, true);
    if (decision.ignored) return { ...decision, excludedAncestor: ancestor };
  }
  return filter.decide(relPath, isDirectory);
}

/**
 * `explainPath` for a path met outside a walk (a file event, a command-line
 * argument, a symlink's target): first reads the `.gitignore` of every
 * directory above it, as a walk would have, stopping at an excluded one
 * (nothing below it is ever read).
 */
export async function explainAfterEntering(
  filter: WorkspaceFilter,
  relPath: string,
  isDirectory: boolean,
): Promise<{ ignored: boolean; rule?: RuleRef; excludedAncestor?: string }> {
  const parts = relPath.split('/');
  for (let i = 1; i < parts.length; i++) {
    const dir = parts.slice(0, i).join('/');
    if (filter.decide(dir, true).ignored) break;
    await filter.enterDirectory(dir);
  }
  return explainPath(filter, relPath, isDirectory);
}

function newMatcher(): Matcher {
  // git on Linux is case-sensitive; the library's default is not.
  return ignore({ ignoreCase: false });
}

function matcherOf(rules: readonly CompiledRule[]): Matcher {
  return newMatcher().add(
    rules.flatMap((rule) =>
      rule.patterns.map((pattern) => ({ pattern: asBytes(pattern), mark: rule.mark })),
    ),
  );
}

const NON_ASCII = /[^\p{ASCII}]/u;

/**
 * git matches the UTF-8 bytes of paths and patterns (`?` is one byte, a range
 * compares bytes); the library matches UTF-16 code units. Handing it both as
 * one character per byte (latin1 of the UTF-8) makes it match bytes too.
 * ASCII, the common case, is the same string.
 */
function asBytes(text: string): string {
  return NON_ASCII.test(text) ? Buffer.from(text, 'utf8').toString('latin1') : text;
}

function headRules(
  defaults: readonly string[] | undefined,
  extraExcludes: readonly string[] | undefined,
): ParsedRule[] {
  return [
    ...parsePatternList(defaults ?? DEFAULT_EXCLUDES, '<defaults>'),
    ...parsePatternList(extraExcludes ?? [], '<settings>'),
  ];
}

function tailRules(dockerignore: string | undefined, syncignore: string | undefined): ParsedRule[] {
  return [
    ...(dockerignore === undefined
      ? []
      : parseIgnoreFile(dockerignore, { syntax: 'dockerignore', source: DOCKERIGNORE })),
    ...(syncignore === undefined
      ? []
      : parseIgnoreFile(syncignore, { syntax: 'gitignore', source: SYNCIGNORE, dir: '' })),
  ];
}

/** Directories are matched with a trailing slash, so `foo/` rules apply to them only. */
function keyOf(relPath: string, isDirectory: boolean): string {
  return isDirectory ? `${relPath}/` : relPath;
}

/** 'a/b/c' -> 'a/b/'; 'a' -> ''. */
function parentKey(relPath: string): string {
  const cut = relPath.lastIndexOf('/');
  return cut < 0 ? '' : relPath.slice(0, cut + 1);
}

function normalizeDir(relDir: string): string {
  let dir = relDir;
  while (dir.startsWith('./')) dir = dir.slice(2);
  while (dir.endsWith('/')) dir = dir.slice(0, -1);
  return dir === '.' ? '' : dir;
}

function depth(dir: string): number {
  return dir === '' ? 0 : dir.split('/').length;
}

/** Whether `dir` is strictly inside `ancestor`. */
function isInside(dir: string, ancestor: string): boolean {
  return ancestor === '' ? dir !== '' : dir.startsWith(`${ancestor}/`);
}

/**
 * Reads an ignore file; undefined when there is none (missing, a directory or
 * other non-regular file, or a symlink when not following them).
 */
export async function readIgnoreFile(
  absPath: string,
  options: { followSymlink: boolean },
): Promise<string | undefined> {
  const flags =
    constants.O_RDONLY | constants.O_NONBLOCK | (options.followSymlink ? 0 : constants.O_NOFOLLOW);
  let handle;
  try {
    // Most directories have no .gitignore: a synchronous lstat says so for a
    // fraction of the cost of a failed asynchronous open.
    const stats = lstatSync(absPath, { throwIfNoEntry: false });
    if (stats === undefined || (stats.isSymbolicLink() && !options.followSymlink)) return undefined;
    handle = await open(absPath, flags);
  } catch (err) {
    const code = systemErrorCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP') return undefined;
    throw localError(err, absPath, 'read ignore file');
  }
  try {
    if (!(await handle.stat()).isFile()) return undefined;
    return await handle.readFile({ encoding: 'utf8' });
  } catch (err) {
    throw localError(err, absPath, 'read ignore file');
  } finally {
    await handle.close();
  }
}

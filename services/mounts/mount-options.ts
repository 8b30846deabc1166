import { parseDuration } from '../common/settings.ts';
import { CACHE_MODES, type CacheMode, type MountOptions } from './types.ts';

/** What a user may ask for; absent fields keep the recorded (or default) value. */
export interface MountOptionsInput {
  readOnly?: boolean;
  cacheMode?: string;
  /** `1G`, `500M`: the most the local cache may hold. */
  cacheSize?: string;
  /** `1m`, `30s`: how long directory listings are cached. */
  dirCache?: string | number;
  excludes?: string[];
}

/** rclone's recommendation for mounts used by ordinary programs: cache writes, stream reads. */
export const DEFAULT_OPTIONS: MountOptions = {
  readOnly: false,
  cacheMode: 'writes',
  cacheSize: null,
  dirCacheMs: null,
  excludes: [],
};

const SIZE = /^\d+(\.\d+)?[KMGTP]$/i;

/** Apply `input` over `base`; every invalid field is named in `problems`. */
export function resolveOptions(
  input: MountOptionsInput,
  base: MountOptions = DEFAULT_OPTIONS,
): { options: MountOptions; problems: string[] } {
  const problems: string[] = [];
  const options: MountOptions = { ...base, excludes: [...base.excludes] };
  if (input.readOnly !== undefined) options.readOnly = input.readOnly;
  if (input.cacheMode !== undefined) {
    if ((CACHE_MODES as readonly string[]).includes(input.cacheMode)) {
      options.cacheMode = input.cacheMode as CacheMode;
    } else {
      problems.push(
        `cache mode must be one of ${CACHE_MODES.join(', ')} (got "${input.cacheMode}")`,
      );
    }
  }
  if (input.cacheSize !== undefined) {
    if (SIZE.test(input.cacheSize.trim())) options.cacheSize = input.cacheSize.trim().toUpperCase();
    else problems.push(`cache size must look like 500M or 1G (got "${input.cacheSize}")`);
  }
  if (input.dirCache !== undefined) {
    const ms = typeof input.dirCache === 'number' ? input.dirCache : parseDuration(input.dirCache);
    if (ms !== undefined && ms >= 0) options.dirCacheMs = ms;
    else problems.push(`dir cache must be a duration like 30s or 1m (got "${input.dirCache}")`);
  }
  if (input.excludes !== undefined) {
    const bad = input.excludes.filter((p) => p.trim() === '');
    if (bad.length > 0) problems.push('exclude patterns must not be empty');
    options.excludes = input.excludes.map((p) => p.trim()).filter((p) => p !== '');
  }
  return { options, problems };
}

/** Fields the user asked for explicitly that differ from what is recorded, described. */
export function optionConflicts(
  recorded: MountOptions,
  asked: MountOptions,
  input: MountOptionsInput,
): string[] {
  const out: string[] = [];
  const say = (name: string, a: unknown, b: unknown) =>
    out.push(`${name}: mounted with ${JSON.stringify(a)}, asked for ${JSON.stringify(b)}`);
  if (input.readOnly !== undefined && recorded.readOnly !== asked.readOnly) {
    say('read-only', recorded.readOnly, asked.readOnly);
  }
  if (input.cacheMode !== undefined && recorded.cacheMode !== asked.cacheMode) {
    say('cache mode', recorded.cacheMode, asked.cacheMode);
  }
  if (input.cacheSize !== undefined && recorded.cacheSize !== asked.cacheSize) {
    say('cache size', recorded.cacheSize, asked.cacheSize);
  }
  if (input.dirCache !== undefined && recorded.dirCacheMs !== asked.dirCacheMs) {
    say('dir cache (ms)', recorded.dirCacheMs, asked.dirCacheMs);
  }
  if (input.excludes !== undefined && recorded.excludes.join('\n') !== asked.excludes.join('\n')) {
    say('excludes', recorded.excludes, asked.excludes);
  }
  return out;
}

/** Whether a running mount must be remounted for the change to apply. */
export function needsRemount(a: MountOptions, b: MountOptions): boolean {
  return JSON.stringify(a) !== JSON.stringify(b);
}

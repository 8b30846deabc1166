import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * bucketspace's state directory by the XDG base directory rules:
 * `$XDG_STATE_HOME/bucketspace`, or `~/.local/state/bucketspace`. Services
 * keep their own subdirectories under it (the sync's remembered uploads, the
 * monitor's token); each has its own setting to move it.
 */
export function stateDirFor(facts: {
  env: Readonly<Record<string, string | undefined>>;
  home: string;
}): string {
  const xdg = facts.env.XDG_STATE_HOME;
  return join(
    xdg !== undefined && xdg !== '' ? xdg : join(facts.home, '.local', 'state'),
    'bucketspace',
  );
}

/** The state directory of this process (its environment and home). */
export function defaultStateDir(): string {
  // eslint-disable-next-line no-restricted-properties -- XDG base directory, read once here
  return stateDirFor({ env: process.env, home: homedir() });
}

/**
 * bucketspace's cache directory by the XDG base directory rules:
 * `$XDG_CACHE_HOME/bucketspace`, or `~/.cache/bucketspace`. What is kept
 * there can be fetched again (the mirror's local copies).
 */
export function cacheDirFor(facts: {
  env: Readonly<Record<string, string | undefined>>;
  home: string;
}): string {
  const xdg = facts.env.XDG_CACHE_HOME;
  return join(xdg !== undefined && xdg !== '' ? xdg : join(facts.home, '.cache'), 'bucketspace');
}

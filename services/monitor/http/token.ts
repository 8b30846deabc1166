import { randomBytes } from 'node:crypto';
import { chmod, link, mkdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BucketspaceError, localError, systemErrorCode } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';

export interface LoadTokenOptions {
  /** `MONITOR_DATA_DIR`: the generated token lives in `<dataDir>/token`. */
  dataDir: string;
  /** `MONITOR_TOKEN`, when set: used as is, nothing is written. */
  configured?: string | undefined;
  logger: Logger;
}

export interface LoadedToken {
  token: string;
  /** True only on the start that generated it: the caller prints it, once. */
  created: boolean;
  source: 'configured' | 'file' | 'generated';
  /** Where the generated token is kept (also when configured: where it would be). */
  path: string;
}

/**
 * The shortest token the monitor accepts (decision 0027): with 10 guesses per
 * client per 15 minutes, 16 characters of a random alphabet are out of reach;
 * anything shorter is refused at start, not warned about.
 */
export const MIN_TOKEN_LENGTH = 16;

/** What is wrong with a token (already trimmed), or undefined. One rule for MONITOR_TOKEN and the token file. */
export function tokenProblem(token: string): string | undefined {
  if (token.length < MIN_TOKEN_LENGTH) {
    return `must be at least ${MIN_TOKEN_LENGTH} characters (it has ${token.length}); generate one with: openssl rand -base64 32`;
  }
  if (/\s/.test(token)) {
    return 'must not contain spaces or other whitespace (it could never be sent as a bearer token)';
  }
  return undefined;
}

/** 32 random bytes, base64url: 43 characters, 256 bits. */
export function generateToken(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * The token that protects the dashboard, API and metrics: `MONITOR_TOKEN`, or
 * the one generated on the first start into `<dataDir>/token` (mode 0600) and
 * reused afterwards. The file is created atomically (written aside, then
 * hard-linked into place), so a crash or a second monitor never leaves a
 * half-written or different token behind.
 */
export async function loadOrCreateToken(options: LoadTokenOptions): Promise<LoadedToken> {
  const log = options.logger;
  const path = join(options.dataDir, 'token');
  const configured = options.configured?.trim();
  if (configured !== undefined && configured !== '') {
    const problem = tokenProblem(configured);
    if (problem !== undefined) {
      throw new BucketspaceError('CONFIG_INVALID', `MONITOR_TOKEN ${problem}`);
    }
    return { token: configured, created: false, source: 'configured', path };
  }

  const existing = await readToken(path, log);
  if (existing !== undefined) return { token: existing, created: false, source: 'file', path };

  try {
    await mkdir(options.dataDir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw localError(err, options.dataDir, 'create the monitor data directory');
  }
  const token = generateToken();
  const aside = join(options.dataDir, `.token-${randomBytes(6).toString('hex')}`);
  try {
    await writeFile(aside, `${token}\n`, { mode: 0o600, flag: 'wx' });
    await link(aside, path);
  } catch (err) {
    if (systemErrorCode(err) === 'EEXIST') {
      // Another start won the race: use its token.
      const theirs = await readToken(path, log);
      if (theirs !== undefined) return { token: theirs, created: false, source: 'file', path };
    }
    throw localError(err, path, 'write the monitor token');
  } finally {
    await unlink(aside).catch(() => undefined);
  }
  log.info({ path }, 'generated a new monitor token');
  return { token, created: true, source: 'generated', path };
}

async function readToken(path: string, log: Logger): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (systemErrorCode(err) === 'ENOENT') return undefined;
    throw localError(err, path, 'read the monitor token');
  }
  const token = text.trim();
  if (token === '') {
    log.warn({ path }, 'the monitor token file is empty; generating a new token');
    await unlink(path).catch(() => undefined);
    return undefined;
  }
  const problem = tokenProblem(token);
  if (problem !== undefined) {
    throw new BucketspaceError(
      'CONFIG_INVALID',
      `the monitor token in ${path} ${problem}; replace it, or delete the file to have a new one generated`,
    );
  }
  const mode = (await stat(path)).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    log.warn(
      { path, mode: mode.toString(8) },
      'the monitor token file was readable by others; restricting it to mode 600',
    );
    await chmod(path, 0o600).catch((err: unknown) =>
      log.warn({ err, path }, 'cannot restrict the monitor token file'),
    );
  }
  return token;
}

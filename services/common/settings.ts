import { z } from 'zod';
import { BucketspaceError } from './errors.ts';

/**
 * One setting: where it comes from (an environment variable, optionally a CLI
 * flag that overrides it), what it means, and how it is validated. Every
 * service declares its settings as a record of these; the README's settings
 * table is checked against them by a test.
 */
export interface Setting<T> {
  env: string;
  /** Long CLI flag that overrides the variable, e.g. `--endpoint`. */
  flag?: string;
  description: string;
  /** Human-readable default for docs; the schema applies the real default. */
  defaultText?: string;
  /** Values of secret settings are never logged or printed. */
  secret?: boolean;
  schema: z.ZodType<T>;
}

export type SettingsSpec = Record<string, Setting<unknown>>;
export type SettingsOf<S extends SettingsSpec> = {
  [K in keyof S]: S[K] extends Setting<infer T> ? T : never;
};

export function setting<T>(spec: Setting<T>): Setting<T> {
  return spec;
}

export interface SettingsSource {
  env: Readonly<Record<string, string | undefined>>;
  /** Values given as CLI flags, keyed by the setting's key (not its flag). */
  flags?: Readonly<Record<string, unknown>>;
}

/**
 * Parse every setting; on failure throw one CONFIG_INVALID error listing every
 * problem, each naming the variable (and flag) so the user knows what to fix.
 */
export function resolveSettings<S extends SettingsSpec>(
  spec: S,
  source: SettingsSource,
): SettingsOf<S> {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [key, def] of Object.entries(spec)) {
    const fromFlag = source.flags?.[key];
    const fromEnv = source.env[def.env];
    const raw = fromFlag !== undefined ? fromFlag : fromEnv === '' ? undefined : fromEnv;
    const parsed = def.schema.safeParse(raw);
    if (parsed.success) {
      out[key] = parsed.data;
    } else {
      const where = fromFlag !== undefined && def.flag ? `${def.flag} (${def.env})` : def.env;
      const shown = def.secret
        ? ''
        : raw === undefined
          ? ' (not set)'
          : ` (got ${JSON.stringify(raw)})`;
      const why = parsed.error.issues.map((i) => i.message).join('; ');
      problems.push(`${where}${shown}: ${why}`);
    }
  }
  if (problems.length > 0) throw configError(problems);
  return out as SettingsOf<S>;
}

export function configError(problems: string[]): BucketspaceError {
  return new BucketspaceError(
    'CONFIG_INVALID',
    `invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    { details: { problems } },
  );
}

// ---- schema helpers -------------------------------------------------------

const TRUE = new Set(['1', 'true', 'yes', 'on']);
const FALSE = new Set(['0', 'false', 'no', 'off']);

/** A boolean from `true/false/1/0/yes/no/on/off` (any case) or a real boolean. */
export function booleanSchema() {
  return z.union([z.boolean(), z.string()]).transform((v, ctx) => {
    if (typeof v === 'boolean') return v;
    const s = v.trim().toLowerCase();
    if (TRUE.has(s)) return true;
    if (FALSE.has(s)) return false;
    ctx.addIssue({ code: 'custom', message: 'must be true or false' });
    return z.NEVER;
  });
}

/** A positive integer within bounds, from a string or number. */
export function intSchema(min: number, max: number) {
  return z.coerce
    .number({ error: 'must be a number' })
    .int({ error: 'must be a whole number' })
    .min(min, { error: `must be at least ${min}` })
    .max(max, { error: `must be at most ${max}` });
}

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** Parse `500ms`, `5s`, `5m`, `1h`, `7d` or a bare number of milliseconds. */
export function parseDuration(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(text);
  if (!m) return undefined;
  const value = Number(m[1]);
  const unit = DURATION_UNITS[m[2] ?? 'ms'] ?? 1;
  return Math.round(value * unit);
}

export function durationSchema(minMs: number) {
  return z.union([z.number(), z.string()]).transform((v, ctx) => {
    const ms = typeof v === 'number' ? v : parseDuration(v);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: 'must be a duration like 500ms, 5s, 5m or 1h' });
      return z.NEVER;
    }
    if (ms < minMs) {
      ctx.addIssue({ code: 'custom', message: `must be at least ${minMs}ms` });
      return z.NEVER;
    }
    return ms;
  });
}

const BYTE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  ki: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mi: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gi: 1024 ** 3,
  gib: 1024 ** 3,
};

/** Parse `200MiB`, `16M`, `1G`, `512k` (binary units, as rclone) or a bare number of bytes. */
export function parseBytes(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  if (!m) return undefined;
  const unit = BYTE_UNITS[(m[2] ?? '').toLowerCase()];
  if (unit === undefined) return undefined;
  return Math.round(Number(m[1]) * unit);
}

/** A size in bytes within bounds, from `200MiB`-style text or a number. */
export function bytesSchema(min: number, max: number) {
  return z.union([z.number(), z.string()]).transform((v, ctx) => {
    const bytes = typeof v === 'number' ? v : parseBytes(v);
    if (bytes === undefined) {
      ctx.addIssue({ code: 'custom', message: 'must be a size like 200MiB, 64M or 1G' });
      return z.NEVER;
    }
    if (bytes < min || bytes > max) {
      ctx.addIssue({
        code: 'custom',
        message: `must be from ${describeBytes(min)} to ${describeBytes(max)}`,
      });
      return z.NEVER;
    }
    return bytes;
  });
}

function describeBytes(n: number): string {
  for (const [unit, size] of [
    ['GiB', 1024 ** 3],
    ['MiB', 1024 ** 2],
    ['KiB', 1024],
  ] as const)
    if (n >= size && n % size === 0) return `${n / size}${unit}`;
  return `${n} bytes`;
}

/** Resolve several settings groups at once, so one error lists every problem of all of them. */
export function resolveAll<A extends SettingsSpec, B extends SettingsSpec>(
  a: A,
  b: B,
  source: SettingsSource,
): [SettingsOf<A>, SettingsOf<B>] {
  const problems: string[] = [];
  const run = <S extends SettingsSpec>(spec: S): SettingsOf<S> | undefined => {
    try {
      return resolveSettings(spec, source);
    } catch (err) {
      const list = (err as { details?: { problems?: string[] } }).details?.problems;
      if (!list) throw err;
      problems.push(...list);
      return undefined;
    }
  };
  const ra = run(a);
  const rb = run(b);
  if (!ra || !rb) throw configError(problems);
  return [ra, rb];
}

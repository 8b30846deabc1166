import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { UsageError } from './bench-exit.ts';

/** A benchmark's flags (no positionals); a mistake is a UsageError (exit code 2, with the help). */
export function parseBenchArgs<T extends ParseArgsOptionsConfig>(args: string[], options: T) {
  try {
    return parseArgs({ args, strict: true, allowPositionals: false, options }).values;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** A flag's whole number in [min, max], or a UsageError saying what is allowed. */
export function wholeNumber(
  flag: string,
  text: string | undefined,
  min: number,
  max: number,
): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new UsageError(`--${flag} must be a whole number from ${min} to ${max}, not "${text}"`);
  return n;
}

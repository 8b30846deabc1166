import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { UsageError } from './bench-exit.ts';

/** A benchmark's flags (no positionals); an unknown or malformed flag is a UsageError. */
export function parseBenchArgs<T extends ParseArgsOptionsConfig>(args: string[], options: T) {
  try {
    return parseArgs({ args, strict: true, allowPositionals: false, options }).values;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** A flag's whole number within bounds, or a UsageError naming the flag and the bounds. */
export function wholeNumberFlag(flag: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new UsageError(`--${flag} must be a whole number from ${min} to ${max}, not "${text}"`);
  return n;
}

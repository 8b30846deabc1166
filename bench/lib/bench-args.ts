import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './bench-exit.ts';

/** A benchmark's flags, strict: an unknown or malformed flag is a UsageError (exit code 2). */
export function parseBenchArgs<O extends NonNullable<ParseArgsConfig['options']>>(
  args: string[],
  options: O,
) {
  try {
    return parseArgs({ args, strict: true, allowPositionals: false, options }).values;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

import { Option } from 'commander';

/** `--log-level <level>`, overriding LOG_LEVEL: the same on every command (its help may name its default). */
export function logLevelOption(description = 'log level (LOG_LEVEL)'): Option {
  return new Option('--log-level <level>', description).choices([
    'trace',
    'debug',
    'info',
    'warn',
    'error',
    'silent',
  ]);
}

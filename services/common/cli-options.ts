import { Option } from 'commander';

/** `--log-level <level>`, overriding LOG_LEVEL: the same on every command. */
export function logLevelOption(): Option {
  return new Option('--log-level <level>', 'log level (LOG_LEVEL)').choices([
    'trace',
    'debug',
    'info',
    'warn',
    'error',
    'silent',
  ]);
}

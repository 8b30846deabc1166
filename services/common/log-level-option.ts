import { Option } from 'commander';

/** What `--log-level` takes (pino's levels; `LOG_LEVEL` takes `fatal` too). */
export const LOG_LEVEL_CHOICES = ['trace', 'debug', 'info', 'warn', 'error', 'silent'] as const;

/** The `--log-level <level>` option every command takes, over `LOG_LEVEL`. */
export function logLevelOption(description = 'log level (LOG_LEVEL)'): Option {
  return new Option('--log-level <level>', description).choices(LOG_LEVEL_CHOICES);
}

import type { Logger } from './logger.ts';
import type { SettingsSpec } from './settings.ts';

/** Shown instead of the value of a secret setting. */
export const REDACTED = '(redacted)';

/**
 * One group of resolved settings as it may be logged: the value of every
 * setting its schema marks `secret` is replaced (when set), whatever its key.
 */
export function redactSecrets(
  spec: SettingsSpec,
  values: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...values };
  for (const [key, def] of Object.entries(spec)) {
    if (def.secret === true && out[key] !== undefined) out[key] = REDACTED;
  }
  return out;
}

/**
 * Logs the configuration a command runs with, once, at start: each group
 * already redacted (redactSecrets, or the group's own describer such as
 * loggableS3Config).
 */
export function logEffectiveConfig(logger: Logger, config: Record<string, unknown>): void {
  logger.info({ config }, 'effective configuration');
}

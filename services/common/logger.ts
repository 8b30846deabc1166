import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

export interface LoggerOptions {
  level: LevelWithSilent;
  /** Human-readable lines (pino-pretty) instead of JSON; used on a terminal. */
  pretty: boolean;
  /** File descriptor to write to; 2 (stderr) keeps stdout free for command output. */
  fd?: number;
}

/** Paths whose values are never logged, wherever they appear in a log object. */
export const REDACT_PATHS = [
  'secretAccessKey',
  '*.secretAccessKey',
  '*.*.secretAccessKey',
  'sessionToken',
  '*.sessionToken',
  '*.*.sessionToken',
  'token',
  '*.token',
  '*.*.token',
  'authorization',
  '*.authorization',
];

/** The root logger; made once in `main` and passed down as `logger.child({ component })`. */
export function createLogger(options: LoggerOptions): Logger {
  const fd = options.fd ?? 2;
  const redact = { paths: REDACT_PATHS, censor: '[redacted]' };
  if (options.pretty) {
    return pino({
      level: options.level,
      redact,
      transport: {
        target: 'pino-pretty',
        options: {
          destination: fd,
          colorize: true,
          translateTime: 'HH:MM:ss.l',
          ignore: 'pid,hostname',
        },
      },
    });
  }
  return pino({ level: options.level, redact }, pino.destination({ fd, sync: true }));
}

/** A logger that drops everything; for unit tests of code that takes a logger. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

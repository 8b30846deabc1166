// `bucketspace stack check` and `bucketspace stack bucket`: the two one-shot
// steps the Compose stack runs before its long-lived services (see
// docker-compose.yml). `check` runs before anything else starts; `bucket`
// waits for the S3 server and creates the workspaces bucket (or, with your own
// S3, checks that it exists).
import { Command } from 'commander';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { backoffDelay } from '../common/backoff.ts';
import { BucketspaceError, errorMessage, isBucketspaceError } from '../common/errors.ts';
import { createLogger } from '../common/logger.ts';
import { S3ObjectStore } from '../common/s3/s3-object-store.ts';
import { finishS3Config, S3_SETTINGS } from '../common/s3/s3-settings.ts';
import {
  booleanSchema,
  configError,
  durationSchema,
  resolveAll,
  setting,
} from '../common/settings.ts';
import type { CommandIo } from '../common/command-io.ts';
import { checkExternalS3, checkStack, type StackCheckResult } from './stack-checks.ts';

export const STACK_SETTINGS = {
  s3Server: setting({
    env: 'BUCKETSPACE_S3',
    description:
      '`stack check`: `local` (the Compose stack runs the S3 server) or `external` (your own S3, docker-compose.external-s3.yml).',
    defaultText: 'local',
    schema: z.enum(['local', 'external']).default('local'),
  }),
  minioUser: setting({
    env: 'MINIO_ROOT_USER',
    description: 'MinIO root user of the Compose stack (also the S3 access key of its services).',
    defaultText: 'minioadmin (refused unless BUCKETSPACE_LOCAL_ONLY)',
    schema: z.string().optional(),
  }),
  minioPassword: setting({
    env: 'MINIO_ROOT_PASSWORD',
    description: 'MinIO root password (at least 8 characters); never logged.',
    defaultText: 'minioadmin (refused unless BUCKETSPACE_LOCAL_ONLY)',
    secret: true,
    schema: z.string().optional(),
  }),
  localOnly: setting({
    env: 'BUCKETSPACE_LOCAL_ONLY',
    description:
      'Accept guessable MinIO credentials because nothing is published beyond 127.0.0.1 (checked).',
    defaultText: 'false',
    schema: booleanSchema().default(false),
  }),
  minioBind: setting({
    env: 'MINIO_BIND',
    description: "Address MinIO's API and console ports are published on.",
    defaultText: '127.0.0.1',
    schema: z.string().min(1).default('127.0.0.1'),
  }),
  monitorBind: setting({
    env: 'MONITOR_BIND',
    description: "Address the monitor's apps port (MONITOR_PORT) is published on.",
    defaultText: '127.0.0.1',
    schema: z.string().min(1).default('127.0.0.1'),
  }),
  monitorAdminBind: setting({
    env: 'MONITOR_ADMIN_BIND',
    description:
      "Address the monitor's admin port (MONITOR_ADMIN_PORT: dashboard, API, mount API) is published on.",
    defaultText: '127.0.0.1',
    schema: z.string().min(1).default('127.0.0.1'),
  }),
  createBucket: setting({
    env: 'STACK_CREATE_BUCKET',
    description:
      '`stack bucket`: create S3_BUCKET when missing (false: only check that it exists and the keys can reach it).',
    defaultText: 'true (false in the external-S3 variant unless S3_CREATE_BUCKET=true)',
    schema: booleanSchema().default(true),
  }),
  waitTimeout: setting({
    env: 'STACK_WAIT_TIMEOUT',
    flag: '--wait',
    description: '`stack bucket`: how long to wait for the S3 server to answer.',
    defaultText: '2m',
    schema: durationSchema(1000).default(120_000),
  }),
};

function logLevel(io: CommandIo): 'info' {
  return (io.env.LOG_LEVEL ?? 'info') as 'info';
}

/** Every problem at once: invalid settings and refusals (exit 3 when anything is refused). */
function reportCheck(result: StackCheckResult): void {
  const problems = [...result.invalid, ...result.refused];
  if (problems.length === 0) return;
  const list = problems.map((p) => `  - ${p}`).join('\n');
  if (result.refused.length > 0) {
    throw new BucketspaceError('SAFETY_REFUSED', `the stack refuses to start:\n${list}`);
  }
  throw configError(problems);
}

function checkCommand(io: CommandIo): Command {
  return new Command('check')
    .description(
      'Refuse guessable MinIO credentials unless BUCKETSPACE_LOCAL_ONLY=true, and check that ' +
        'a local-only setup publishes nothing beyond 127.0.0.1; with BUCKETSPACE_S3=external, ' +
        'refuse empty or placeholder S3 keys. Prints every problem (exit 3 when refused, 2 when invalid).',
    )
    .action(() => {
      const [raw, s] = resolveAll(S3_SETTINGS, STACK_SETTINGS, { env: io.env });
      const logger = createLogger({ level: logLevel(io), pretty: io.stderr.isTTY === true });
      if (s.s3Server === 'external') {
        const { config, problems } = finishS3Config(raw);
        const result = checkExternalS3({
          accessKeyId: raw.accessKeyId,
          secretAccessKey: raw.secretAccessKey,
        });
        reportCheck({ ...result, invalid: [...problems, ...result.invalid] });
        logger.info(
          { endpoint: config.endpoint ?? 'AWS', bucket: config.bucket },
          'stack settings accepted (your own S3)',
        );
        return;
      }
      const result = checkStack({
        user: s.minioUser ?? 'minioadmin',
        password: s.minioPassword ?? 'minioadmin',
        localOnly: s.localOnly,
        binds: {
          MINIO_BIND: s.minioBind,
          MONITOR_BIND: s.monitorBind,
          MONITOR_ADMIN_BIND: s.monitorAdminBind,
        },
      });
      for (const w of result.warnings) logger.warn({ localOnly: true }, w);
      reportCheck(result);
      logger.info({ localOnly: s.localOnly }, 'stack settings accepted');
    });
}

function bucketCommand(io: CommandIo): Command {
  return new Command('bucket')
    .description(
      'Wait until the S3 server answers (up to --wait), then create S3_BUCKET when missing ' +
        '(STACK_CREATE_BUCKET=false: only check that it exists).',
    )
    .option('--wait <duration>', 'how long to wait for the S3 server (STACK_WAIT_TIMEOUT)')
    .action(async (flags: { wait?: string }) => {
      const [raw, stack] = resolveAll(S3_SETTINGS, STACK_SETTINGS, {
        env: io.env,
        flags: { waitTimeout: flags.wait },
      });
      const { config, problems } = finishS3Config(raw);
      if (problems.length > 0) throw configError(problems);
      const logger = createLogger({ level: logLevel(io), pretty: io.stderr.isTTY === true });
      const store = new S3ObjectStore({
        config: { ...config, maxAttempts: 1 },
        logger: logger.child({ component: 's3' }),
      });
      const deadline = Date.now() + stack.waitTimeout;
      for (let attempt = 0; ; attempt += 1) {
        try {
          const outcome = await store.ensureBucket(io.signal, { create: stack.createBucket });
          logger.info(
            { bucket: config.bucket, endpoint: config.endpoint ?? 'AWS', outcome },
            outcome === 'created' ? 'created the bucket' : 'the bucket exists',
          );
          return;
        } catch (err) {
          if (isBucketspaceError(err, 'S3_NO_SUCH_BUCKET')) {
            throw configError([
              `S3_BUCKET ${config.bucket} does not exist at ${config.endpoint ?? 'AWS S3'}: ` +
                'create it, or set S3_CREATE_BUCKET=true in .env to have the stack create it',
            ]);
          }
          // Wrong credentials or an invalid name will not fix themselves.
          const retryable = isBucketspaceError(err) && err.retryable;
          if (!retryable || io.signal.aborted || Date.now() >= deadline) throw err;
          const delay = Math.min(backoffDelay(attempt, { baseMs: 500, maxMs: 5000 }), 5000);
          logger.info(
            { endpoint: config.endpoint ?? 'AWS', attempt: attempt + 1, error: errorMessage(err) },
            `waiting for the S3 server (retrying in ${Math.round(delay / 100) / 10} s)`,
          );
          await sleep(delay, undefined, { signal: io.signal }).catch(() => undefined);
        }
      }
    });
}

export function stackCommand(io: CommandIo): Command {
  return new Command('stack')
    .description(
      'One-shot steps of the Compose stack: settings check and bucket creation or check.',
    )
    .addCommand(checkCommand(io))
    .addCommand(bucketCommand(io));
}

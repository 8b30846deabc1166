import { z } from 'zod';
import { bucketNameProblems } from '../bucket-name.ts';
import { DEFAULT_UPLOAD_CUTOFF, MAX_SINGLE_PUT, MIN_UPLOAD_CUTOFF } from './multipart.ts';
import {
  booleanSchema,
  bytesSchema,
  durationSchema,
  intSchema,
  setting,
  type SettingsOf,
} from '../settings.ts';

/** S3 settings shared by every service. */
export const S3_SETTINGS = {
  endpoint: setting({
    env: 'S3_ENDPOINT',
    flag: '--endpoint',
    description: 'S3 API endpoint URL, e.g. http://minio:9000. Unset means AWS S3.',
    defaultText: '(AWS)',
    schema: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional(),
  }),
  region: setting({
    env: 'S3_REGION',
    flag: '--region',
    description: 'S3 region.',
    defaultText: 'us-east-1',
    schema: z
      .string()
      .regex(/^[a-z0-9-]+$/, { error: 'must be a region name like us-east-1' })
      .default('us-east-1'),
  }),
  accessKeyId: setting({
    env: 'S3_ACCESS_KEY_ID',
    description:
      'Access key. When unset (with the secret), the standard AWS variables, profiles and roles are used.',
    defaultText: '(AWS default chain)',
    schema: z.string().min(1).optional(),
  }),
  secretAccessKey: setting({
    env: 'S3_SECRET_ACCESS_KEY',
    description: 'Secret key; never logged.',
    defaultText: '(AWS default chain)',
    secret: true,
    schema: z.string().min(1).optional(),
  }),
  bucket: setting({
    env: 'S3_BUCKET',
    flag: '--bucket',
    description: 'Bucket holding the workspaces; created when missing.',
    defaultText: 'workspaces',
    schema: z
      .string()
      .default('workspaces')
      .superRefine((name, ctx) => {
        for (const message of bucketNameProblems(name)) ctx.addIssue({ code: 'custom', message });
      }),
  }),
  forcePathStyle: setting({
    env: 'S3_FORCE_PATH_STYLE',
    description: 'Path-style URLs (http://host/bucket/key), which MinIO needs.',
    defaultText: 'true when S3_ENDPOINT is set',
    schema: booleanSchema().optional(),
  }),
  maxAttempts: setting({
    env: 'S3_MAX_ATTEMPTS',
    description:
      'Attempts per S3 request (exponential backoff with jitter between them); each retry is logged as "waiting for S3 (attempt n of N)".',
    defaultText: '5',
    schema: intSchema(1, 20).default(5),
  }),
  connectTimeout: setting({
    env: 'S3_CONNECT_TIMEOUT',
    description:
      'How long a connection to S3 may take to open before the attempt fails (a server that never answers the connection).',
    defaultText: '5s',
    schema: durationSchema(100).default(5_000),
  }),
  requestTimeout: setting({
    env: 'S3_REQUEST_TIMEOUT',
    description:
      'How long a request may go without a byte sent or received before the attempt fails (a server that accepts and never answers). Large transfers keep bytes moving, so this bounds silence, not size.',
    defaultText: '30s',
    schema: durationSchema(100).default(30_000),
  }),
  retryTimeout: setting({
    env: 'S3_RETRY_TIMEOUT',
    description:
      'How long one request may keep retrying: no new attempt starts after this long since its first, so an unreachable S3 fails a run within about this plus one S3_REQUEST_TIMEOUT.',
    defaultText: '1m',
    schema: durationSchema(0).default(60_000),
  }),
  uploadCutoff: setting({
    env: 'S3_UPLOAD_CUTOFF',
    description:
      'Files at least this large are uploaded in parts (multipart, 4 parts at a time); smaller ones in one PUT. From 5MiB to 5GiB.',
    defaultText: '200MiB',
    schema: bytesSchema(MIN_UPLOAD_CUTOFF, MAX_SINGLE_PUT).default(DEFAULT_UPLOAD_CUTOFF),
  }),
  checksums: setting({
    env: 'S3_CHECKSUMS',
    description:
      'When the SDK adds CRC checksums to requests: when_supported (AWS) or when_required (third-party servers that reject them).',
    defaultText: 'when_required with S3_ENDPOINT, else when_supported',
    schema: z.enum(['when_supported', 'when_required']).optional(),
  }),
};

export interface S3Config {
  endpoint: string | undefined;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string } | undefined;
  bucket: string;
  forcePathStyle: boolean;
  maxAttempts: number;
  connectTimeoutMs: number;
  /** Silence allowed on a request's socket. */
  requestTimeoutMs: number;
  /** No new attempt of a request starts after this long since its first. */
  retryTimeoutMs: number;
  /** Files of at least this many bytes are uploaded multipart. */
  uploadCutoff: number;
  checksums: 'when_supported' | 'when_required';
}

type RawS3 = SettingsOf<typeof S3_SETTINGS>;

/** Cross-field rules and derived defaults; returns problems instead of throwing. */
export function finishS3Config(raw: RawS3): { config: S3Config; problems: string[] } {
  const problems: string[] = [];
  if ((raw.accessKeyId === undefined) !== (raw.secretAccessKey === undefined)) {
    problems.push(
      'S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY must be set together (or both left unset)',
    );
  }
  const credentials =
    raw.accessKeyId !== undefined && raw.secretAccessKey !== undefined
      ? { accessKeyId: raw.accessKeyId, secretAccessKey: raw.secretAccessKey }
      : undefined;
  return {
    config: {
      endpoint: raw.endpoint,
      region: raw.region,
      credentials,
      bucket: raw.bucket,
      forcePathStyle: raw.forcePathStyle ?? raw.endpoint !== undefined,
      maxAttempts: raw.maxAttempts,
      connectTimeoutMs: raw.connectTimeout,
      requestTimeoutMs: raw.requestTimeout,
      retryTimeoutMs: raw.retryTimeout,
      uploadCutoff: raw.uploadCutoff,
      checksums: raw.checksums ?? (raw.endpoint !== undefined ? 'when_required' : 'when_supported'),
    },
    problems,
  };
}

/** The S3 config as it may be logged: the key id's first characters, never the secret. */
export function loggableS3Config(config: S3Config): Record<string, unknown> {
  const { credentials, ...rest } = config;
  return {
    ...rest,
    credentials: credentials
      ? `static key ${credentials.accessKeyId.slice(0, 4)}… (secret redacted)`
      : 'AWS default chain',
  };
}

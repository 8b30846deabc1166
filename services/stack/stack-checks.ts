// What the Compose stack checks before anything else starts. With the local
// S3 server: credentials an attacker could guess are refused unless the user
// says the setup is local-only, and "local-only" must then really mean
// nothing is published beyond loopback. With your own S3 (the external-S3
// variant): the keys must be set and must not be a placeholder.

/** MinIO's documented defaults, and the placeholder of .env.example. */
const GUESSABLE: ReadonlyArray<{ user?: string; password: string; what: string }> = [
  { user: 'minioadmin', password: 'minioadmin', what: "MinIO's default credentials" },
  { password: 'minioadmin', what: "MinIO's default password" },
  { password: 'change-me-to-a-long-random-secret', what: 'the placeholder from .env.example' },
];

/** MinIO refuses to start with a shorter root password. */
export const MIN_PASSWORD_LENGTH = 8;

export interface StackCheckInput {
  user: string | undefined;
  password: string | undefined;
  localOnly: boolean;
  /** Published ports: setting name -> the address it binds (e.g. MINIO_BIND -> 127.0.0.1). */
  binds: Record<string, string>;
}

export interface StackCheckResult {
  /** Settings that can never work (MinIO itself would refuse them). */
  invalid: string[];
  /** Settings that work but that the stack refuses for safety. */
  refused: string[];
  /** Accepted with a warning (guessable credentials on a local-only setup). */
  warnings: string[];
}

const FIX =
  'Fix: run scripts/setup-s3-mount.sh (it writes .env with generated credentials), or set ' +
  'MINIO_ROOT_USER and MINIO_ROOT_PASSWORD in .env (e.g. `openssl rand -hex 24`), or, for a ' +
  'setup only this machine can reach, set BUCKETSPACE_LOCAL_ONLY=true.';

export function isLoopback(address: string): boolean {
  const a = address.trim().replace(/^\[|\]$/g, '');
  return a === 'localhost' || a === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}

export function checkStack(input: StackCheckInput): StackCheckResult {
  const invalid: string[] = [];
  const refused: string[] = [];
  const warnings: string[] = [];
  const user = input.user ?? '';
  const password = input.password ?? '';
  if (user === '') invalid.push('MINIO_ROOT_USER is empty: set it in .env');
  if (password.length < MIN_PASSWORD_LENGTH) {
    invalid.push(
      `MINIO_ROOT_PASSWORD must be at least ${MIN_PASSWORD_LENGTH} characters (MinIO refuses shorter ones)`,
    );
  }
  const guess = GUESSABLE.find(
    (g) => g.password === password && (g.user === undefined || g.user === user),
  );
  if (guess !== undefined) {
    const subject =
      guess.user === undefined
        ? 'MINIO_ROOT_PASSWORD is'
        : 'MINIO_ROOT_USER/MINIO_ROOT_PASSWORD are';
    const problem = `${subject} ${guess.what}: anyone who reaches MinIO could read and change every workspace.`;
    if (input.localOnly) warnings.push(`${problem} Accepted because BUCKETSPACE_LOCAL_ONLY=true.`);
    else refused.push(`${problem} ${FIX}`);
  }
  if (input.localOnly) {
    for (const [name, address] of Object.entries(input.binds)) {
      if (!isLoopback(address)) {
        refused.push(
          `BUCKETSPACE_LOCAL_ONLY=true, but ${name}=${address} publishes a port beyond this machine: ` +
            `set ${name}=127.0.0.1, or set real credentials and BUCKETSPACE_LOCAL_ONLY=false.`,
        );
      }
    }
  }
  return { invalid, refused, warnings };
}

/** The placeholders of .env.example's "your own S3" section, and MinIO's defaults. */
const PLACEHOLDER_KEYS: ReadonlyArray<{ value: string; what: string }> = [
  { value: 'your-access-key-id', what: 'the placeholder from .env.example' },
  { value: 'your-secret-access-key', what: 'the placeholder from .env.example' },
  { value: 'minioadmin', what: "MinIO's default credentials" },
];

export interface ExternalS3CheckInput {
  accessKeyId: string | undefined;
  secretAccessKey: string | undefined;
}

const EXTERNAL_FIX =
  'Fix: set S3_ENDPOINT (empty for AWS), S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY and S3_BUCKET ' +
  'in .env to those of your S3, or leave out docker-compose.external-s3.yml to run the local server.';

/** The check of the external-S3 variant: real keys for the endpoint in .env. */
export function checkExternalS3(input: ExternalS3CheckInput): StackCheckResult {
  const invalid: string[] = [];
  const refused: string[] = [];
  const keys = [
    ['S3_ACCESS_KEY_ID', input.accessKeyId ?? ''],
    ['S3_SECRET_ACCESS_KEY', input.secretAccessKey ?? ''],
  ] as const;
  for (const [name, value] of keys) {
    if (value === '') {
      invalid.push(
        `${name} is empty: the external-S3 variant needs your S3's keys. ${EXTERNAL_FIX}`,
      );
      continue;
    }
    const placeholder = PLACEHOLDER_KEYS.find((p) => p.value === value);
    if (placeholder !== undefined) {
      refused.push(`${name} is ${placeholder.what}, not a key of your S3. ${EXTERNAL_FIX}`);
    }
  }
  return { invalid, refused, warnings: [] };
}

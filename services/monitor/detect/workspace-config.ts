import { z } from 'zod';
import type { RuntimeType } from '../types.ts';
import { parseJsonFile } from './json-text.ts';

export const WORKSPACE_JSON = 'workspace.json';

export const RUNTIME_TYPES: readonly RuntimeType[] = ['node', 'python', 'go', 'static'];

/**
 * `workspace.json` at a workspace's root: every field optional; what it sets
 * wins over detection, what it leaves out is detected.
 */
export interface WorkspaceConfig {
  type?: RuntimeType;
  port?: number;
  /** The start command (shell), run in /app. */
  command?: string;
  /** The install command (shell); null = nothing to install. */
  install?: string | null;
  env?: Record<string, string>;
  /** How many copies run at once (a Swarm service's replicas; the Docker engine runs one). */
  replicas?: number;
}

export type WorkspaceConfigParse =
  { ok: true; config: WorkspaceConfig } | { ok: false; reason: string };

const FIELDS = ['type', 'port', 'command', 'install', 'env', 'replicas'] as const;
/** The most replicas a workspace.json may ask for. */
export const MAX_REPLICAS = 32;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MAX_COMMAND_LENGTH = 4096;

const commandSchema = z
  .string({ error: 'must be a string (a shell command)' })
  .trim()
  .min(1, { error: 'must not be empty' })
  .max(MAX_COMMAND_LENGTH, { error: `must be at most ${MAX_COMMAND_LENGTH} characters` });

const schema = z.strictObject({
  type: z
    .enum(['node', 'python', 'go', 'static'], {
      error: `must be one of ${RUNTIME_TYPES.map((t) => `"${t}"`).join(', ')}`,
    })
    .optional(),
  port: z
    .number({ error: 'must be a number from 1 to 65535' })
    .int({ error: 'must be a whole number from 1 to 65535' })
    .min(1, { error: 'must be a number from 1 to 65535' })
    .max(65535, { error: 'must be a number from 1 to 65535' })
    .optional(),
  command: commandSchema.optional(),
  install: z
    .union([commandSchema, z.null()], {
      error: 'must be a shell command, or null for nothing to install',
    })
    .optional(),
  env: z
    .record(
      z.string(),
      z
        .union([z.string(), z.number(), z.boolean()], {
          error: 'must be a string, number or boolean',
        })
        .transform(String),
      { error: 'must be an object of NAME: "value" pairs' },
    )
    .superRefine((env, ctx) => {
      for (const name of Object.keys(env)) {
        const problem = envNameProblem(name);
        if (problem !== undefined) ctx.addIssue({ code: 'custom', path: [name], message: problem });
      }
    })
    .optional(),
  replicas: z
    .number({ error: `must be a number from 1 to ${MAX_REPLICAS}` })
    .int({ error: `must be a whole number from 1 to ${MAX_REPLICAS}` })
    .min(1, { error: `must be a number from 1 to ${MAX_REPLICAS}` })
    .max(MAX_REPLICAS, { error: `must be a number from 1 to ${MAX_REPLICAS}` })
    .optional(),
});

function envNameProblem(name: string): string | undefined {
  if (!ENV_NAME.test(name)) {
    return 'is not a valid variable name (letters, digits and _, not starting with a digit)';
  }
  if (name === 'PORT') return 'is set by the monitor from "port"; set "port" instead';
  if (name.startsWith('BUCKETSPACE_')) return 'is reserved for the runtime images (BUCKETSPACE_*)';
  return undefined;
}

/**
 * Parse and validate a workspace.json. Every problem is reported, each
 * naming its field: `workspace.json: "port" must be a number from 1 to 65535 (got "80a")`.
 */
export function parseWorkspaceConfig(text: string): WorkspaceConfigParse {
  const json = parseJsonFile(WORKSPACE_JSON, text);
  if (!json.ok) return json;
  if (typeof json.value !== 'object' || json.value === null || Array.isArray(json.value)) {
    return {
      ok: false,
      reason: `${WORKSPACE_JSON} must be a JSON object like {"port": 3000}, got ${describe(json.value)}`,
    };
  }
  const parsed = schema.safeParse(json.value);
  if (parsed.success) return { ok: true, config: withoutUndefined(parsed.data) };
  const problems = parsed.error.issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') {
      const keys = issue.keys.map((k) => `"${k}"`).join(', ');
      return `unknown field${issue.keys.length > 1 ? 's' : ''} ${keys} (allowed: ${FIELDS.join(', ')})`;
    }
    const field = issue.path.map(String).join('.');
    // env values may be secrets: the reason is shown on the dashboard.
    const got = issue.path[0] === 'env' ? { present: false } : valueAt(json.value, issue.path);
    return `"${field}" ${issue.message}${got.present ? ` (got ${describe(got.value)})` : ''}`;
  });
  return { ok: false, reason: `${WORKSPACE_JSON}: ${problems.join('; ')}` };
}

/** The fields a config sets, in the order of FIELDS. */
export function configuredFields(config: WorkspaceConfig): string[] {
  return FIELDS.filter((field) => config[field] !== undefined);
}

function withoutUndefined(data: z.infer<typeof schema>): WorkspaceConfig {
  const config: WorkspaceConfig = {};
  if (data.type !== undefined) config.type = data.type;
  if (data.port !== undefined) config.port = data.port;
  if (data.command !== undefined) config.command = data.command;
  if (data.install !== undefined) config.install = data.install;
  if (data.env !== undefined) config.env = data.env;
  if (data.replicas !== undefined) config.replicas = data.replicas;
  return config;
}

function valueAt(
  root: unknown,
  keys: readonly PropertyKey[],
): { present: boolean; value?: unknown } {
  let value = root;
  for (const key of keys) {
    if (typeof value !== 'object' || value === null || !Object.hasOwn(value, key)) {
      return { present: false };
    }
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return { present: true, value };
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

import express, { type Request, type Router } from 'express';
import { z } from 'zod';
import { BucketspaceError } from '../common/errors.ts';
import { requireAbsolute } from './mount-links.ts';
import type { MountManager } from './mount-manager.ts';
import { CACHE_MODES, ENGINE_NAMES } from './types.ts';

const OPTION_FIELDS = {
  readOnly: z.boolean().optional(),
  cacheMode: z.enum(CACHE_MODES).optional(),
  cacheSize: z.string().optional(),
  dirCache: z.union([z.string(), z.number()]).optional(),
  excludes: z.array(z.string()).optional(),
  auto: z.boolean().optional(),
  engine: z.enum(ENGINE_NAMES).optional(),
  roots: z.array(z.string().min(1)).optional(),
};

const CreateBody = z.strictObject({
  bucket: z.string().min(1),
  remote: z.string().min(1).optional(),
  start: z.boolean().optional(),
  ...OPTION_FIELDS,
});

const PatchBody = z
  .strictObject(OPTION_FIELDS)
  .refine((b) => Object.values(b).some((v) => v !== undefined), { error: 'nothing to change' });

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body ?? {});
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map(
    (i) => `${i.path.length > 0 ? `${i.path.join('.')}: ` : ''}${i.message}`,
  );
  throw new BucketspaceError('INVALID_INPUT', `invalid request body: ${problems.join('; ')}`, {
    details: { problems },
  });
}

function id(req: Request): string {
  return String(req.params.id);
}

function force(req: Request): boolean {
  return req.query.force === 'true' || req.query.force === '1';
}

/**
 * The mounts REST API, relative to where it is mounted (`/api/v0/mounts`):
 * `GET /`, `POST /`, `GET|PATCH|DELETE /:id`, `POST /:id/start`,
 * `POST /:id/stop`. A mount's id is its bucket name. Errors are thrown as
 * BucketspaceError (INVALID_INPUT, NOT_FOUND, CONFLICT, MOUNT_*, TOOL_MISSING)
 * for the host application's error middleware; authentication is the host's.
 */
export function mountsRouter(manager: MountManager): Router {
  const router = express.Router();
  router.use(express.json({ limit: '64kb' }));

  router.get('/', (_req, res) => {
    res.json({ mounts: manager.list() });
  });

  router.post('/', async (req, res) => {
    const body = parse(CreateBody, req.body);
    if (body.roots) requireAbsolute(body.roots);
    const existed = manager.get(body.bucket.replace(/^s3:\/\//i, '').replace(/\/+$/, ''));
    const result = await manager.add({ ...body, roots: body.roots });
    res.status(existed ? 200 : 201).json(result);
  });

  router.get('/:id', async (req, res) => {
    const { record, health } = await manager.status(id(req));
    res.json({ ...record, check: health, events: manager.events(record.bucket, 20) });
  });

  router.patch('/:id', async (req, res) => {
    const body = parse(PatchBody, req.body);
    if (body.roots) requireAbsolute(body.roots);
    res.json(await manager.update(id(req), body));
  });

  router.delete('/:id', async (req, res) => {
    res.json(await manager.remove(id(req), { force: force(req) }));
  });

  router.post('/:id/start', async (req, res) => {
    res.json(await manager.start(id(req)));
  });

  router.post('/:id/stop', async (req, res) => {
    res.json(await manager.stop(id(req), { force: force(req) }));
  });

  return router;
}

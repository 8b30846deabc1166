import express, { type Request, type Response, type Router } from 'express';
import { z } from 'zod';
import { BucketspaceError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import type { MonitorApi, MonitorEvent, WorkspaceView } from '../types.ts';
import { EventStream } from './event-stream.ts';
import { notFound } from './http-status.ts';
import { appUrl, type PublicUrlsOptions, type RequestOrigin } from './public-urls.ts';

export interface ApiRouterOptions {
  api: MonitorApi;
  logger: Logger;
  /** Aborts when the monitor shuts down: event and log streams end. */
  signal: AbortSignal;
  heartbeatMs: number;
  retryMs: number;
  /** Where the apps are: each view's `url` is its app's full URL on the apps origin. */
  urls: PublicUrlsOptions;
  originOf(req: Request): RequestOrigin;
}

const DEFAULT_TAIL = 200;
const MAX_TAIL = 5000;

const HookBody = z
  .object({
    workspaces: z.array(z.string().min(1).max(255)).max(10_000).optional(),
  })
  .strict();

const ACTIONS = ['restart', 'stop', 'start'] as const;

function param(req: Request, name: string): string {
  const value = req.params[name];
  if (typeof value !== 'string' || value === '') {
    throw new BucketspaceError('INVALID_INPUT', `missing ${name}`);
  }
  return value;
}

function parseTail(value: unknown): number {
  if (value === undefined) return DEFAULT_TAIL;
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_TAIL) {
    throw new BucketspaceError(
      'INVALID_INPUT',
      `tail must be a whole number from 1 to ${MAX_TAIL}`,
    );
  }
  return n;
}

function isTrue(value: unknown): boolean {
  return value === '1' || value === 'true' || value === 'yes';
}

/** The payload of each event on /api/events. */
function eventData(event: MonitorEvent, present: (v: WorkspaceView) => WorkspaceView): unknown {
  switch (event.type) {
    case 'workspace':
      return present(event.workspace);
    case 'workspace-removed':
      return { name: event.name };
    case 'status':
      return event.status;
  }
}

/**
 * The REST API under /api (the token guard runs before it):
 * workspaces, actions, logs, server-sent events, the sync hook.
 */
export function createApiRouter(options: ApiRouterOptions): Router {
  const { api } = options;
  const log = options.logger;
  const router = express.Router();
  router.use((_req, res, next) => {
    res.setHeader('cache-control', 'no-store');
    next();
  });

  const view = (name: string) => {
    const v = api.get(name);
    if (!v) throw notFound(`no workspace named "${name}"`);
    return v;
  };
  /** A view as this client sees it: `url` is where its browser finds the app (another origin). */
  const presenter = (req: Request) => {
    const from = options.originOf(req);
    return (v: WorkspaceView): WorkspaceView => ({ ...v, url: appUrl(options.urls, v.name, from) });
  };

  router.get('/status', (_req, res) => {
    res.json({ status: api.status() });
  });

  router.get('/workspaces', (req, res) => {
    res.json({ workspaces: api.list().map(presenter(req)) });
  });

  router.get('/workspaces/:name', (req, res) => {
    res.json({ workspace: presenter(req)(view(param(req, 'name'))) });
  });

  for (const action of ACTIONS) {
    router.post(`/workspaces/:name/${action}`, async (req, res) => {
      const name = param(req, 'name');
      log.info(
        { workspace: name, action, via: res.locals.authMethod as unknown },
        `${action} requested`,
      );
      await api[action](name);
      const after = api.get(name);
      res.status(202).json({ workspace: after ? presenter(req)(after) : null });
    });
  }

  router.get('/workspaces/:name/logs', async (req, res) => {
    const name = param(req, 'name');
    view(name);
    const tail = parseTail(req.query.tail);
    if (!isTrue(req.query.follow)) {
      res.json({ name, lines: await api.logs(name, tail) });
      return;
    }
    await followLogs(req, res, name, tail);
  });

  router.get('/events', (req, res) => {
    const stream = new EventStream(res, {
      retryMs: options.retryMs,
      heartbeatMs: options.heartbeatMs,
      signal: options.signal,
    });
    const present = presenter(req);
    // Subscribing and taking the snapshot in the same tick: no event falls between them.
    const unsubscribe = api.subscribe((event) =>
      stream.send(event.type, eventData(event, present)),
    );
    stream.send('snapshot', { status: api.status(), workspaces: api.list().map(present) });
    void stream.closed.then(unsubscribe);
    log.debug({ remote: req.socket.remoteAddress }, 'event stream opened');
  });

  router.post('/hooks/changed', (req, res) => {
    const parsed = HookBody.safeParse(req.body ?? {});
    if (!parsed.success) {
      throw new BucketspaceError(
        'INVALID_INPUT',
        'expected {"workspaces": ["name", ...]} (omit or leave empty for all)',
      );
    }
    const names = [...new Set(parsed.data.workspaces ?? [])];
    log.debug({ workspaces: names }, 'sync says workspaces changed');
    api.notifyChanged(names);
    res.status(202).json({ accepted: names });
  });

  /** Tail, then new lines as they come: SSE for EventSource, plain text lines otherwise. */
  async function followLogs(req: Request, res: Response, name: string, tail: number) {
    const stop = new AbortController();
    res.on('close', () => stop.abort());
    const signal = AbortSignal.any([stop.signal, options.signal]);
    const first = await api.logs(name, tail);
    const sse = (req.headers.accept ?? '').includes('text/event-stream');
    let stream: EventStream | undefined;
    if (sse) {
      stream = new EventStream(res, {
        retryMs: options.retryMs,
        heartbeatMs: options.heartbeatMs,
        signal,
      });
    } else {
      res.writeHead(200, {
        'content-type': 'text/plain; charset=utf-8',
        'cache-control': 'no-store',
        'x-accel-buffering': 'no',
      });
    }
    const emit = (line: string) => {
      if (stream) stream.send('line', line);
      else res.write(`${line}\n`);
    };
    for (const line of first) emit(line);
    try {
      for await (const line of api.followLogs(name, signal)) {
        if (signal.aborted) break;
        emit(line);
      }
    } catch (err) {
      if (!signal.aborted) log.warn({ err, workspace: name }, 'following the logs failed');
    }
    if (stream) {
      // Tells the dashboard the log ended (container gone), so it does not reconnect.
      stream.send('end', { name });
      stream.close();
    } else if (!res.writableEnded) {
      res.end();
    }
  }

  return router;
}

import type { ErrorRequestHandler, Request } from 'express';
import type { Logger } from '../../common/logger.ts';
import { toHttpError } from './http-status.ts';
import { loginPage, messagePage, PAGE_CSP } from './pages.ts';

/** Machine routes answer errors in JSON; everything else is a browser page. */
export function isMachinePath(path: string): boolean {
  return /^\/(api|healthz|metrics)(\/|$)/.test(path);
}

const TITLES: Record<number, string> = {
  400: 'Bad request',
  401: 'Log in',
  403: 'Forbidden',
  404: 'Not found',
  409: 'Conflict',
  500: 'Something went wrong',
  502: 'Bad gateway',
  503: 'Unavailable',
};

/**
 * The one error middleware: BucketspaceError codes to HTTP statuses, JSON
 * `{error: {code, message}}` for the API, a page for browsers. Never a stack
 * trace; unexpected errors are logged here, once, and shown as "internal error".
 */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req: Request, res, _next) => {
    const e = toHttpError(err);
    const where = { method: req.method, path: req.path, status: e.status, code: e.code };
    if (e.unexpected) logger.error({ ...where, err }, 'request failed');
    else logger.debug(where, e.message);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.status(e.status);
    res.setHeader('cache-control', 'no-store');
    if (isMachinePath(req.path)) {
      res.json({ error: { code: e.code, message: e.message } });
      return;
    }
    res.setHeader('content-security-policy', PAGE_CSP);
    if (e.status === 401) {
      res.type('html').send(loginPage({ next: safeNext(req.originalUrl) }));
      return;
    }
    res.type('html').send(
      messagePage({
        title: TITLES[e.status] ?? 'Error',
        status: `${e.status}`,
        lines: [e.message],
        link: { href: '/monitor', text: 'Open the dashboard' },
      }),
    );
  };
}

/** Where to go after logging in: only the dashboard's own pages (no open redirect). */
export function safeNext(next: unknown): string {
  if (typeof next !== 'string') return '/monitor';
  return /^\/monitor(\/[^/\\]*)*(\?[^\\]*)?$/.test(next) && !next.includes('//')
    ? next
    : '/monitor';
}

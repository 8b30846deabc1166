import { fileURLToPath } from 'node:url';
import express, { type Router } from 'express';
import type { Logger } from '../../common/logger.ts';
import { safeNext } from './error-handler.ts';
import { clientProto } from './forwarded.ts';
import { MonitorAuth } from './monitor-auth.ts';
import { loginPage, PAGE_CSP } from './pages.ts';

/** The dashboard's static files: HTML, CSS and vanilla JS modules, no build step. */
export const DASHBOARD_DIR = fileURLToPath(new URL('./dashboard/', import.meta.url));

const ASSETS_DIR = fileURLToPath(new URL('./dashboard/assets/', import.meta.url));

/** Scripts and styles from the monitor's own origin only. */
export const DASHBOARD_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

export interface DashboardRouterOptions {
  auth: MonitorAuth;
  trustProxy: boolean;
  logger: Logger;
}

/** /monitor (the dashboard), /login, /logout, /assets/*, /robots.txt. */
export function createDashboardRouter(options: DashboardRouterOptions): Router {
  const { auth } = options;
  const router = express.Router();
  const secure = (req: express.Request) => clientProto(req, options.trustProxy) === 'https';

  const sendLogin = (res: express.Response, status: number, next: string, error?: string) => {
    res
      .status(status)
      .set({ 'content-security-policy': PAGE_CSP, 'cache-control': 'no-store' })
      .type('html')
      .send(loginPage({ next, ...(error !== undefined ? { error } : {}) }));
  };

  router.get(['/monitor', '/monitor/'], (req, res) => {
    if (auth.authenticate(req) === undefined) {
      sendLogin(res, 401, safeNext(req.originalUrl));
      return;
    }
    res.set({ 'content-security-policy': DASHBOARD_CSP, 'cache-control': 'no-store' });
    res.sendFile('index.html', { root: DASHBOARD_DIR });
  });

  router.get('/login', (req, res) => {
    if (auth.authenticate(req) !== undefined) {
      res.redirect(303, safeNext(req.query.next));
      return;
    }
    sendLogin(res, 200, safeNext(req.query.next));
  });

  router.post(
    '/login',
    express.urlencoded({ extended: false, limit: '8kb', parameterLimit: 10 }),
    (req, res) => {
      const body = (req.body ?? {}) as Record<string, unknown>;
      const token = typeof body.token === 'string' ? body.token.trim() : '';
      const next = safeNext(body.next);
      if (token === '' || !auth.checkToken(token)) {
        options.logger.warn({ remote: req.socket.remoteAddress }, 'failed login to the dashboard');
        sendLogin(res, 401, next, 'Wrong token. Try again.');
        return;
      }
      options.logger.info({ remote: req.socket.remoteAddress }, 'logged in to the dashboard');
      res.setHeader('set-cookie', auth.sessionCookie(secure(req)));
      res.redirect(303, next);
    },
  );

  router.post('/logout', (req, res) => {
    res.setHeader('set-cookie', MonitorAuth.clearCookie(secure(req)));
    res.redirect(303, '/login');
  });

  router.use(
    '/assets',
    express.static(ASSETS_DIR, {
      index: false,
      dotfiles: 'ignore',
      // Revalidated each time (ETag): a new version is picked up without a build step.
      cacheControl: true,
      maxAge: 0,
      setHeaders: (res) => res.setHeader('x-content-type-options', 'nosniff'),
    }),
  );

  router.get('/robots.txt', (_req, res) => {
    res.type('text').send('User-agent: *\nDisallow: /monitor\nDisallow: /api/\nDisallow: /login\n');
  });

  return router;
}

import { fileURLToPath } from 'node:url';
import express, { type Router } from 'express';
import type { Logger } from '../../common/logger.ts';
import { verifyRequest, type GuardOptions } from './auth-middleware.ts';
import { safeNext } from './error-handler.ts';
import { clientAddress, clientProto, isAdminOriginRequest } from './forwarded.ts';
import { clientKey } from './guess-throttle.ts';
import { MonitorAuth } from './monitor-auth.ts';
import { loginPage, messagePage, PAGE_CSP } from './pages.ts';

/** The dashboard's static files: HTML, CSS and vanilla JS modules, no build step. */
export const DASHBOARD_DIR = fileURLToPath(new URL('./dashboard/', import.meta.url));

const ASSETS_DIR = fileURLToPath(new URL('./dashboard/assets/', import.meta.url));

/** Scripts and styles from the monitor's own origin only. */
export const DASHBOARD_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

export interface DashboardRouterOptions extends GuardOptions {
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

  /** A form post from anywhere but a page of the admin origin changes nothing and counts as no guess. */
  const refuseForeignForm = (req: express.Request, res: express.Response): boolean => {
    if (isAdminOriginRequest(req, options)) return false;
    res
      .status(403)
      .set({ 'content-security-policy': PAGE_CSP, 'cache-control': 'no-store' })
      .type('html')
      .send(
        messagePage({
          title: 'Forbidden',
          status: '403',
          lines: ['This form must be sent from the monitor’s own pages.'],
          link: { href: '/login', text: 'Open the login page' },
        }),
      );
    return true;
  };

  router.get(['/monitor', '/monitor/'], (req, res) => {
    if (!verifyRequest(req, options).ok) {
      sendLogin(res, 401, safeNext(req.originalUrl));
      return;
    }
    res.set({ 'content-security-policy': DASHBOARD_CSP, 'cache-control': 'no-store' });
    res.sendFile('index.html', { root: DASHBOARD_DIR });
  });

  router.get('/login', (req, res) => {
    if (verifyRequest(req, options).ok) {
      res.redirect(303, safeNext(req.query.next));
      return;
    }
    sendLogin(res, 200, safeNext(req.query.next));
  });

  router.post(
    '/login',
    express.urlencoded({ extended: false, limit: '8kb', parameterLimit: 10 }),
    (req, res) => {
      if (refuseForeignForm(req, res)) return;
      const body = (req.body ?? {}) as Record<string, unknown>;
      const token = typeof body.token === 'string' ? body.token.trim() : '';
      const next = safeNext(body.next);
      const remote = clientAddress(req, options.trustProxy);
      const outcome = auth.verifyToken(token, clientKey(remote));
      if (!outcome.ok && outcome.reason === 'locked') {
        options.logger.warn({ remote }, 'login refused: too many wrong tokens from this address');
        res.setHeader('retry-after', String(outcome.retryAfterSeconds));
        sendLogin(
          res,
          429,
          next,
          `Too many wrong tokens from your address. Try again in ${Math.ceil(outcome.retryAfterSeconds / 60)} min.`,
        );
        return;
      }
      if (!outcome.ok) {
        options.logger.warn({ remote }, 'failed login to the dashboard');
        sendLogin(res, 401, next, 'Wrong token. Try again.');
        return;
      }
      options.logger.info({ remote }, 'logged in to the dashboard');
      res.setHeader('set-cookie', auth.sessionCookie(secure(req)));
      res.redirect(303, next);
    },
  );

  router.post('/logout', (req, res) => {
    if (refuseForeignForm(req, res)) return;
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

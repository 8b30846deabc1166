import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { BucketspaceError } from '../../common/errors.ts';
import { isSameOriginRequest } from './forwarded.ts';
import type { MonitorAuth } from './monitor-auth.ts';

const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);

export const WWW_AUTHENTICATE = 'Bearer realm="bucketspace monitor"';

/**
 * The token guard of the API and /metrics: a bearer header or the session
 * cookie. A state-changing call that relies on the cookie must also come from
 * the monitor's own origin (CSRF); bearer calls need no such check, since a
 * browser never adds that header by itself.
 */
export function requireToken(options: { auth: MonitorAuth; trustProxy: boolean }): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const method = options.auth.authenticate(req);
    if (method === undefined) {
      res.setHeader('www-authenticate', WWW_AUTHENTICATE);
      next(
        new BucketspaceError(
          'UNAUTHORIZED',
          'missing or wrong token: send "Authorization: Bearer <MONITOR_TOKEN>", or log in at /login',
        ),
      );
      return;
    }
    if (
      method === 'cookie' &&
      !SAFE_METHODS.has(req.method) &&
      !isSameOriginRequest(req, options.trustProxy)
    ) {
      next(
        new BucketspaceError(
          'FORBIDDEN',
          'cross-site request refused: changes made with the session cookie must come from the dashboard itself (scripts can use the bearer token)',
        ),
      );
      return;
    }
    res.locals.authMethod = method;
    next();
  };
}

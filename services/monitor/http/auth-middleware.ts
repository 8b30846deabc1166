import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { BucketspaceError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import { clientAddress, isAdminOriginRequest } from './forwarded.ts';
import { clientKey } from './guess-throttle.ts';
import type { AuthOutcome, MonitorAuth } from './monitor-auth.ts';

const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);

export const WWW_AUTHENTICATE = 'Bearer realm="bucketspace monitor"';

export interface GuardOptions {
  auth: MonitorAuth;
  trustProxy: boolean;
  /** `MONITOR_ADMIN_URL`, when set: an admin origin next to the listener's own. */
  adminOrigin: string | undefined;
}

/** Judge a request's credentials, as the client its address names. */
export function verifyRequest(req: Request, options: GuardOptions): AuthOutcome {
  return options.auth.verify(req, clientKey(clientAddress(req, options.trustProxy)));
}

/** The error of a refused credential: 429 with Retry-After while locked out, else 401. */
export function refusal(
  outcome: Extract<AuthOutcome, { ok: false }>,
  res: Response,
): BucketspaceError {
  if (outcome.reason === 'locked') {
    res.setHeader('retry-after', String(outcome.retryAfterSeconds));
    return new BucketspaceError(
      'TOO_MANY_ATTEMPTS',
      `too many wrong tokens from your address: try again in ${Math.ceil(outcome.retryAfterSeconds / 60)} min`,
    );
  }
  res.setHeader('www-authenticate', WWW_AUTHENTICATE);
  return new BucketspaceError(
    'UNAUTHORIZED',
    'missing or wrong token: send "Authorization: Bearer <MONITOR_TOKEN>", or log in at /login',
  );
}

/**
 * The token guard of the API and /metrics: a bearer header or the session
 * cookie. A state-changing call that relies on the cookie must also come from
 * a page of the admin origin (CSRF, and no app's page can act as the admin);
 * bearer calls need no such check, since a browser never adds that header by
 * itself. Wrong bearer tokens count against the client's guesses.
 */
export function requireToken(options: GuardOptions & { logger: Logger }): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const outcome = verifyRequest(req, options);
    if (!outcome.ok) {
      if (outcome.reason !== 'missing') {
        const remote = clientAddress(req, options.trustProxy);
        if (outcome.reason === 'wrong') options.logger.warn({ remote }, 'wrong bearer token');
        else options.logger.debug({ remote }, 'bearer token refused unchecked: locked out');
      }
      next(refusal(outcome, res));
      return;
    }
    if (
      outcome.method === 'cookie' &&
      !SAFE_METHODS.has(req.method) &&
      !isAdminOriginRequest(req, options)
    ) {
      next(
        new BucketspaceError(
          'FORBIDDEN',
          'cross-origin request refused: changes made with the session cookie must come from the dashboard itself (scripts can use the bearer token)',
        ),
      );
      return;
    }
    res.locals.authMethod = outcome.method;
    next();
  };
}

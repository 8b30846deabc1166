import { endpointUnder, HintSender, type ChangeNotifier } from './hint-sender.ts';
import type { Logger } from './logger.ts';

export type { ChangeNotifier } from './hint-sender.ts';

export interface MonitorClientOptions {
  /** `MONITOR_URL`: the monitor's admin origin, e.g. `http://monitor:8081` (a path prefix is kept). */
  url: string;
  /** `MONITOR_TOKEN`: sent as a bearer token. */
  token: string;
  logger: Logger;
  /** Per request; default 2 s. */
  timeoutMs?: number;
}

/**
 * Tells the monitor "these workspaces changed" (`POST /api/hooks/changed`),
 * so it rescans at once instead of at its next poll. Fire and forget, merged
 * while in flight, a failure warned about once per outage (HintSender).
 */
export class MonitorClient implements ChangeNotifier {
  private readonly sender: HintSender;

  constructor(options: MonitorClientOptions) {
    const endpoint = endpointUnder(options.url, 'api/hooks/changed');
    this.sender = new HintSender({
      logger: options.logger,
      timeoutMs: options.timeoutMs,
      messages: {
        component: 'monitor-hook',
        failing:
          'cannot tell the monitor what changed (it will still see the changes at its next scan)',
        recovered: 'the monitor answers again',
        sent: 'told the monitor what changed',
      },
      requests: (workspaces) => [
        {
          url: endpoint,
          init: {
            method: 'POST',
            headers: {
              authorization: `Bearer ${options.token}`,
              'content-type': 'application/json',
            },
            body: JSON.stringify({ workspaces }),
          },
        },
      ],
      problem: (res) => {
        if (res.status === 401) return 'HTTP 401: MONITOR_TOKEN is not the monitor’s token';
        if (res.status === 404) {
          return 'HTTP 404: MONITOR_URL must be the monitor’s admin port (MONITOR_ADMIN_PORT, 8081), not the apps port';
        }
        return res.ok ? undefined : `HTTP ${res.status}`;
      },
    });
  }

  notifyChanged(names: readonly string[]): Promise<void> {
    return this.sender.notifyChanged(names);
  }

  /** Abandon what is in flight (the sync is stopping). */
  close(): void {
    this.sender.close();
  }
}

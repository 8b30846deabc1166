import { silentLogger } from '../../services/common/logger.ts';
import {
  createMonitorHttp,
  type MonitorHttp,
  type MonitorHttpOptions,
} from '../../services/monitor/http/monitor-http.ts';
import { MonitorMetrics } from '../../services/monitor/http/monitor-metrics.ts';
import { MemoryMonitorApi } from './memory-monitor-api.ts';

export const TEST_TOKEN = 'test-token-4f9c2a71b3e84d0f9a6c';

/** The monitor's HTTP layer over an in-memory MonitorApi, both origins on 127.0.0.1:<random>. */
export interface MonitorFixture {
  api: MemoryMonitorApi;
  http: MonitorHttp;
  /** The admin origin: dashboard, API, metrics. */
  base: string;
  port: number;
  /** The apps origin: `/<workspace>/`. */
  appsBase: string;
  appsPort: number;
  /** Headers with the bearer token (plus any given). */
  auth(extra?: Record<string, string>): Record<string, string>;
  close(): Promise<void>;
}

export async function startMonitor(
  options: Partial<Omit<MonitorHttpOptions, 'api'>> & { api?: MemoryMonitorApi } = {},
): Promise<MonitorFixture> {
  const api = options.api ?? new MemoryMonitorApi();
  const http = createMonitorHttp({
    token: TEST_TOKEN,
    logger: silentLogger(),
    metrics: new MonitorMetrics(),
    ...options,
    api,
  });
  const address = await http.listen({
    apps: { port: 0, host: '127.0.0.1' },
    admin: { port: 0, host: '127.0.0.1' },
  });
  return {
    api,
    http,
    port: address.admin.port,
    base: `http://127.0.0.1:${address.admin.port}`,
    appsPort: address.apps.port,
    appsBase: `http://127.0.0.1:${address.apps.port}`,
    auth: (extra = {}) => ({ authorization: `Bearer ${TEST_TOKEN}`, ...extra }),
    close: () => http.close(),
  };
}

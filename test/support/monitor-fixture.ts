import { silentLogger } from '../../services/common/logger.ts';
import {
  createMonitorHttp,
  type MonitorHttp,
  type MonitorHttpOptions,
} from '../../services/monitor/http/monitor-http.ts';
import { MonitorMetrics } from '../../services/monitor/http/monitor-metrics.ts';
import { MemoryMonitorApi } from './memory-monitor-api.ts';

export const TEST_TOKEN = 'test-token-4f9c2a71b3e84d0f9a6c';

/** The monitor's HTTP layer over an in-memory MonitorApi, listening on 127.0.0.1:<random>. */
export interface MonitorFixture {
  api: MemoryMonitorApi;
  http: MonitorHttp;
  base: string;
  port: number;
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
  const address = await http.listen(0, '127.0.0.1');
  return {
    api,
    http,
    port: address.port,
    base: `http://127.0.0.1:${address.port}`,
    auth: (extra = {}) => ({ authorization: `Bearer ${TEST_TOKEN}`, ...extra }),
    close: () => http.close(),
  };
}

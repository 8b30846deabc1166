// End to end, the Compose stack (test/support/stack-e2e.ts): the rclone
// variant under Compose v2, behind Caddy's HTTPS front.
import { freePort } from './support/compose-stack.ts';
import { beforeStackTests, smoke, v2 } from './support/stack-e2e.ts';

beforeStackTests();
if (v2 !== undefined) {
  smoke({
    name: 'rclone',
    compose: v2,
    files: ['docker-compose.rclone.yml'],
    direct: false,
    https: true,
    adoption: true,
    stackDown: { restart: false },
    env: {
      COMPOSE_PROFILES: 'https',
      DOMAIN: 'bucketspace.localhost',
      CADDY_IMAGE: 'bucketspace-local/caddy:2',
      HTTP_BIND: '127.0.0.1',
      HTTP_PORT: String(await freePort()),
      HTTPS_PORT: String(await freePort()),
      MONITOR_TRUST_PROXY: 'true',
    },
  });
}

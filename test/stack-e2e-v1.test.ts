// End to end, the Compose stack (test/support/stack-e2e.ts): the default
// variant under Compose v1 (docker-compose 1.29).
import { beforeStackTests, smoke, v1 } from './support/stack-e2e.ts';

beforeStackTests();
if (v1 !== undefined) {
  smoke({
    name: 'default',
    compose: v1,
    files: [],
    direct: false,
    stress: false, // the same mount as the rclone variant, stressed under v2
    stackDown: { restart: true },
    restore: true,
  });
}

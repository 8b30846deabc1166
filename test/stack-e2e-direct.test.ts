// End to end, the Compose stack (test/support/stack-e2e.ts): the direct
// mount under Compose v2, and switching variants over one mount cache.
import { beforeStackTests, smoke, v2, variantSwitch } from './support/stack-e2e.ts';

beforeStackTests();
if (v2 !== undefined) {
  smoke({ name: 'direct', compose: v2, files: ['docker-compose.s3-direct.yml'], direct: true });
  variantSwitch(v2);
}

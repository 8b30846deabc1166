// End to end, the Compose stack (test/support/stack-e2e.ts): the s3fs
// variant under Compose v2, started by scripts/setup-s3-mount.sh.
import { beforeStackTests, smoke, v2 } from './support/stack-e2e.ts';

beforeStackTests();
if (v2 !== undefined) {
  smoke({
    name: 's3fs',
    compose: v2,
    files: ['docker-compose.s3fs.yml'],
    direct: false,
    viaSetupScript: 's3fs',
  });
}

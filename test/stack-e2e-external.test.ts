// End to end, the Compose stack (test/support/stack-e2e.ts): your own S3
// (docker-compose.external-s3.yml) under Compose v2, and the credentials check.
import { beforeStackTests, credentialsChecks, smoke, v2 } from './support/stack-e2e.ts';

beforeStackTests();
credentialsChecks();
if (v2 !== undefined) {
  // Mount recovery does not depend on where the bucket is: not repeated here.
  smoke({
    name: 'external',
    compose: v2,
    files: ['docker-compose.external-s3.yml'],
    direct: false,
    externalS3: true,
    mountKills: false,
  });
}

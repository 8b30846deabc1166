#!/bin/sh
# Stand-in for MinIO's `mc` in the s3rver container of test/e2e/swarm-stack.s3rver.yml:
# deploy/swarm-stack.yml's health check runs `mc ready local`, and `docker stack deploy`
# keeps the first file's health check when given several files, so the check itself is
# answered here: ready when the S3 port answers.
if [ "$*" != "ready local" ]; then
  echo "mc (test stand-in): only 'mc ready local' is supported, got: $*" >&2
  exit 2
fi
exec node -e "fetch('http://127.0.0.1:9000/').then(() => process.exit(0), () => process.exit(1))"

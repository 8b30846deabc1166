#!/bin/sh
# npm test: every test file, two at a time (each test has its own bucket,
# directories, ports, Docker labels and Compose project); then, by
# themselves, the files that change the Docker engine itself (test/alone/:
# Swarm mode), which no other test may see. The exit status is 1 when either
# run failed.
cd "$(dirname "$0")/.." || exit 1
node --test --test-concurrency=2 --test-timeout=300000 "services/**/*.test.ts" "test/*.test.ts"
status=$?
node --test --test-concurrency=1 --test-timeout=900000 "test/alone/*.test.ts" || status=1
exit $status

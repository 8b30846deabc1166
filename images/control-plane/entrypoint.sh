#!/bin/sh
# Runs the bucketspace CLI as the unprivileged user 10001. Started as root
# (the Compose stack does this for the monitor), it first adds the group that
# owns the Docker socket, whatever its number on this host, and then drops
# root and every capability: the monitor reaches Docker and nothing else.
set -eu
cli=/opt/bucketspace/services/cli.js
# The Compose stack points the sync's hook at the monitor (MONITOR_URL). With
# no MONITOR_TOKEN set the monitor generates its own, which the sync cannot
# know: the sync then runs without the hook (the monitor still sees every
# change at its next scan) instead of refusing to start.
if [ "${1:-}" = sync ] && [ -n "${MONITOR_URL:-}" ] && [ -z "${MONITOR_TOKEN:-}" ]; then
  echo "bucketspace: MONITOR_TOKEN is not set: the sync does not tell the monitor what changed (the monitor sees it at its next scan, MONITOR_POLL_INTERVAL). scripts/setup-s3-mount.sh sets a token in .env." >&2
  unset MONITOR_URL
fi
if [ "$(id -u)" != 0 ] || [ "${BUCKETSPACE_RUN_AS_ROOT:-false}" = true ]; then
  exec node "$cli" "$@"
fi
groups=10001
docker_host=${DOCKER_HOST:-unix:///var/run/docker.sock}
case "$docker_host" in
  unix://*)
    socket=${docker_host#unix://}
    if [ -S "$socket" ]; then
      groups="$groups,$(stat -c %g "$socket")"
    fi
    ;;
esac
exec setpriv --reuid=10001 --regid=10001 --groups="$groups" \
  --inh-caps=-all --bounding-set=-all --no-new-privs \
  node "$cli" "$@"

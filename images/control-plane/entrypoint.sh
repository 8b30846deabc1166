#!/bin/sh
# Runs the bucketspace CLI as the unprivileged user 10001. Started as root
# (the Compose stack does this for the monitor), it first adds the group that
# owns the Docker socket, whatever its number on this host, and then drops
# root and every capability: the monitor reaches Docker and nothing else.
set -eu
cli=/opt/bucketspace/services/cli.js
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

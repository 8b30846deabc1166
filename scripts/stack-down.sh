#!/usr/bin/env bash
# Stops everything the bucketspace stack started, the apps included.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: scripts/stack-down.sh [--forget [-y]] [-t SECONDS]

Stops everything the stack started: first the monitor (so that it starts no
replacement), then every app container it ran (labelled
bucketspace.managed-by=<MONITOR_INSTANCE>: Compose does not know them, so
`docker compose down` leaves them running), then the stack itself
(`docker compose down` with every profile, so Caddy and profile-only services
go too). The volumes are kept: the next `docker compose up` finds the S3
server's data, the sync state, the certificates and the apps' installed
dependencies as they were.

Options:
  --forget        and forget all local state: remove every volume of the stack
                  too (the local S3 server's data in minio-data, caddy-data,
                  caddy-config, sync-state, monitor-state, mount-cache) and the
                  apps' dependency caches (volumes bucketspace-deps-<instance>-*,
                  labelled bucketspace.managed-by=<MONITOR_INSTANCE>), for a
                  clean reinstall. Asks first unless -y is given.
  -y, --yes       do not ask
  -t, --timeout SECONDS   grace period before containers are killed (default 10)
  -h, --help      this text

Needs only bash and Docker (no Node). Uses the Compose files and settings of
this checkout's .env (COMPOSE_FILE, as scripts/setup-s3-mount.sh wrote it).

Environment:
  BUCKETSPACE_ENV_FILE   the .env to use (default .env here)
EOF
}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=lib/env-file.sh
source "$ROOT/scripts/lib/env-file.sh"
# shellcheck source=lib/compose.sh
source "$ROOT/scripts/lib/compose.sh"
say() { printf 'stack-down: %s\n' "$*" >&2; }
die() {
  say "error: $*"
  exit 1
}

forget=false
yes=false
timeout=10
while (($# > 0)); do
  case "$1" in
    --forget) forget=true ;;
    -y | --yes) yes=true ;;
    -t | --timeout)
      timeout=${2:-}
      shift
      ;;
    -h | --help)
      usage
      exit 0
      ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done
[[ $timeout =~ ^[0-9]+$ ]] || die "--timeout must be a number of seconds (got '$timeout')"

need_docker_and_compose
stack_compose "$ROOT"

# Every profile on, so that `down` sees every service the stack may have
# started (Caddy, the sync of the direct variant, the local S3 server of the
# external-S3 variant) and every volume they use.
profiles=$(run_compose config --profiles | paste -sd, -) || die "the Compose files are not valid (see above)"
export COMPOSE_PROFILES=$profiles

# The stack's containers (one-shots included) and its project name.
containers=$(run_compose ps -a -q)
project=""
for id in $containers; do
  project=$(docker inspect --format '{{index .Config.Labels "com.docker.compose.project"}}' "$id" 2>/dev/null) &&
    [[ -n $project ]] && break
done

# The label value of the apps: what the monitor container was started with,
# else the setting.
instance=""
monitor=$(run_compose ps -a -q monitor | head -n 1)
if [[ -n $monitor ]]; then
  instance=$(docker inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$monitor" |
    sed -n 's/^MONITOR_INSTANCE=//p' | head -n 1)
fi
[[ -n $instance ]] || instance=$(setting_value "$env_file" MONITOR_INSTANCE)
instance=${instance:-bucketspace}

# The apps' dependency caches: the monitor's volumes, not Compose's.
app_volumes() { docker volume ls -q --filter "label=bucketspace.managed-by=$instance"; }

if $forget; then
  volumes=""
  [[ -n $project ]] &&
    volumes=$(docker volume ls -q --filter "label=com.docker.compose.project=$project" | paste -sd' ' -)
  caches=$(app_volumes | paste -sd' ' -)
  say "--forget removes every volume of the stack${volumes:+: $volumes}"
  say "(the local S3 server's data, the sync state, the certificates, the mount cache)"
  say "and the apps' dependency caches (bucketspace.managed-by=$instance)${caches:+: $caches}."
  if ! $yes; then
    [[ -t 0 ]] || die "--forget deletes data: run it on a terminal, or add -y"
    read -r -p "stack-down: remove them for good? [y/N] " answer
    [[ $answer == [yY]* ]] || die "nothing removed"
  fi
fi

if [[ -n $monitor ]]; then
  say "stopping the monitor (it would replace the apps)"
  run_compose stop -t "$timeout" monitor
fi

apps=$(docker ps -a -q --filter "label=bucketspace.managed-by=$instance")
if [[ -n $apps ]]; then
  say "stopping and removing $(wc -w <<<"$apps") app containers (bucketspace.managed-by=$instance)"
  # shellcheck disable=SC2086
  docker stop -t "$timeout" $apps >/dev/null
  # shellcheck disable=SC2086
  docker rm -f $apps >/dev/null
else
  say "no app containers (bucketspace.managed-by=$instance)"
fi

down=(down --remove-orphans -t "$timeout")
$forget && down+=(--volumes)
say "docker compose ${down[*]}"
run_compose "${down[@]}"

if $forget && [[ -n $project ]]; then
  # Volumes no file declares any more (another variant's, an old profile's).
  left=$(docker volume ls -q --filter "label=com.docker.compose.project=$project")
  if [[ -n $left ]]; then
    # shellcheck disable=SC2086
    docker volume rm $left >/dev/null
  fi
fi

remaining=$(docker ps -a -q --filter "label=bucketspace.managed-by=$instance")
[[ -z $remaining ]] || die "app containers are still there: $remaining"

if $forget; then
  caches=$(app_volumes)
  if [[ -n $caches ]]; then
    say "removing $(wc -w <<<"$caches") dependency caches of the apps (bucketspace.managed-by=$instance)"
    # shellcheck disable=SC2086
    docker volume rm $caches >/dev/null
  fi
fi
if $forget; then
  say "stopped; every container and volume of the stack is gone, the apps' too"
else
  say "stopped; the volumes are kept (scripts/stack-down.sh --forget removes them)"
fi

#!/usr/bin/env bash
# Says why the bucketspace stack is not running, service by service.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: scripts/stack-doctor.sh [-n LINES]

`docker compose up -d` only says, for example, `service "check" didn't
complete successfully: exit 3`. This prints the reasons: every service that
failed (a one-shot step that exited with an error, a service that stopped,
keeps restarting or is unhealthy) with its last log lines, and the services
that were never created because they wait for a failed one. Exit code 0 when
nothing is wrong, 1 otherwise.

Options:
  -n, --lines LINES   log lines per failed service (default 30)
  -h, --help          this text

Needs only bash and Docker. Uses the Compose files and settings of this
checkout's .env (COMPOSE_FILE).

Environment:
  BUCKETSPACE_ENV_FILE   the .env to use (default .env here)
EOF
}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=lib/env-file.sh
source "$ROOT/scripts/lib/env-file.sh"
# shellcheck source=lib/compose.sh
source "$ROOT/scripts/lib/compose.sh"
say() { printf 'stack-doctor: %s\n' "$*"; }
die() {
  printf 'stack-doctor: error: %s\n' "$*" >&2
  exit 2
}

lines=30
while (($# > 0)); do
  case "$1" in
    -n | --lines)
      lines=${2:-}
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
[[ $lines =~ ^[0-9]+$ ]] || die "--lines must be a number (got '$lines')"

need_docker_and_compose
stack_compose "$ROOT"

services=$(run_compose config --services) || die "the Compose files are not valid (above)"
[[ -f $env_file ]] || say "note: $env_file does not exist: the stack runs on its defaults (scripts/setup-s3-mount.sh writes one)"
files=$(setting_value "$env_file" COMPOSE_FILE)
say "$COMPOSE_LABEL; Compose files: ${files:-docker-compose.yml (no COMPOSE_FILE in $env_file)}"

containers=$(run_compose ps -a -q)
if [[ -z $containers ]]; then
  say "the stack has no containers: start it with docker compose up -d (or scripts/setup-s3-mount.sh)"
  exit 1
fi
problems=0
declare -A present=()
for id in $containers; do
  IFS='|' read -r service oneoff status code health restarts policy < <(docker inspect --format \
    '{{index .Config.Labels "com.docker.compose.service"}}|{{index .Config.Labels "com.docker.compose.oneoff"}}|{{.State.Status}}|{{.State.ExitCode}}|{{if .State.Health}}{{.State.Health.Status}}{{end}}|{{.RestartCount}}|{{.HostConfig.RestartPolicy.Name}}' \
    "$id")
  [[ $oneoff == True ]] && continue # `docker compose run` containers
  present[$service]=1
  why=""
  if [[ $policy == no ]]; then
    # A one-shot step (check, bucket, the image builders): it must exit 0.
    if [[ $status == exited && $code != 0 ]]; then why="exited with code $code"; fi
  else
    case "$status" in
      running)
        [[ $health == unhealthy ]] && why="unhealthy"
        ((restarts > 0)) && [[ -z $why ]] && say "$service: running, restarted $restarts times"
        ;;
      restarting) why="keeps restarting (exit code $code, $restarts restarts)" ;;
      exited | dead) why="stopped (exit code $code)" ;;
      *) why="$status" ;;
    esac
  fi
  if [[ -n $why ]]; then
    problems=$((problems + 1))
    say "$service: $why; its last $lines log lines:"
    docker logs --tail "$lines" "$id" 2>&1 | sed 's/^/    /'
  else
    say "$service: ok ($status${health:+, $health})"
  fi
done
missing=()
for service in $services; do
  [[ -n ${present[$service]:-} ]] || missing+=("$service")
done
if ((${#missing[@]} > 0)); then
  say "not created: ${missing[*]} (a profile that is off, or they wait for a failed service)"
fi
if ((problems > 0)); then
  exit 1
fi
say "nothing wrong found"
admin_port=$(setting_value "$env_file" MONITOR_ADMIN_PORT)
apps_port=$(setting_value "$env_file" MONITOR_PORT)
say "dashboard: http://127.0.0.1:${admin_port:-8081}/monitor; apps: http://127.0.0.1:${apps_port:-8080}/<workspace>/"

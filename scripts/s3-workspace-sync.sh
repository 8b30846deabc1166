#!/usr/bin/env bash
# Sync ./workspaces to the stack's bucket with the bucketspace sync CLI.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: scripts/s3-workspace-sync.sh [watch | workspace <name> | pull [<name>] | trash [<name>] |
                                     restore <name> [--at <time>] [--as <name>] | explain <path>] [sync flags]

  (no command)       sync every workspace once
  watch              sync every workspace, then follow changes until Ctrl-C
  workspace <name>   sync one workspace
  pull [<name>]      copy the bucket back into the workspaces directory
  trash [<name>]     list what the sync moved to the trash, and until when
  restore <name>     bring a deleted workspace (or deleted files) back from the trash
  explain <path>     say which rule includes or excludes a path

Flags go to `bucketspace sync` (--dry-run, --json, --no-delete, --max-delete,
--concurrency, --force, ...; see `npm run sync -- --help`).

Settings: S3_* and WORKSPACES_DIR from the environment when set; otherwise the
stack's .env: its local S3 server on 127.0.0.1:$MINIO_API_PORT with
MINIO_ROOT_USER / MINIO_ROOT_PASSWORD, or, when its COMPOSE_FILE names
docker-compose.external-s3.yml, your own S3 (S3_ENDPOINT, S3_ACCESS_KEY_ID, ...). Runs with this checkout's Node (after `npm ci`), or in
the bucketspace/control-plane image when node_modules is missing.

Environment:
  BUCKETSPACE_ENV_FILE   the .env to read (default: .env of this checkout)
  BUCKETSPACE_SYNC_RUNNER  node | docker (default: node when node_modules exists)
EOF
}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
say() { printf 's3-workspace-sync: %s\n' "$*" >&2; }
die() {
  say "error: $*"
  exit 2
}

case "${1:-}" in
  -h | --help | help)
    usage
    exit 0
    ;;
esac

# Values from .env, without sourcing it (it is data, not a script).
env_file=${BUCKETSPACE_ENV_FILE:-$ROOT/.env}
# shellcheck source=lib/env-file.sh
source "$ROOT/scripts/lib/env-file.sh"
env_value() { env_file_value "$env_file" "$1"; }

if [[ -z ${S3_ENDPOINT:-} && -z ${S3_ACCESS_KEY_ID:-} ]]; then
  [[ -f $env_file ]] ||
    die "no S3 settings: set S3_ENDPOINT, S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY, or create $env_file (scripts/setup-s3-mount.sh)"
  if [[ $(env_value COMPOSE_FILE) == *docker-compose.external-s3.yml* ]]; then
    # The stack runs against your own S3: the same settings it uses.
    for key in S3_ENDPOINT S3_ACCESS_KEY_ID S3_SECRET_ACCESS_KEY S3_REGION S3_FORCE_PATH_STYLE; do
      value=$(env_value "$key")
      [[ -n $value ]] && export "$key=$value"
    done
    [[ -n ${S3_ACCESS_KEY_ID:-} ]] || die "$env_file has no S3_ACCESS_KEY_ID (your own S3's keys)"
  else
    user=$(env_value MINIO_ROOT_USER)
    password=$(env_value MINIO_ROOT_PASSWORD)
    [[ -n $user && -n $password ]] || die "$env_file has no MINIO_ROOT_USER / MINIO_ROOT_PASSWORD"
    port=$(env_value MINIO_API_PORT)
    export S3_ENDPOINT="http://127.0.0.1:${port:-9000}"
    export S3_ACCESS_KEY_ID=$user
    export S3_SECRET_ACCESS_KEY=$password
  fi
  bucket=$(env_value S3_BUCKET)
  [[ -n $bucket && -z ${S3_BUCKET:-} ]] && export S3_BUCKET=$bucket
fi
if [[ -z ${WORKSPACES_DIR:-} ]]; then
  dir=$(env_value WORKSPACES_DIR)
  dir=${dir:-./workspaces}
  [[ $dir == /* ]] || dir="$ROOT/${dir#./}"
  export WORKSPACES_DIR=$dir
fi

# The seed's commands, as the CLI's.
args=(sync)
case "${1:-}" in
  watch)
    shift
    args+=(watch)
    ;;
  workspace)
    [[ -n ${2:-} ]] || die "usage: $0 workspace <name>"
    args+=(workspace "$2")
    shift 2
    ;;
  pull | explain | trash | restore)
    args+=("$1")
    shift
    ;;
esac
args+=("$@")

runner=${BUCKETSPACE_SYNC_RUNNER:-}
if [[ -z $runner ]]; then
  if [[ -d $ROOT/node_modules/@aws-sdk ]]; then runner=node; else runner=docker; fi
fi
case "$runner" in
  node)
    cd "$ROOT"
    exec npx --no-install node "$ROOT/services/cli.js" "${args[@]}"
    ;;
  docker)
    command -v docker >/dev/null 2>&1 || die "neither node_modules (npm ci) nor docker is available"
    tty=()
    [[ -t 0 && -t 1 ]] && tty=(-it)
    [[ -d $WORKSPACES_DIR ]] || die "WORKSPACES_DIR $WORKSPACES_DIR does not exist"
    mode=ro
    [[ ${args[1]:-} == pull || ${args[1]:-} == restore ]] && mode=rw
    # As you, so pulled files are yours; sync state is kept for this run only.
    exec docker run --rm "${tty[@]}" --network host --user "$(id -u):$(id -g)" \
      -e SYNC_STATE_DIR=/tmp/bucketspace-sync-state \
      -e S3_ENDPOINT -e S3_ACCESS_KEY_ID -e S3_SECRET_ACCESS_KEY -e S3_BUCKET -e S3_REGION -e S3_FORCE_PATH_STYLE \
      -e SYNC_EXCLUDE -e SYNC_MAX_DELETE -e SYNC_CONCURRENCY -e LOG_LEVEL \
      -e SYNC_DELETE_MISSING_WORKSPACES -e SYNC_TRASH_RETENTION \
      -e WORKSPACES_DIR=/local-workspaces \
      -v "$WORKSPACES_DIR:/local-workspaces:$mode" \
      bucketspace/control-plane:latest "${args[@]}"
    ;;
  *) die "BUCKETSPACE_SYNC_RUNNER must be node or docker (got $runner)" ;;
esac

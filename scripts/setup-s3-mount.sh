#!/usr/bin/env bash
# First-time setup of the bucketspace stack on this host; safe to run again.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: scripts/setup-s3-mount.sh [options]

Checks this host (Docker, Compose v2 or v1, /dev/fuse, mount propagation),
writes .env from .env.example with generated credentials (an existing .env is
kept), makes the mount directory a shared mount when the host's is private,
starts the stack and offers to upload existing workspaces into the bucket.
Running it again changes nothing that is already right.

Options:
  --variant rclone|s3fs|direct   the mount to use (default rclone; direct: edit
                                 in the bucket mount, no sync service)
  --mount-root DIR               host directory the bucket is mounted under
                                 (default /mnt/bucketspace, or .env's value)
  -f, --file FILE                an extra Compose file (repeatable)
  --migrate | --no-migrate       upload the workspaces directory into the
                                 bucket without asking / do not ask
  --migrate-from DIR             the directory to upload (default WORKSPACES_DIR)
  --no-start                     check and prepare only
  -y, --yes                      answer yes to every question
  -h, --help                     this text

Environment:
  BUCKETSPACE_ENV_FILE           the .env to write and use (default .env here)
EOF
}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
say() { printf 'setup: %s\n' "$*" >&2; }
ok() { printf 'setup: ok    %s\n' "$*" >&2; }
die() {
  printf 'setup: error %s\n' "$1" >&2
  shift
  for line in "$@"; do printf '             %s\n' "$line" >&2; done
  exit 1
}

variant=rclone
mount_root=""
extra_files=()
migrate=ask
migrate_from=""
start=true
yes=false
while (($# > 0)); do
  case "$1" in
    --variant)
      variant=${2:-}
      shift
      ;;
    --variant=*) variant=${1#*=} ;;
    --mount-root)
      mount_root=${2:-}
      shift
      ;;
    --mount-root=*) mount_root=${1#*=} ;;
    -f | --file)
      extra_files+=("${2:-}")
      shift
      ;;
    --migrate) migrate=yes ;;
    --no-migrate) migrate=no ;;
    --migrate-from)
      migrate_from=${2:-}
      shift
      ;;
    --no-start) start=false ;;
    -y | --yes) yes=true ;;
    -h | --help)
      usage
      exit 0
      ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done
case "$variant" in
  rclone | s3fs | direct) ;;
  *) die "--variant must be rclone, s3fs or direct (got '$variant')" ;;
esac

env_file=${BUCKETSPACE_ENV_FILE:-$ROOT/.env}
compose_files=(-f "$ROOT/docker-compose.yml")
case "$variant" in
  rclone) compose_files+=(-f "$ROOT/docker-compose.rclone.yml") ;;
  s3fs) compose_files+=(-f "$ROOT/docker-compose.s3fs.yml") ;;
  direct) compose_files+=(-f "$ROOT/docker-compose.s3-direct.yml") ;;
esac
for f in ${extra_files[@]+"${extra_files[@]}"}; do
  [[ -f $f ]] || die "Compose file $f does not exist"
  compose_files+=(-f "$f")
done

confirm() {
  local question=$1
  $yes && return 0
  [[ -t 0 ]] || return 1
  local answer
  read -r -p "setup: $question [y/N] " answer
  [[ $answer == [yY]* ]]
}

# ---------------------------------------------------------------- Docker
command -v docker >/dev/null 2>&1 ||
  die "Docker is not installed." \
    "Install Docker Engine: https://docs.docker.com/engine/install/ (Debian/Ubuntu: apt-get install docker.io)"
docker info >/dev/null 2>&1 ||
  die "cannot reach the Docker daemon." \
    "Start it (systemctl start docker), or let your user use it (usermod -aG docker \$USER, then log in again)," \
    "or check DOCKER_HOST."
ok "Docker $(docker version --format '{{.Server.Version}}' 2>/dev/null)"

# ---------------------------------------------------------------- Compose
compose=()
if docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
  ok "Compose v2 ($(docker compose version --short 2>/dev/null))"
elif command -v docker-compose >/dev/null 2>&1; then
  v1=$(docker-compose version --short 2>/dev/null || echo 0)
  major=${v1%%.*}
  rest=${v1#*.}
  minor=${rest%%.*}
  if ((major == 1 && minor < 29)); then
    die "docker-compose $v1 is too old: the stack needs 1.29 or Compose v2." \
      "Install the Compose plugin: https://docs.docker.com/compose/install/linux/"
  fi
  compose=(docker-compose)
  ok "Compose v1 ($v1)"
else
  die "Docker Compose is not installed." \
    "Install the Compose plugin: https://docs.docker.com/compose/install/linux/ (Debian: apt-get install docker-compose)"
fi
[[ $env_file == "$ROOT/.env" ]] || compose_files=(--env-file "$env_file" "${compose_files[@]}")
run_compose() { (cd "$ROOT" && "${compose[@]}" "${compose_files[@]}" "$@"); }

# ---------------------------------------------------------------- FUSE
[[ -c /dev/fuse ]] ||
  die "/dev/fuse is missing: the mount container needs FUSE." \
    "Load the module (modprobe fuse) and make it load at boot (echo fuse >> /etc/modules)."
ok "/dev/fuse"

# ---------------------------------------------------------------- .env
env_value() {
  local line
  line=$(grep -E "^$1=" "$env_file" 2>/dev/null | tail -n 1 || true)
  printf '%s' "${line#*=}"
}
set_env() {
  local key=$1 value=$2 tmp
  tmp=$(mktemp "$env_file.XXXXXX")
  if grep -qE "^$key=" "$env_file"; then
    awk -v k="$key" -v v="$value" 'BEGIN { FS = OFS = "=" } $1 == k { print k "=" v; next } { print }' \
      "$env_file" >"$tmp"
  else
    cat "$env_file" >"$tmp"
    printf '%s=%s\n' "$key" "$value" >>"$tmp"
  fi
  chmod 600 "$tmp"
  mv "$tmp" "$env_file"
}
secret() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

if [[ -f $env_file ]]; then
  ok "$env_file exists (kept as it is)"
  case "$(env_value MINIO_ROOT_PASSWORD)" in
    '' | minioadmin | change-me-to-a-long-random-secret)
      if [[ $(env_value BUCKETSPACE_LOCAL_ONLY) != true ]]; then
        die "$env_file has no real MINIO_ROOT_PASSWORD: the stack would refuse to start." \
          "Set MINIO_ROOT_PASSWORD (e.g. $(secret 24)) or remove $env_file to have one generated."
      fi
      ;;
  esac
else
  [[ -f $ROOT/.env.example ]] || die "$ROOT/.env.example is missing: is this a bucketspace checkout?"
  (umask 077 && cp "$ROOT/.env.example" "$env_file")
  set_env MINIO_ROOT_USER "bucketspace-$(secret 4)"
  set_env MINIO_ROOT_PASSWORD "$(secret 24)"
  set_env MONITOR_TOKEN "$(secret 24)"
  set_env WORKSPACES_UID "${SUDO_UID:-$(id -u)}"
  set_env WORKSPACES_GID "${SUDO_GID:-$(id -g)}"
  [[ -n $mount_root ]] && set_env BUCKETSPACE_MOUNT_ROOT "$mount_root"
  if [[ -n ${SUDO_UID:-} ]]; then chown "$SUDO_UID:${SUDO_GID:-$SUDO_UID}" "$env_file"; fi
  ok "wrote $env_file with generated credentials and dashboard token (mode 0600)"
fi
if [[ -n $mount_root && $(env_value BUCKETSPACE_MOUNT_ROOT) != "$mount_root" ]]; then
  set_env BUCKETSPACE_MOUNT_ROOT "$mount_root"
  ok "BUCKETSPACE_MOUNT_ROOT=$mount_root written to $env_file"
fi
mount_root=$(env_value BUCKETSPACE_MOUNT_ROOT)
mount_root=${mount_root:-/mnt/bucketspace}
[[ $mount_root == /* ]] || die "BUCKETSPACE_MOUNT_ROOT must be an absolute path (got '$mount_root')"

# ---------------------------------------------------------------- propagation
# The mount container mounts the bucket under $mount_root and shares it with
# the host (rshared), so the directory must be in a shared peer group. Hosts
# with systemd share / already; others (containers, some VMs) are private.
mkdir -p "$mount_root" 2>/dev/null ||
  die "cannot create $mount_root: run this script with sudo, or choose --mount-root in a directory you own."
propagation=$(findmnt -n -o PROPAGATION --target "$mount_root" 2>/dev/null || echo unknown)
if [[ $propagation == shared* ]]; then
  ok "$mount_root is on a shared mount"
else
  [[ $(id -u) == 0 ]] ||
    die "$mount_root is on a $propagation mount: the bucket mount could not reach the host." \
      "Run this script with sudo once: it makes $mount_root a shared mount" \
      "(mount --bind $mount_root $mount_root && mount --make-shared $mount_root)."
  if ! findmnt -n --mountpoint "$mount_root" >/dev/null 2>&1; then
    mount --bind "$mount_root" "$mount_root"
  fi
  mount --make-shared "$mount_root"
  ok "made $mount_root a shared mount (was $propagation)"
  say "note: this lasts until the next reboot: run this script again after a reboot, before the stack starts"
fi

# ---------------------------------------------------------------- workspaces
workspaces_dir=$(env_value WORKSPACES_DIR)
workspaces_dir=${workspaces_dir:-./workspaces}
[[ $workspaces_dir == /* ]] || workspaces_dir="$ROOT/${workspaces_dir#./}"
mkdir -p "$workspaces_dir"
if [[ $variant != direct ]]; then ok "workspaces directory $workspaces_dir"; fi

if ! $start; then
  say "prepared; start the stack with: ${compose[*]} ${compose_files[*]} up -d"
  exit 0
fi

# ---------------------------------------------------------------- start
say "starting the stack (${variant}; the first start builds the images, which takes a few minutes)"
if ! run_compose up -d; then
  die "the stack did not start; see above, and: ${compose[*]} logs check bucket mount monitor"
fi
say "waiting for the monitor to be healthy"
monitor_id=$(run_compose ps -q monitor)
for i in $(seq 1 120); do
  health=$(docker inspect --format '{{.State.Health.Status}}' "$monitor_id" 2>/dev/null || echo missing)
  [[ $health == healthy ]] && break
  ((i % 10 == 0)) && say "still waiting (monitor: $health)"
  sleep 2
done
[[ $health == healthy ]] ||
  die "the monitor is not healthy after 4 minutes ($health)." \
    "See: ${compose[*]} logs monitor mount"
ok "the stack is up"

# ---------------------------------------------------------------- migration
from=${migrate_from:-$workspaces_dir}
count=0
if [[ -d $from ]]; then
  count=$(find "$from" -mindepth 1 -maxdepth 1 -type d ! -name '.*' | wc -l)
fi
if ((count > 0)) && [[ $migrate != no ]]; then
  if [[ $migrate == yes ]] || confirm "upload the $count workspaces of $from into the bucket now?"; then
    say "uploading $from (node_modules, .env* and build output stay behind)"
    BUCKETSPACE_ENV_FILE=$env_file WORKSPACES_DIR=$from "$ROOT/scripts/s3-workspace-sync.sh" ||
      die "the upload did not finish; run it again: scripts/s3-workspace-sync.sh"
    ok "uploaded $count workspaces"
  fi
fi

port=$(env_value MONITOR_PORT)
console=$(env_value MINIO_CONSOLE_PORT)
cat >&2 <<EOF

bucketspace is running.
  Dashboard:      http://127.0.0.1:${port:-8080}/monitor   (token: MONITOR_TOKEN in $env_file)
  Apps:           http://127.0.0.1:${port:-8080}/<workspace>/
  MinIO console:  http://127.0.0.1:${console:-9001}        (MINIO_ROOT_USER / MINIO_ROOT_PASSWORD in $env_file)
  Workspaces:     ${mount_root}/workspaces (the bucket, mounted)
EOF
if [[ $variant == direct ]]; then
  printf '  Edit in:        %s/workspaces\n' "$mount_root" >&2
else
  printf '  Edit in:        %s (synced to the bucket)\n' "$workspaces_dir" >&2
fi

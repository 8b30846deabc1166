#!/usr/bin/env bash
# First-time setup of the bucketspace stack on this host; safe to run again.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: scripts/setup-s3-mount.sh [options]

Checks this host (Docker, Compose v2 or v1, /dev/fuse, mount propagation),
writes .env from .env.example with generated credentials (an existing .env is
kept), records the Compose files of the variant in .env (COMPOSE_FILE, so a
later plain `docker compose up` uses the same ones), makes the mount directory
a shared mount when the host's is private, checks that every image the stack
needs is here or can be pulled, checks the settings, starts the stack and
offers to upload existing workspaces into the bucket. Running it again changes
nothing that is already right.

Options:
  --variant rclone|s3fs|direct   the mount to use (default rclone; direct: edit
                                 in the bucket mount, no sync service)
  --external-s3                  your own S3 instead of the local server: the
                                 S3_* settings in .env (edit them, then run
                                 this again)
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
# shellcheck source=lib/env-file.sh
source "$ROOT/scripts/lib/env-file.sh"
# shellcheck source=lib/compose.sh
source "$ROOT/scripts/lib/compose.sh"
say() { printf 'setup: %s\n' "$*" >&2; }
ok() { printf 'setup: ok    %s\n' "$*" >&2; }
die() {
  printf 'setup: error %s\n' "$1" >&2
  shift
  for line in "$@"; do printf '             %s\n' "$line" >&2; done
  exit 1
}

variant=rclone
external_s3=false
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
    --external-s3) external_s3=true ;;
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

# Compose in this checkout with its .env (env_file, run_compose): the files
# come from COMPOSE_FILE there.
stack_compose "$ROOT"
# The Compose files of this variant, relative to this checkout when inside it:
# they go into .env as COMPOSE_FILE, which Compose reads from the checkout.
compose_files=(docker-compose.yml)
$external_s3 && compose_files+=(docker-compose.external-s3.yml)
case "$variant" in
  rclone) compose_files+=(docker-compose.rclone.yml) ;;
  s3fs) compose_files+=(docker-compose.s3fs.yml) ;;
  direct) compose_files+=(docker-compose.s3-direct.yml) ;;
esac
for f in ${extra_files[@]+"${extra_files[@]}"}; do
  [[ -f $f ]] || die "Compose file $f does not exist"
  f=$(cd "$(dirname "$f")" && pwd)/$(basename "$f")
  compose_files+=("${f#"$ROOT"/}")
done
compose_file_setting=$(
  IFS=:
  echo "${compose_files[*]}"
)

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
find_compose || case $? in
  2)
    die "$COMPOSE_LABEL is too old: the stack needs 1.29 or Compose v2." \
      "Install the Compose plugin: https://docs.docker.com/compose/install/linux/"
    ;;
  *)
    die "Docker Compose is not installed." \
      "Install the Compose plugin: https://docs.docker.com/compose/install/linux/ (Debian: apt-get install docker-compose)"
    ;;
esac
ok "$COMPOSE_LABEL"

# ---------------------------------------------------------------- FUSE
[[ -c /dev/fuse ]] ||
  die "/dev/fuse is missing: the mount container needs FUSE." \
    "Load the module (modprobe fuse) and make it load at boot (echo fuse >> /etc/modules)."
ok "/dev/fuse"

# ---------------------------------------------------------------- .env
env_value() { env_file_value "$env_file" "$1"; }
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
  $external_s3 || case "$(env_value MINIO_ROOT_PASSWORD)" in
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
# The files of this variant, for every later `docker compose` in this checkout.
previous_files=$(env_value COMPOSE_FILE)
if [[ $previous_files != "$compose_file_setting" ]]; then
  set_env COMPOSE_FILE "$compose_file_setting"
  if [[ -n $previous_files ]]; then
    ok "COMPOSE_FILE=$compose_file_setting written to $env_file (was $previous_files)"
  else
    ok "COMPOSE_FILE=$compose_file_setting written to $env_file (a plain \`${COMPOSE[*]} up\` uses these files)"
  fi
else
  ok "COMPOSE_FILE=$compose_file_setting"
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

# ---------------------------------------------------------------- images
# Every image the stack needs must be here or pullable: an image a service
# runs as it is, and for an image Compose builds (ours) that is not here yet,
# the base image it is built from. For one that is not, say which setting
# replaces it (a mirror, an image of your own).

# "service|image|builds (0/1)|base image|profiles" for each service, from the
# effective configuration (variables, anchors and every file resolved).
services_and_images() {
  run_compose config | awk '
    function flush() { if (svc != "") print svc "|" img "|" bld "|" base "|" prof }
    /^[^ ]/ { if (inside) flush(); svc = ""; inside = ($0 ~ /^services:/); next }
    !inside { next }
    /^  [^ ]/ { flush(); svc = $1; sub(/:$/, "", svc); img = ""; bld = 0; base = ""; prof = ""; key = ""; next }
    /^    [^ -]/ { key = $1; sub(/:$/, "", key) }
    /^    image:/ { img = $2 }
    /^    build:/ { bld = 1 }
    /^        BASE_IMAGE:/ { base = $2 }
    key == "profiles" && /^ +- / { prof = prof (prof == "" ? "" : ",") $2 }
    END { if (inside) flush() }
  ' | tr -d "\"'"
}

# The setting that chooses this image: a ${VAR:-default} on an image or
# BASE_IMAGE line of the Compose files whose effective value is the image.
setting_for_image() {
  local image=$1 file var default value
  local -a files
  IFS=: read -r -a files <<<"$compose_file_setting"
  for file in "${files[@]}"; do
    [[ $file == /* ]] || file="$ROOT/$file"
    while IFS='|' read -r var default; do
      value=$(setting_value "$env_file" "$var")
      if [[ ${value:-$default} == "$image" ]]; then
        echo "$var"
        return 0
      fi
    done < <(grep -E '(image|BASE_IMAGE):' "$file" | sed -nE 's/.*\$\{([A-Z0-9_]+):-([^}]*)\}.*/\1|\2/p')
  done
  return 1
}

check_images() {
  local active problems=0 svc image builds base profiles p enabled needed answer setting
  local -A seen=()
  active=",$(setting_value "$env_file" COMPOSE_PROFILES),"
  while IFS='|' read -r svc image builds base profiles; do
    [[ -n $svc ]] || continue
    if [[ -n $profiles ]]; then
      enabled=false
      for p in ${profiles//,/ }; do [[ $active == *",$p,"* ]] && enabled=true; done
      $enabled || continue
    fi
    needed=$image
    if [[ $builds == 1 ]]; then
      docker image inspect "$image" >/dev/null 2>&1 && continue
      needed=$base # built here when missing: its base image is what must be pulled
    fi
    [[ -n $needed && -z ${seen[$needed]:-} ]] || continue
    seen[$needed]=1
    docker image inspect "$needed" >/dev/null 2>&1 && continue
    answer=$(docker manifest inspect "$needed" 2>&1 >/dev/null) && continue
    setting=$(setting_for_image "$needed") || setting=""
    problems=$((problems + 1))
    printf 'setup: error image %s (service %s) is not here and cannot be pulled.\n' "$needed" "$svc" >&2
    printf '             The registry answered: %s\n' "$(printf '%s' "$answer" | tail -n 1)" >&2
    if [[ -n $setting ]]; then
      printf '             Set %s in %s to an image you can pull (your mirror of it, or a compatible image).\n' \
        "$setting" "$env_file" >&2
    fi
  done < <(services_and_images)
  ((problems == 0))
}
check_images || die "some images cannot be had (above); nothing was started."
ok "every image the stack needs is here or can be pulled"

if ! $start; then
  say "prepared; start the stack with: ${COMPOSE[*]}${compose_args[*]:+ ${compose_args[*]}} up -d"
  exit 0
fi

# ---------------------------------------------------------------- settings
# The stack's own check (the `check` service), run now so that its reasons
# reach this terminal: `up -d` would only say "exit 3".
say "checking the settings (the stack's check service)"
if ! check_output=$(run_compose run --rm check 2>&1); then
  printf '%s\n' "$check_output" | grep -v '^{' | sed 's/^/             /' >&2
  if $external_s3; then
    die "the stack refuses these settings (above): edit the S3_* settings in $env_file, then run this again."
  fi
  die "the stack refuses these settings (above): fix them in $env_file, then run this again."
fi
ok "settings accepted"

# ---------------------------------------------------------------- start
what=$variant
$external_s3 && what="$variant, your own S3"
say "starting the stack ($what; the first start builds the images, which takes a few minutes)"
if ! run_compose up -d; then
  "$ROOT/scripts/stack-doctor.sh" >&2 || true
  die "the stack did not start: the reasons are above (scripts/stack-doctor.sh prints them again)."
fi
say "waiting for the monitor to be healthy"
monitor_id=$(run_compose ps -q monitor)
for i in $(seq 1 120); do
  health=$(docker inspect --format '{{.State.Health.Status}}' "$monitor_id" 2>/dev/null || echo missing)
  [[ $health == healthy ]] && break
  ((i % 10 == 0)) && say "still waiting (monitor: $health)"
  sleep 2
done
if [[ $health != healthy ]]; then
  "$ROOT/scripts/stack-doctor.sh" >&2 || true
  die "the monitor is not healthy after 4 minutes ($health): the reasons are above (scripts/stack-doctor.sh)."
fi
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

port=$(setting_value "$env_file" MONITOR_PORT)
admin_port=$(setting_value "$env_file" MONITOR_ADMIN_PORT)
console=$(setting_value "$env_file" MINIO_CONSOLE_PORT)
cat >&2 <<EOF

bucketspace is running.
  Dashboard:      http://127.0.0.1:${admin_port:-8081}/monitor   (token: MONITOR_TOKEN in $env_file)
  Apps:           http://127.0.0.1:${port:-8080}/<workspace>/
  Workspaces:     ${mount_root}/workspaces (the bucket, mounted)
  Stop it all:    scripts/stack-down.sh   (apps included; --forget also removes every volume)
  If it breaks:   scripts/stack-doctor.sh
EOF
if ! $external_s3; then
  printf '  S3 console:     http://127.0.0.1:%s        (MINIO_ROOT_USER / MINIO_ROOT_PASSWORD in %s)\n' \
    "${console:-9001}" "$env_file" >&2
fi
if [[ $variant == direct ]]; then
  printf '  Edit in:        %s/workspaces\n' "$mount_root" >&2
else
  printf '  Edit in:        %s (synced to the bucket)\n' "$workspaces_dir" >&2
fi

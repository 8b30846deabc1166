#!/usr/bin/env bash
# Build every bucketspace image with no image registry at all: a Debian base
# made with debootstrap and `docker import`, local stand-ins for the upstream
# base images (node, python, golang, nginx), then each bucketspace image with
# --build-arg BASE_IMAGE=<local stand-in>. For air-gapped hosts and for CI.
# See images/README.md.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: scripts/build-local-images.sh [--rebuild] [--no-cache] [--list] [--verbose] [TARGET...]

Builds the named images (default: every bucketspace image) and the local base
images they need. Images that already exist are skipped unless --rebuild is
given; --rebuild applies to the named targets only (Docker's layer cache still
applies; name base-debian to debootstrap it again).

Targets:
  runtime-node runtime-python runtime-go runtime-static
  control-plane mount-rclone mount-s3fs
  apps-firewall                                -> bucketspace/<target>:latest
                                                  (mount-rclone: its `debian` target, Debian's rclone)
  base-debian base-node base-python base-go base-nginx base-caddy
                                               -> bucketspace-local/... (stand-ins for upstream images;
                                                  base-caddy is for the Compose profile `https`)
  all                                          -> every bucketspace image

Options:
  --rebuild   build the named targets even when they exist
  --list      print the targets, their image names and whether they exist
  --no-cache  build without Docker's layer cache
  -v, --verbose  show the output of docker build (otherwise shown only on failure)
  -h, --help  this text

Environment:
  DEBIAN_MIRROR   Debian mirror for debootstrap (default: the first Debian
                  URI of this machine's apt sources)
  NODE_BINARY     Node binary for base-node (default: the platform binary of
                  the `node` package in node_modules)
  NPM_DIR         npm installation copied into base-node (default: the npm on PATH)
EOF
}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SUITE=bookworm
# shellcheck source=lib/debian-sources.sh
source "$ROOT/scripts/lib/debian-sources.sh"

say() { printf 'build-local-images: %s\n' "$*" >&2; }
die() {
  say "error: $*"
  exit 1
}

image_of() {
  case "$1" in
    base-debian) echo "bucketspace-local/debian:$SUITE" ;;
    base-node) echo "bucketspace-local/node:$(node_major)" ;;
    base-python) echo "bucketspace-local/python:3" ;;
    base-go) echo "bucketspace-local/golang:1" ;;
    base-nginx) echo "bucketspace-local/nginx:1" ;;
    base-caddy) echo "bucketspace-local/caddy:2" ;;
    runtime-node | runtime-python | runtime-go | runtime-static | control-plane | mount-rclone | mount-s3fs | apps-firewall)
      echo "bucketspace/$1:latest"
      ;;
    *) return 1 ;;
  esac
}

base_of() {
  case "$1" in
    base-debian) ;;
    base-node | base-python | base-go | base-nginx | base-caddy) echo base-debian ;;
    runtime-node | control-plane) echo base-node ;;
    runtime-python) echo base-python ;;
    runtime-go) echo base-go ;;
    runtime-static) echo base-nginx ;;
    mount-rclone | mount-s3fs | apps-firewall) echo base-debian ;;
  esac
}

ALL_IMAGES=(runtime-node runtime-python runtime-go runtime-static control-plane mount-rclone mount-s3fs apps-firewall)
ALL_TARGETS=(base-debian base-node base-python base-go base-nginx base-caddy "${ALL_IMAGES[@]}")

node_major() {
  local major
  major=$(tr -d ' \nv' <"$ROOT/.nvmrc" 2>/dev/null || true)
  echo "${major%%.*}"
}

exists() { docker image inspect "$1" >/dev/null 2>&1; }

# ---------------------------------------------------------------- arguments
rebuild=false
list=false
verbose=false
no_cache=()
targets=()
while (($# > 0)); do
  case "$1" in
    --rebuild) rebuild=true ;;
    --list) list=true ;;
    -v | --verbose) verbose=true ;;
    --no-cache) no_cache=(--no-cache) ;;
    -h | --help)
      usage
      exit 0
      ;;
    all) targets+=("${ALL_IMAGES[@]}") ;;
    -*) die "unknown option $1 (see --help)" ;;
    *)
      image_of "$1" >/dev/null || die "unknown target '$1'; targets: ${ALL_TARGETS[*]}"
      targets+=("$1")
      ;;
  esac
  shift
done
((${#targets[@]} > 0)) || targets=("${ALL_IMAGES[@]}")

command -v docker >/dev/null 2>&1 || die "docker is not installed (apt-get install docker.io)"
docker info >/dev/null 2>&1 || die "cannot reach the Docker daemon (is dockerd running? is \$DOCKER_HOST right?)"

if $list; then
  for t in "${ALL_TARGETS[@]}"; do
    img=$(image_of "$t")
    if exists "$img"; then state=present; else state=missing; fi
    printf '%-16s %-40s %s\n' "$t" "$img" "$state"
  done
  exit 0
fi

# One build at a time on this Docker host: tests and people may call this at once.
lock="${TMPDIR:-/tmp}/bucketspace-build-local-images.lock"
exec 9>"$lock"
if ! flock -n 9; then
  say "another build is running; waiting for it ($lock)"
  flock 9
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bucketspace-images.XXXXXX")
cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT

# ---------------------------------------------------------------- base-debian
build_base_debian() {
  local img=$1
  [[ $(id -u) -eq 0 ]] || die "debootstrap needs root: run as root (or sudo) to build $img"
  command -v debootstrap >/dev/null 2>&1 || die "debootstrap is not installed (apt-get install debootstrap)"
  debian_archive_source "$SUITE" ||
    die "no Debian $SUITE mirror in /etc/apt/sources.list(.d); set DEBIAN_MIRROR=<mirror URL>"
  local mirror=$DEBIAN_ARCHIVE_URI
  local dir="$WORK/rootfs"
  say "debootstrap --variant=minbase $SUITE (mirror from ${DEBIAN_MIRROR:+DEBIAN_MIRROR}${DEBIAN_MIRROR:-the apt sources})"
  if ! debootstrap --variant=minbase "$SUITE" "$dir" "$mirror" >"$WORK/debootstrap.log" 2>&1; then
    tail -n 20 "$WORK/debootstrap.log" >&2
    die "debootstrap failed (log above)"
  fi
  # apt inside the image uses the same sources as this machine.
  if [[ -n $DEBIAN_ARCHIVE_FILE ]]; then
    local src=$DEBIAN_ARCHIVE_FILE
    rm -f "$dir/etc/apt/sources.list"
    case "$src" in
      *.sources) cp "$src" "$dir/etc/apt/sources.list.d/" ;;
      *) cp "$src" "$dir/etc/apt/sources.list" ;;
    esac
  fi
  # Like the official slim images: no apt lists or caches, no docs, no recommends.
  cat >"$dir/etc/apt/apt.conf.d/90bucketspace" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
EOF
  cat >"$dir/etc/dpkg/dpkg.cfg.d/90bucketspace" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
  find "$dir/usr/share/doc" -mindepth 2 ! -name copyright ! -type d -delete 2>/dev/null || true
  rm -rf "$dir"/usr/share/man/* "$dir"/usr/share/info/* "$dir"/var/lib/apt/lists/* \
    "$dir"/var/cache/apt/*.bin "$dir"/var/cache/apt/archives/*.deb
  say "docker import -> $img"
  tar -C "$dir" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["bash"]' \
    - "$img" >/dev/null
  rm -rf "$dir"
}

# ---------------------------------------------------------------- base-node
node_binary() {
  if [[ -n ${NODE_BINARY:-} ]]; then
    echo "$NODE_BINARY"
    return
  fi
  local arch
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64) arch=arm64 ;;
    *) arch=$(uname -m) ;;
  esac
  # The `node` package's preinstall installs node-linux-<arch> (which ships
  # the real binary) and hard-links it to node/bin/node.
  local c
  for c in \
    "$ROOT/node_modules/node/node_modules/node-linux-$arch/bin/node" \
    "$ROOT/node_modules/node-linux-$arch/bin/node" \
    "$ROOT/node_modules/node/bin/node"; do
    if [[ -f $c ]] && [[ $(head -c 4 "$c" | od -An -c | tr -d ' ') == '177ELF' ]]; then
      echo "$c"
      return
    fi
  done
  return 1
}

stage_base_node() {
  local ctx=$1 bin npm_dir version
  bin=$(node_binary) || die "no Node binary in node_modules (run npm ci first) and NODE_BINARY is not set"
  version=$("$bin" --version) || die "cannot run $bin"
  [[ $version == "v$(node_major)."* ]] || die "$bin is $version, .nvmrc asks for $(node_major)"
  if [[ -n ${NPM_DIR:-} ]]; then
    npm_dir=$NPM_DIR
  else
    local npm_bin
    npm_bin=$(command -v npm) || die "npm is not on PATH; set NPM_DIR to an npm installation"
    npm_dir=$(cd "$(dirname "$(readlink -f "$npm_bin")")/.." && pwd)
  fi
  [[ -f $npm_dir/bin/npm-cli.js ]] || die "$npm_dir is not an npm installation (no bin/npm-cli.js)"
  say "node $version from ${bin#"$ROOT"/}, npm $("$bin" -p "require('$npm_dir/package.json').version" 2>/dev/null || echo '?') from $npm_dir"
  cp "$bin" "$ctx/node"
  cp -a "$npm_dir" "$ctx/npm"
}

# ---------------------------------------------------------------- control-plane
# The image installs its npm dependencies from the registry unless the build
# context brings them in images/control-plane/prebuilt/node_modules: here we
# copy the production dependencies of this checkout's node_modules.
stage_control_plane() {
  local ctx=$1
  [[ -d $ROOT/node_modules ]] || die "no node_modules in $ROOT: run npm ci first"
  cp "$ROOT/package.json" "$ROOT/package-lock.json" "$ctx/"
  mkdir -p "$ctx/images/control-plane/prebuilt/node_modules"
  cp "$ROOT/images/control-plane/Dockerfile" "$ROOT/images/control-plane/entrypoint.sh" "$ctx/images/control-plane/"
  tar -C "$ROOT" --exclude='*.test.ts' -cf - services | tar -C "$ctx" -xf - ||
    die "cannot copy services/"
  # npm ls exits non-zero for extraneous or invalid packages but still lists
  # what is installed; only an empty list is fatal.
  local paths
  paths=$(cd "$ROOT" && { npm ls --omit=dev --all --parseable 2>/dev/null || true; } | tail -n +2)
  [[ -n $paths ]] || die "npm ls --omit=dev lists nothing: is node_modules complete? (npm ci)"
  local p rel
  while IFS= read -r p; do
    [[ -n $p ]] || continue
    rel=${p#"$ROOT"/node_modules/}
    [[ $rel == */node_modules/* ]] && continue # copied with its parent
    [[ -e $ctx/images/control-plane/prebuilt/node_modules/$rel ]] && continue
    mkdir -p "$(dirname "$ctx/images/control-plane/prebuilt/node_modules/$rel")"
    cp -a "$ROOT/node_modules/$rel" "$ctx/images/control-plane/prebuilt/node_modules/$rel"
  done <<<"$paths"
  # npm's own record of what is installed, so `npm ls` in the image works
  [[ -f $ROOT/node_modules/.package-lock.json ]] &&
    cp "$ROOT/node_modules/.package-lock.json" "$ctx/images/control-plane/prebuilt/node_modules/"
  say "control-plane: $(find "$ctx/images/control-plane/prebuilt/node_modules" -name package.json -path '*/node_modules/*/package.json' | wc -l) package files from this checkout's node_modules (production only)"
}

# ---------------------------------------------------------------- building
docker_build() {
  local img=$1 dockerfile=$2 context=$3 base=$4 target=${5:-}
  local start=$SECONDS
  local log="$WORK/build.log"
  local -a target_args=()
  [[ -n $target ]] && target_args=(--target "$target")
  if $verbose; then log=/dev/stderr; fi
  if ! docker build --pull=false ${no_cache[@]+"${no_cache[@]}"} --build-arg "BASE_IMAGE=$base" \
    ${target_args[@]+"${target_args[@]}"} -t "$img" -f "$dockerfile" "$context" >"$log" 2>&1; then
    $verbose || tail -n 40 "$log" >&2
    die "docker build of $img failed (output above)"
  fi
  say "built $img in $((SECONDS - start)) s"
}

build_target() {
  local t=$1 img base_img="" ctx
  img=$(image_of "$t")
  local base
  base=$(base_of "$t")
  [[ -n $base ]] && base_img=$(image_of "$base")
  say "building $t ($img)${base_img:+ from $base_img}"
  case "$t" in
    base-debian)
      local start=$SECONDS
      build_base_debian "$img"
      say "built $img in $((SECONDS - start)) s"
      ;;
    base-node)
      ctx="$WORK/ctx-node"
      mkdir -p "$ctx"
      stage_base_node "$ctx"
      cp "$ROOT/images/local-bases/node/Dockerfile" "$ctx/"
      docker_build "$img" "$ctx/Dockerfile" "$ctx" "$base_img"
      rm -rf "$ctx"
      ;;
    base-python | base-go | base-nginx | base-caddy)
      ctx="$ROOT/images/local-bases/${t#base-}"
      docker_build "$img" "$ctx/Dockerfile" "$ctx" "$base_img"
      ;;
    mount-rclone)
      # Debian's rclone package: the default target takes the binary of the
      # upstream rclone image, which cannot be pulled here.
      docker_build "$img" "$ROOT/images/$t/Dockerfile" "$ROOT/images" "$base_img" debian
      ;;
    runtime-* | mount-* | apps-firewall)
      docker_build "$img" "$ROOT/images/$t/Dockerfile" "$ROOT/images" "$base_img"
      ;;
    control-plane)
      ctx="$WORK/ctx-control-plane"
      mkdir -p "$ctx"
      stage_control_plane "$ctx"
      docker_build "$img" "$ctx/images/control-plane/Dockerfile" "$ctx" "$base_img"
      rm -rf "$ctx"
      ;;
  esac
}

declare -A done_targets=()
declare -A named=()
for t in "${targets[@]}"; do named[$t]=1; done

ensure() {
  local t=$1
  [[ -n ${done_targets[$t]:-} ]] && return
  done_targets[$t]=1
  local img
  img=$(image_of "$t")
  if exists "$img" && ! { $rebuild && [[ -n ${named[$t]:-} ]]; }; then
    say "$img exists (--rebuild $t to build it again)"
    return
  fi
  local base
  base=$(base_of "$t")
  [[ -n $base ]] && ensure "$base"
  build_target "$t"
}

total=$SECONDS
for t in "${targets[@]}"; do ensure "$t"; done
say "done in $((SECONDS - total)) s"

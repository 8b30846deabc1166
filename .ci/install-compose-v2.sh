#!/usr/bin/env bash
# Installs Docker Compose v2 (the `docker compose` CLI plugin) on a Debian
# bookworm machine, next to Compose v1, without touching the system's apt
# state: bookworm ships only v1 (docker-compose 1.29), and trixie's
# `docker-compose` package is v2 (2.26) and needs only libc6 >= 2.34.
#
#   - a separate apt configuration lists only `deb <mirror> trixie main`, the
#     mirror read from this machine's own apt sources; its own
#     Dir::State::Lists and Dir::Cache, so the system's package lists and
#     caches are untouched and nothing is ever upgraded from trixie;
#   - `apt-get download docker-compose` fetches the .deb (verified by apt
#     against Debian's archive keys), `dpkg-deb -x` unpacks it, and only the
#     plugin binary is installed into /usr/local/lib/docker/cli-plugins/.
#
# Idempotent: does nothing when `docker compose version` already answers.
# Called by .ci/run; as root.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=../scripts/lib/debian-sources.sh
source "$ROOT/scripts/lib/debian-sources.sh"

PLUGIN_DIR=${COMPOSE_PLUGIN_DIR:-/usr/local/lib/docker/cli-plugins}
FROM_SUITE=trixie
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

say() { printf 'install-compose-v2: %s\n' "$*" >&2; }
die() {
  say "error: $*"
  exit 1
}

if docker compose version >/dev/null 2>&1; then
  say "Compose v2 is already installed ($(docker compose version --short 2>/dev/null))"
  exit 0
fi
[[ $(id -u) -eq 0 ]] || die "run as root: it installs into $PLUGIN_DIR"
for tool in apt-get dpkg-deb docker; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed"
done

# The machine's own Debian archive (for its own release), used for trixie.
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
[[ -n $codename ]] || die "cannot tell this machine's Debian release (no VERSION_CODENAME in /etc/os-release)"
debian_archive_source "$codename" ||
  die "no Debian $codename mirror in /etc/apt/sources.list(.d); set DEBIAN_MIRROR=<mirror URL>"
mirror=$DEBIAN_ARCHIVE_URI
[[ -f $KEYRING ]] || die "$KEYRING is missing (apt-get install debian-archive-keyring)"

work=$(mktemp -d "${TMPDIR:-/tmp}/bucketspace-compose-v2.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/etc/sources.list.d" "$work/etc/preferences.d" "$work/lists/partial" \
  "$work/cache/archives/partial" "$work/deb"
printf 'deb [signed-by=%s] %s %s main\n' "$KEYRING" "$mirror" "$FROM_SUITE" >"$work/etc/sources.list"
apt_opts=(
  -o "Dir::Etc::SourceList=$work/etc/sources.list"
  -o "Dir::Etc::SourceParts=$work/etc/sources.list.d"
  -o "Dir::Etc::Preferences=$work/etc/preferences"
  -o "Dir::Etc::PreferencesParts=$work/etc/preferences.d"
  -o "Dir::State::Lists=$work/lists"
  -o "Dir::Cache=$work/cache"
  -o "Debug::NoLocking=true"
  # the work directory is root's alone: no download sandbox user
  -o "APT::Sandbox::User=root"
  -o "APT::Get::List-Cleanup=false"
)

say "reading the $FROM_SUITE package list from the machine's mirror (a separate apt state in $work)"
apt-get "${apt_opts[@]}" -qq update || die "apt-get update of $FROM_SUITE failed"
version=$(apt-cache "${apt_opts[@]}" policy docker-compose | awk '/Candidate:/ { print $2 }')
[[ -n $version && $version != "(none)" ]] || die "$FROM_SUITE has no docker-compose package"
say "downloading docker-compose $version from $FROM_SUITE"
(cd "$work/deb" && apt-get "${apt_opts[@]}" -qq download "docker-compose=$version") ||
  die "apt-get download docker-compose failed"
deb=$(ls "$work"/deb/docker-compose_*.deb)
dpkg-deb -x "$deb" "$work/unpacked"
plugin="$work/unpacked/usr/libexec/docker/cli-plugins/docker-compose"
[[ -x $plugin ]] || die "$deb has no usr/libexec/docker/cli-plugins/docker-compose"
install -D -m 0755 "$plugin" "$PLUGIN_DIR/docker-compose"
docker compose version >/dev/null 2>&1 ||
  die "docker compose does not answer after installing $PLUGIN_DIR/docker-compose"
say "installed $PLUGIN_DIR/docker-compose: $(docker compose version)"

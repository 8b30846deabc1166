#!/bin/sh
# bucketspace runtime entrypoint (node, python, go, static): copy the project
# from /workspace (read-only) to /app, install its dependencies, start it.
# The contract with the monitor is in images/README.md.
#
#   BUCKETSPACE_RUNTIME  node | python | go | static (set by the image)
#   PORT                 the port the app must listen on
#   BUCKETSPACE_INSTALL  install command run in /app; unset: the image's default; empty: nothing
#   BUCKETSPACE_START    start command run in /app (static: ignored)
#   BUCKETSPACE_DEPS_DIR where a volume that keeps the install's output is mounted
#   BUCKETSPACE_DEPS_KEY what that output depends on: same key, the install is skipped
#   BUCKETSPACE_REPORT_DIR where to write the report (default /tmp/bucketspace-deploy)
#   /etc/bucketspace/ca.pem  extra CA certificates to trust (optional)
#
# It reports what it did in $BUCKETSPACE_REPORT_DIR for the monitor: `copied`
# (every file copied, with size and mtime) and `dependencies` (installed,
# reused or none). The install runs with TMPDIR=/var/tmp (on disk), so a large
# download does not fill a small /tmp tmpfs meant for the app.
#
# Exit codes of its own: 64 bad configuration, 65 /workspace missing or not
# copyable, 66 install failed. Otherwise the app's exit code.
set -eu

SOURCE=/workspace
APP=/app
EXTRA_CA=/etc/bucketspace/ca.pem
REPORT=${BUCKETSPACE_REPORT_DIR:-/tmp/bucketspace-deploy}
RUNTIME=${BUCKETSPACE_RUNTIME:-}
DEPS_DIR=${BUCKETSPACE_DEPS_DIR:-}
DEPS_KEY=${BUCKETSPACE_DEPS_KEY:-}
DEPS_MARKER=.bucketspace-deps

say() { printf 'bucketspace: %s\n' "$*" >&2; }
fail() {
  code=$1
  shift
  say "error: $*"
  exit "$code"
}

# ---------------------------------------------------------------- copy
[ -d "$SOURCE" ] || fail 65 "$SOURCE is missing: mount the project there (read-only)"
[ -w "$APP" ] || fail 65 "$APP is not writable by uid $(id -u)"
if [ -n "$DEPS_DIR" ]; then
  [ -n "$DEPS_KEY" ] || fail 64 "BUCKETSPACE_DEPS_DIR is set but BUCKETSPACE_DEPS_KEY is not"
  [ -d "$DEPS_DIR" ] && [ -w "$DEPS_DIR" ] ||
    fail 64 "BUCKETSPACE_DEPS_DIR $DEPS_DIR is not a directory writable by uid $(id -u) (an image without it: create it owned by the app user, or set RUNTIME_DEPENDENCY_CACHE=false)"
fi
# The dependency cache, when it is mounted directly in /app (node_modules,
# .venv), is neither emptied nor copied over. `..` is never an entry find
# lists: with no cache in /app, nothing is kept.
keep=..
case "$DEPS_DIR" in "$APP"/*/* | "") ;; "$APP"/*) keep=${DEPS_DIR#"$APP"/} ;; esac
say "copying $SOURCE to $APP"
# A fresh copy every start (a restarted container must not keep stale files).
find "$APP" -mindepth 1 -maxdepth 1 ! -name "$keep" -exec rm -rf {} + ||
  fail 65 "cannot empty $APP"
# The tree, symlinks and times; modes follow the source (umask 022); files
# become ours (we are not root). Not `cp -p`: it also copies ACLs and extended
# attributes, which an rclone FUSE mount of the bucket answers with EIO.
find "$SOURCE" -mindepth 1 -maxdepth 1 ! -name "$keep" \
  -exec cp -R --preserve=timestamps -t "$APP/" {} + ||
  fail 65 "cannot copy $SOURCE to $APP (unreadable files?)"
cd "$APP"
# What was copied, for the monitor to compare with what it scanned: size and
# mtime of every file (symlinks followed), one NUL-terminated record each.
mkdir -p "$REPORT" || fail 65 "cannot write the report in $REPORT"
find -L . -path "./$keep" -prune -o -type f -printf '%s %T@ %P\0' >"$REPORT/copied" 2>/dev/null || :

# ---------------------------------------------------------------- extra CA
# npm's cafile, pip's cert and Go's/OpenSSL's SSL_CERT_FILE each REPLACE the
# trusted roots, so they get a full bundle: the system's roots plus the extra
# CA. Node itself adds NODE_EXTRA_CA_CERTS to its built-in roots.
if [ -f "$EXTRA_CA" ]; then
  bundle_dir=${TMPDIR:-/tmp}/bucketspace
  mkdir -p "$bundle_dir"
  bundle=$bundle_dir/ca-bundle.pem
  {
    for system in /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt; do
      if [ -f "$system" ]; then
        cat "$system"
        echo
        break
      fi
    done
    cat "$EXTRA_CA"
  } >"$bundle" || fail 64 "cannot write $bundle"
  export NODE_EXTRA_CA_CERTS="$EXTRA_CA"
  export SSL_CERT_FILE="$bundle" PIP_CERT="$bundle" REQUESTS_CA_BUNDLE="$bundle"
  export npm_config_cafile="$bundle" NPM_CONFIG_CAFILE="$bundle" GIT_SSL_CAINFO="$bundle"
  say "trusting the extra CA certificates in $EXTRA_CA (bundle: $bundle)"
fi

# ---------------------------------------------------------------- install
has_npm_dependencies() {
  # 0: package.json lists dependencies, 1: it lists none, 2: unreadable (let npm say why)
  node -e '
    let p;
    try { p = JSON.parse(require("fs").readFileSync("package.json", "utf8")); } catch { process.exit(2); }
    const n = (k) => (p && typeof p[k] === "object" && p[k] ? Object.keys(p[k]).length : 0);
    process.exit(n("dependencies") + n("devDependencies") + n("optionalDependencies") > 0 ? 0 : 1);
  '
}

default_install() {
  case "$RUNTIME" in
    node)
      if [ -f package-lock.json ] || [ -f npm-shrinkwrap.json ]; then
        echo "npm ci"
      elif [ -f package.json ]; then
        rc=0
        has_npm_dependencies || rc=$?
        if [ "$rc" -ne 1 ]; then echo "npm install"; fi
      fi
      ;;
    python)
      if [ -f requirements.txt ]; then
        echo "pip install -r requirements.txt"
      elif [ -f pyproject.toml ] || [ -f setup.py ]; then
        echo "pip install ."
      fi
      ;;
    go)
      if [ -f go.mod ]; then echo "go mod download"; fi
      ;;
  esac
}

if [ "$RUNTIME" != static ]; then
  if [ "${BUCKETSPACE_INSTALL+set}" = set ]; then
    install=$BUCKETSPACE_INSTALL
    why="BUCKETSPACE_INSTALL is empty"
  else
    install=$(default_install)
    case "$RUNTIME" in
      node) why="no package-lock.json and no dependencies in package.json" ;;
      python) why="no requirements.txt, pyproject.toml or setup.py" ;;
      go) why="no go.mod" ;;
      *) why="no default for runtime '$RUNTIME'" ;;
    esac
  fi
  if [ -z "$install" ]; then
    say "nothing to install ($why)"
    echo none >"$REPORT/dependencies"
  elif [ -n "$DEPS_DIR" ] && [ "$(cat "$DEPS_DIR/$DEPS_MARKER" 2>/dev/null || :)" = "$DEPS_KEY" ]; then
    # An earlier container of this workspace installed from the same
    # dependency files into this volume, and finished.
    say "reusing the dependencies in $DEPS_DIR (installed by an earlier container from the same dependency files)"
    [ "$RUNTIME" != python ] || export VIRTUAL_ENV="$APP/.venv"
    echo reused >"$REPORT/dependencies"
  else
    if [ -n "$DEPS_DIR" ]; then
      # Nothing finished here with this key (a new volume, or an install cut
      # short): start from an empty directory.
      find "$DEPS_DIR" -mindepth 1 -maxdepth 1 -exec rm -rf {} + ||
        fail 66 "cannot empty the dependency cache $DEPS_DIR"
      say "installing into the dependency cache $DEPS_DIR"
    fi
    if [ "$RUNTIME" = python ]; then
      # Dependencies go to a virtual environment in /app (first on PATH), so
      # `pip install ...` works as a non-root user on every base image.
      say "creating a virtual environment: python3 -m venv $APP/.venv"
      python3 -m venv "$APP/.venv" || fail 66 "cannot create the virtual environment in $APP/.venv"
      export VIRTUAL_ENV="$APP/.venv"
    fi
    say "installing: $install"
    install_tmp=${TMPDIR:-/tmp}
    [ ! -d /var/tmp ] || [ ! -w /var/tmp ] || install_tmp=/var/tmp
    rc=0
    TMPDIR=$install_tmp sh -c "$install" || rc=$?
    [ "$rc" -eq 0 ] || fail 66 "install failed with exit code $rc: $install"
    # Written last: only a finished install is ever reused.
    [ -z "$DEPS_DIR" ] || printf '%s\n' "$DEPS_KEY" >"$DEPS_DIR/$DEPS_MARKER" ||
      fail 66 "cannot mark the dependency cache $DEPS_DIR"
    echo installed >"$REPORT/dependencies"
  fi
else
  echo none >"$REPORT/dependencies"
fi

# ---------------------------------------------------------------- start
if [ "$RUNTIME" = static ]; then
  root=$APP
  if [ ! -f "$APP/index.html" ] && [ -f "$APP/public/index.html" ]; then root=$APP/public; fi
  conf_dir=${TMPDIR:-/tmp}/bucketspace-nginx
  mkdir -p "$conf_dir"
  port=${PORT:-8080}
  case "$port" in '' | *[!0-9]*) fail 64 "PORT must be a number, got '$port'" ;; esac
  sed -e "s|@PORT@|$port|g" -e "s|@ROOT@|$root|g" -e "s|@DIR@|$conf_dir|g" \
    /usr/local/share/bucketspace/nginx.conf.template >"$conf_dir/nginx.conf" ||
    fail 64 "cannot write $conf_dir/nginx.conf"
  if [ "$#" -gt 0 ]; then
    say "starting: $*"
    exec "$@"
  fi
  say "starting: nginx serving $root on port $port"
  exec nginx -e stderr -c "$conf_dir/nginx.conf"
fi

if [ "$#" -gt 0 ]; then
  say "starting: $*"
  exec "$@"
fi
start=${BUCKETSPACE_START:-}
if [ -z "$start" ]; then
  case "$RUNTIME" in
    node) start="npm start" ;;
    python) start="python app.py" ;;
    # Not `go run .`: it stays the program's parent and dies at once on SIGTERM.
    go) start="go build -o /tmp/bucketspace-app . && exec /tmp/bucketspace-app" ;;
    *) fail 64 "BUCKETSPACE_RUNTIME must be node, python, go or static, got '$RUNTIME'" ;;
  esac
fi
say "starting: $start"
# bash runs a simple command, and the last command of a list, by exec (the app
# is then tini's child and its exit code is the container's). tini (PID 1)
# passes SIGTERM to its child only: npm forwards it to the app itself, so the
# app gets it once (with tini -g, the whole group's signal and npm's made two).
# A parent that dies on SIGTERM before the app has finished shutting down takes
# it down (tini exits with its child, and the container with tini): npm's
# default script shell, `sh -c`, is such a parent even for a simple command;
# bash is not.
if command -v bash >/dev/null 2>&1; then
  [ -n "${npm_config_script_shell:-}${NPM_CONFIG_SCRIPT_SHELL:-}" ] || export npm_config_script_shell=bash
  exec bash -c "$start"
fi
exec sh -c "$start"

#!/bin/sh
# Mount s3://$S3_BUCKET[/$S3_PREFIX] at $MOUNT_POINT with rclone, in the
# foreground; SIGTERM unmounts. Extra arguments go to `rclone mount`
# (e.g. --read-only, --exclude 'node_modules/**'). Works with Debian's rclone
# 1.60 and the current upstream release (the two builds of the Dockerfile).
set -eu

say() { printf 'bucketspace-mount: %s\n' "$*" >&2; }

MOUNT_POINT=${MOUNT_POINT:-/mnt/workspaces}
bucket=${S3_BUCKET:-workspaces}

# bucketspace's S3_* settings, as rclone's own variables for the :s3: backend
# (secrets stay out of the process list).
if [ -n "${S3_ENDPOINT:-}" ]; then
  export RCLONE_S3_ENDPOINT="$S3_ENDPOINT"
  export RCLONE_S3_PROVIDER="${RCLONE_S3_PROVIDER:-Other}"
  export RCLONE_S3_FORCE_PATH_STYLE="${S3_FORCE_PATH_STYLE:-true}"
else
  export RCLONE_S3_PROVIDER="${RCLONE_S3_PROVIDER:-AWS}"
fi
export RCLONE_S3_REGION="${S3_REGION:-us-east-1}"
if [ -n "${S3_ACCESS_KEY_ID:-}" ]; then
  export RCLONE_S3_ACCESS_KEY_ID="$S3_ACCESS_KEY_ID"
  export RCLONE_S3_SECRET_ACCESS_KEY="${S3_SECRET_ACCESS_KEY:-}"
else
  export RCLONE_S3_ENV_AUTH=true
fi
# rclone 1.60 refuses to start when AWS_CA_BUNDLE is set (LoadCustomCABundleError),
# even for http endpoints; it trusts SSL_CERT_FILE instead.
unset AWS_CA_BUNDLE
read_only=${MOUNT_READ_ONLY:-false}
[ "$read_only" = true ] && set -- --read-only "$@"

remote=":s3:$bucket${S3_PREFIX:+/$S3_PREFIX}"

# Never mount with a cache another configuration left behind (prepare-cache.sh).
/usr/local/bin/bucketspace-prepare-cache \
  "remote=$remote endpoint=${S3_ENDPOINT:-AWS} read-only=$read_only"

# The remote control, for the sync's "forget these directories" hints
# (vfs/forget): on MOUNT_RC_ADDR (the stack's private network, never
# published), with a password derived from the S3 secret unless
# MOUNT_RC_PASS is set; through rclone's variables, out of the process list.
if [ -n "${MOUNT_RC_ADDR:-}" ]; then
  rc_pass=${MOUNT_RC_PASS:-}
  if [ -z "$rc_pass" ] && [ -n "${S3_SECRET_ACCESS_KEY:-}" ]; then
    rc_pass=$(/usr/local/bin/bucketspace-rc-password)
  fi
  if [ -n "$rc_pass" ]; then
    export RCLONE_RC_USER="${MOUNT_RC_USER:-bucketspace}" RCLONE_RC_PASS="$rc_pass"
    set -- --rc --rc-addr "$MOUNT_RC_ADDR" "$@"
    say "remote control on $MOUNT_RC_ADDR (for the sync's hints)"
  else
    say "remote control off: no MOUNT_RC_PASS and no S3_SECRET_ACCESS_KEY to derive it from"
  fi
fi

say "mounting $remote (endpoint ${S3_ENDPOINT:-AWS}, $(rclone version 2>/dev/null | head -n 1), cache mode ${RCLONE_VFS_CACHE_MODE:-off}) at $MOUNT_POINT"
exec /usr/local/bin/bucketspace-mount-run rclone mount "$remote" "$MOUNT_POINT" --allow-other --allow-non-empty "$@"

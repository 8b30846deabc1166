#!/bin/sh
# Mount s3://$S3_BUCKET[/$S3_PREFIX] at $MOUNT_POINT with rclone, in the
# foreground; SIGTERM unmounts. Extra arguments go to `rclone mount`
# (e.g. --read-only, --exclude 'node_modules/**').
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
[ "${MOUNT_READ_ONLY:-false}" = true ] && set -- --read-only "$@"

remote=":s3:$bucket${S3_PREFIX:+/$S3_PREFIX}"
say "mounting $remote (endpoint ${S3_ENDPOINT:-AWS}) at $MOUNT_POINT"
exec /usr/local/bin/bucketspace-mount-run rclone mount "$remote" "$MOUNT_POINT" --allow-other --allow-non-empty "$@"

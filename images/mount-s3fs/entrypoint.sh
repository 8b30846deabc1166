#!/bin/sh
# Mount s3://$S3_BUCKET[/$S3_PREFIX] at $MOUNT_POINT with s3fs, in the
# foreground; SIGTERM unmounts. Extra arguments go to s3fs (e.g. -o ro).
set -eu

say() { printf 'bucketspace-mount: %s\n' "$*" >&2; }

MOUNT_POINT=${MOUNT_POINT:-/mnt/workspaces}
bucket=${S3_BUCKET:-workspaces}

# umask=0022: every file readable by the non-root users of the runtime
# containers, also objects without the mode metadata s3fs reads.
options="allow_other,nonempty,umask=0022,endpoint=${S3_REGION:-us-east-1}"
if [ -n "${S3_ENDPOINT:-}" ]; then
  options="$options,url=$S3_ENDPOINT"
  [ "${S3_FORCE_PATH_STYLE:-true}" = true ] && options="$options,use_path_request_style"
fi
if [ -n "${S3_ACCESS_KEY_ID:-}" ]; then
  # The credentials go to a file only root can read, not to the command line.
  passwd=/run/bucketspace-s3fs/passwd
  mkdir -p "${passwd%/*}"
  (umask 077 && printf '%s:%s\n' "$S3_ACCESS_KEY_ID" "${S3_SECRET_ACCESS_KEY:-}" >"$passwd")
  options="$options,passwd_file=$passwd"
fi
[ "${MOUNT_READ_ONLY:-false}" = true ] && options="$options,ro"
[ -n "${S3FS_OPTIONS:-}" ] && options="$options,$S3FS_OPTIONS"

source="$bucket${S3_PREFIX:+:/$S3_PREFIX}"
say "mounting s3://$bucket${S3_PREFIX:+/$S3_PREFIX} (endpoint ${S3_ENDPOINT:-AWS}) at $MOUNT_POINT"
exec /usr/local/bin/bucketspace-mount-run s3fs "$source" "$MOUNT_POINT" -f -o "$options" "$@"

#!/bin/sh
# bucketspace-rc-password: the password of the mount's rclone remote control,
# derived from S3_SECRET_ACCESS_KEY, which the sync service holds too: it
# derives the same (services/common/mount-rc-client.ts, mountRcPassword; a
# test keeps the two equal), so nothing has to be handed over. Whoever has
# the S3 secret controls the bucket anyway.
set -eu
: "${S3_SECRET_ACCESS_KEY:?S3_SECRET_ACCESS_KEY is not set}"
# printf is a shell builtin: the secret never shows in the process list.
printf 'bucketspace-mount-rc:%s' "$S3_SECRET_ACCESS_KEY" | sha256sum | cut -d ' ' -f 1

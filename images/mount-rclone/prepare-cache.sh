#!/bin/sh
# bucketspace-prepare-cache IDENTITY: make rclone's VFS cache safe to mount
# with, before `rclone mount` starts. IDENTITY names what the cache belongs
# to (the remote, its endpoint, read-only or not).
#
# A cache left by another configuration is never used: an item it holds would
# be served instead of the object (rclone 1.60 served the old bytes cut to the
# new size after a variant switch, rclone#6053), and in `writes` mode rclone
# uploads every dirty item it finds at start, which would overwrite newer
# objects with an old edit. So, at every start:
#  - no dirty items (nothing waits for upload): the cache is emptied (it is
#    only a cache; clean items are fetched again when read);
#  - dirty items of this same configuration (a direct mount that stopped
#    before its write-back): kept, and rclone uploads them as it starts;
#  - dirty items of another configuration: set aside in
#    $RCLONE_CACHE_DIR/set-aside/<time>/ (never uploaded, never deleted) and
#    listed, with how to get them back.
set -eu

say() { printf 'bucketspace-mount: %s\n' "$*" >&2; }

identity=${1:?usage: bucketspace-prepare-cache IDENTITY}
cache=${RCLONE_CACHE_DIR:-/var/cache/rclone}
owner="$cache/bucketspace-cache-owner"
mkdir -p "$cache"
previous=$(cat "$owner" 2>/dev/null || true)

# vfsMeta/<remote>/<path>: rclone's JSON per cached item, `"Dirty": true`
# while its data waits for upload.
dirty=""
if [ -d "$cache/vfsMeta" ]; then
  dirty=$(grep -rlE '"Dirty"[[:space:]]*:[[:space:]]*true' "$cache/vfsMeta" 2>/dev/null || true)
fi

if [ -z "$dirty" ]; then
  if [ -d "$cache/vfs" ] || [ -d "$cache/vfsMeta" ]; then
    say "emptying the VFS cache (nothing in it waits for upload)"
  fi
  rm -rf "$cache/vfs" "$cache/vfsMeta"
elif [ "$previous" = "$identity" ]; then
  count=$(printf '%s\n' "$dirty" | wc -l)
  say "keeping $count items written through this mount and not yet uploaded: rclone uploads them now"
else
  aside="$cache/set-aside/$(date -u +%Y%m%dT%H%M%SZ)"
  mkdir -p "$aside"
  [ -d "$cache/vfs" ] && mv "$cache/vfs" "$aside/vfs"
  [ -d "$cache/vfsMeta" ] && mv "$cache/vfsMeta" "$aside/vfsMeta"
  printf '%s\n' "$previous" >"$aside/owner"
  say "warning: the cache holds files written through another mount configuration"
  say "  (${previous:-unknown}) that were never uploaded. They are NOT uploaded now"
  say "  (they could overwrite newer objects); they are kept in the mount-cache volume at"
  say "  $aside/vfs, one file per path:"
  printf '%s\n' "$dirty" | sed "s|^$cache/vfsMeta/[^/]*/|    |" >&2
  say "  Copy back what you still want, then delete that directory."
fi
printf '%s\n' "$identity" >"$owner"

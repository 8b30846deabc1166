#!/bin/sh
# Runs a FUSE mount program in the foreground of this container and keeps the
# mount honest:
#  - a mount left at MOUNT_POINT by an earlier run (its FUSE process died with
#    that container: every access answers "Transport endpoint is not
#    connected") is detached first, so a restarted container mounts afresh and
#    the new mount reaches the host and the readers (rslave) by propagation;
#  - every MOUNT_CHECK_INTERVAL seconds the mount point is checked; when it
#    stops being a working mount (stale, unmounted) or the program exits, the
#    mount is detached and the container exits non-zero, so Docker's restart
#    policy starts a fresh one;
#  - SIGTERM/SIGINT unmount cleanly and exit 0.
# Usage: bucketspace-mount-run <program> [args...]   (MOUNT_POINT is set)
set -eu

say() { printf 'bucketspace-mount: %s\n' "$*" >&2; }

mp=${MOUNT_POINT:?MOUNT_POINT is not set}
if [ ! -e /dev/fuse ]; then
  say "error: no /dev/fuse: run with --device /dev/fuse --cap-add SYS_ADMIN --security-opt apparmor:unconfined"
  exit 64
fi
interval=${MOUNT_CHECK_INTERVAL:-5}
start_timeout=${MOUNT_START_TIMEOUT:-60}
failures_allowed=${MOUNT_CHECK_FAILURES:-3}

# True when $mp is a mount that answers.
healthy() {
  mountpoint -q "$mp" 2>/dev/null && timeout 10 stat -t "$mp/." >/dev/null 2>&1
}

# A dead FUSE mount: a mount point whose stat fails (ENOTCONN).
detach() {
  umount -l "$mp" 2>/dev/null || true
}

if ! stat -t "$mp/." >/dev/null 2>&1; then
  say "detaching a stale mount at $mp (left by an earlier run)"
  detach
fi
if mountpoint -q "$mp" 2>/dev/null; then
  say "detaching the mount already at $mp"
  detach
fi
mkdir -p "$mp"

"$@" &
child=$!
stopping=false
on_signal() {
  stopping=true
  say "stopping: unmounting $mp"
  kill -TERM "$child" 2>/dev/null || true
}
trap on_signal TERM INT

# Wait for the mount to appear.
waited=0
until healthy; do
  if ! kill -0 "$child" 2>/dev/null; then
    code=0
    wait "$child" || code=$?
    $stopping && exit 0
    say "error: the mount program exited with status $code before $mp was mounted"
    exit "$((code == 0 ? 1 : code))"
  fi
  if [ "$waited" -ge "$((start_timeout * 5))" ]; then
    say "error: $mp was not mounted within ${start_timeout} s"
    kill -TERM "$child" 2>/dev/null || true
    wait "$child" 2>/dev/null || true
    exit 1
  fi
  sleep 0.2
  waited=$((waited + 1))
done
say "mounted $mp"

failures=0
while kill -0 "$child" 2>/dev/null; do
  sleep "$interval" &
  wait $! 2>/dev/null || true
  $stopping && break
  if healthy; then
    failures=0
  else
    failures=$((failures + 1))
    say "warning: $mp does not answer (check $failures of $failures_allowed)"
    if [ "$failures" -ge "$failures_allowed" ]; then
      say "error: $mp is stale or gone: detaching it and exiting so the container restarts"
      kill -TERM "$child" 2>/dev/null || true
      sleep 1
      kill -KILL "$child" 2>/dev/null || true
      detach
      exit 1
    fi
  fi
done

code=0
wait "$child" || code=$?
if $stopping; then
  # The program unmounted on SIGTERM; make sure nothing is left behind.
  mountpoint -q "$mp" 2>/dev/null && detach
  exit 0
fi
say "error: the mount program exited with status $code: detaching $mp and exiting so the container restarts"
detach
exit "$((code == 0 ? 1 : code))"

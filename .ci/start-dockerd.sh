#!/usr/bin/env bash
# Starts the Docker engine on a machine without systemd, and waits until
# `docker info` answers. Does nothing when the engine already answers.
#
# An engine that was stopped without cleaning up (a machine snapshot taken
# while it ran, a killed session) leaves its pid files behind. When such a
# file names a pid that now belongs to another process, dockerd logs
# "libcontainerd: containerd is still running", waits for a containerd socket
# that nobody serves, and exits with "timeout waiting for containerd to
# start". So before each start: a pid file whose process is not the program
# it names is removed, and a containerd that dockerd left without its socket
# is stopped. One more attempt follows a failed start; then the log is shown.
#
# Called by .ci/run; as root.
set -euo pipefail

LOG=${DOCKERD_LOG:-/var/log/dockerd.log}
EXEC_ROOT=/var/run/docker
DOCKERD_PIDFILE=/var/run/docker.pid
CONTAINERD_PIDFILE=$EXEC_ROOT/containerd/containerd.pid
CONTAINERD_SOCKET=$EXEC_ROOT/containerd/containerd.sock
WAIT_SECONDS=${DOCKERD_WAIT_SECONDS:-60}

say() { printf 'start-dockerd: %s\n' "$*" >&2; }

answers() { docker info >/dev/null 2>&1; }

# The program name of a live pid ("" when there is no such process, or only
# its zombie: with no init to reap them, killed engines stay as zombies).
program_of() {
  local state
  state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1 || true)
  [[ -n $state && $state != Z ]] || return 0
  cat "/proc/$1/comm" 2>/dev/null || true
}

# Removes $1 unless it names a live process called $2.
drop_stale_pidfile() {
  local file=$1 program=$2 pid
  [[ -f $file ]] || return 0
  pid=$(tr -dc 0-9 <"$file")
  if [[ -n $pid && "$(program_of "$pid")" == "$program" ]]; then
    return 0
  fi
  say "removing stale $file (pid ${pid:-none} is not a running $program)"
  rm -f "$file"
}

# Clears what a stopped engine left behind. Only called while dockerd does
# not answer.
clean_up() {
  drop_stale_pidfile "$DOCKERD_PIDFILE" dockerd
  drop_stale_pidfile "$CONTAINERD_PIDFILE" containerd
  if [[ -f $CONTAINERD_PIDFILE && ! -S $CONTAINERD_SOCKET ]] &&
    ! pgrep -x dockerd >/dev/null; then
    local pid
    pid=$(tr -dc 0-9 <"$CONTAINERD_PIDFILE")
    say "stopping containerd $pid: its dockerd is gone and its socket $CONTAINERD_SOCKET is missing"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 20); do
      [[ -d /proc/$pid ]] || break
      sleep 0.5
    done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$CONTAINERD_PIDFILE"
  fi
}

# Starts dockerd once and waits for it; returns 1 when it does not answer.
attempt() {
  clean_up
  nohup dockerd >"$LOG" 2>&1 &
  local pid=$!
  for _ in $(seq 1 "$WAIT_SECONDS"); do
    answers && return 0
    if ! kill -0 "$pid" 2>/dev/null; then
      say "dockerd exited: $(tail -n 1 "$LOG")"
      return 1
    fi
    sleep 1
  done
  say "dockerd did not answer within ${WAIT_SECONDS} s; stopping it"
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  return 1
}

if answers; then
  exit 0
fi
say "starting dockerd (log: $LOG)"
for try in 1 2; do
  if attempt; then
    say "dockerd answers"
    exit 0
  fi
  if ((try == 1)); then
    cp "$LOG" "$LOG.1"
    say "retrying once (the first attempt's log: $LOG.1)"
  fi
done
say "dockerd did not start; the last 50 lines of its log:"
tail -n 50 "$LOG" >&2
exit 1

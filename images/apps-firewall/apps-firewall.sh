#!/bin/sh
# bucketspace apps firewall: puts the monitor's rules for the apps network in
# place (decision 0055). Run by the monitor as a one-shot container in the
# host's network namespace with NET_ADMIN and NET_RAW; it touches only its own
# chains and the jumps to them.
#
#   apply    FIREWALL_RULES (an iptables-restore payload for the filter table
#            that declares and fills FIREWALL_CHAINS) is loaded in one
#            transaction; every line of FIREWALL_JUMPS (`PARENT RULE...`, e.g.
#            `DOCKER-USER -i br-1a2b3c4d5e6f -j BS-1a2b3c4d-FWD`) is put first
#            in PARENT unless it is there; jumps to these chains that are not
#            wanted any more (an earlier bridge) are removed.
#   remove   the jumps to FIREWALL_CHAINS, then the chains themselves.
#
# It uses the iptables backend (nft or legacy) that holds Docker's own rules.
# Exit codes: 0 done, 64 bad input, 69 no usable iptables or no DOCKER-USER
# chain (Docker runs without its iptables rules), 70 the rules were refused.
set -eu

say() { printf 'apps-firewall: %s\n' "$*" >&2; }
fail() {
  code=$1
  shift
  say "error: $*"
  exit "$code"
}

mode=${1:-apply}
chains=${FIREWALL_CHAINS:-}
[ -n "$chains" ] || fail 64 "FIREWALL_CHAINS is empty"
for chain in $chains; do
  case "$chain" in
    BS-*) ;;
    *) fail 64 "refusing to touch chain '$chain': only BS-* chains are ours" ;;
  esac
done

# The backend Docker uses: the one whose DOCKER-USER chain exists (both: the
# one with more rules, as kubernetes-sigs/iptables-wrappers decides). Only
# `*-save` is asked: it lists the tables that exist, where `iptables-legacy
# -S` would create an empty legacy filter table on an nft host.
save_of() {
  case "$1" in
    legacy) grep -qx filter /proc/net/ip_tables_names 2>/dev/null || return 0 ;;
  esac
  "iptables-$1-save" -t filter 2>/dev/null || :
}
rules_in() { save_of "$1" | grep -c '^-' || :; }
has_docker_user() { save_of "$1" | grep -q '^:DOCKER-USER '; }
backend=
if has_docker_user nft && has_docker_user legacy; then
  if [ "$(rules_in legacy)" -gt "$(rules_in nft)" ]; then backend=legacy; else backend=nft; fi
elif has_docker_user nft; then
  backend=nft
elif has_docker_user legacy; then
  backend=legacy
fi
[ -n "$backend" ] || fail 69 "no DOCKER-USER chain in the nft or legacy iptables tables: is dockerd running with its iptables rules (not --iptables=false), and does this container have NET_ADMIN in the host's network namespace?"
ipt() { "iptables-$backend" -w 5 "$@"; }
say "using iptables-$backend"

# `-A PARENT RULE...` lines of PARENT that jump to one of our chains.
jumps_in() {
  ipt -S "$1" | while IFS= read -r line; do
    for chain in $chains; do
      case "$line" in "-A $1 "*"-j $chain") printf '%s\n' "${line#"-A $1 "}" ;; esac
    done
  done
}

remove_stale_jumps() {
  # $1: parent chain; $2: the wanted rules in it (newline-separated)
  jumps_in "$1" | while IFS= read -r rule; do
    if ! printf '%s\n' "$2" | grep -qxF -- "$rule"; then
      say "removing $1 $rule"
      # shellcheck disable=SC2086 # a rule is words, as iptables -S prints it
      ipt -D "$1" $rule
    fi
  done
}

case "$mode" in
  apply)
    [ -n "${FIREWALL_RULES:-}" ] || fail 64 "FIREWALL_RULES is empty"
    [ -n "${FIREWALL_JUMPS:-}" ] || fail 64 "FIREWALL_JUMPS is empty"
    attempt=1
    # A legacy table that changed while it was rewritten is refused (EAGAIN): try again.
    until printf '%s\n' "$FIREWALL_RULES" | "iptables-$backend-restore" -w 5 --noflush; do
      [ "$attempt" -lt 3 ] || fail 70 "iptables-restore refused the rules (above)"
      attempt=$((attempt + 1))
      sleep 1
    done
    parents=$(printf '%s\n' "$FIREWALL_JUMPS" | awk 'NF { print $1 }' | sort -u)
    printf '%s\n' "$FIREWALL_JUMPS" | while read -r parent rule; do
      [ -n "$parent" ] || continue
      # shellcheck disable=SC2086
      if ! ipt -C "$parent" $rule 2>/dev/null; then
        say "adding $parent $rule"
        # shellcheck disable=SC2086
        ipt -I "$parent" 1 $rule || fail 70 "cannot add $parent $rule"
      fi
    done
    for parent in $parents; do
      wanted=$(printf '%s\n' "$FIREWALL_JUMPS" | awk -v p="$parent" '$1 == p { $1 = ""; sub(/^ /, ""); print }')
      remove_stale_jumps "$parent" "$wanted"
    done
    for chain in $chains; do ipt -S "$chain"; done
    for parent in $parents; do jumps_in "$parent" | sed "s/^/-A $parent /"; done
    say "applied"
    ;;
  remove)
    for parent in DOCKER-USER INPUT; do
      ipt -S "$parent" >/dev/null 2>&1 || continue
      remove_stale_jumps "$parent" ""
    done
    for chain in $chains; do
      if ipt -S "$chain" >/dev/null 2>&1; then
        ipt -F "$chain"
        ipt -X "$chain"
        say "removed chain $chain"
      fi
    done
    ;;
  *) fail 64 "unknown mode '$mode': apply or remove" ;;
esac

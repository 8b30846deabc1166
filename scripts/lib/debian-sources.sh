# Sourced by scripts/build-local-images.sh and .ci/install-compose-v2.sh: where
# this machine gets its Debian packages. The mirror is always read from the
# machine's own apt sources (never written into the repository), so the same
# scripts work behind a local mirror, a proxy or a snapshot archive.

# debian_archive_source SUITE
#   Finds the Debian archive (not the security archive) that this machine's
#   apt sources use for SUITE (e.g. bookworm). Sets DEBIAN_ARCHIVE_URI (the
#   mirror URL) and DEBIAN_ARCHIVE_FILE (the sources file it came from; empty
#   when DEBIAN_MIRROR gave it). Returns 1 when there is none.
#   DEBIAN_MIRROR, when set, is the answer.
debian_archive_source() {
  local suite=$1 f="" uri=""
  DEBIAN_ARCHIVE_URI=""
  DEBIAN_ARCHIVE_FILE=""
  if [[ -n ${DEBIAN_MIRROR:-} ]]; then
    DEBIAN_ARCHIVE_URI=$DEBIAN_MIRROR
    return 0
  fi
  local nullglob_was_set=0
  shopt -q nullglob && nullglob_was_set=1
  shopt -s nullglob
  local sources=(/etc/apt/sources.list.d/*.sources)
  local lists=(/etc/apt/sources.list /etc/apt/sources.list.d/*.list)
  ((nullglob_was_set)) || shopt -u nullglob
  # deb822 files: one stanza per paragraph; the stanza must list SUITE.
  for f in ${sources[@]+"${sources[@]}"}; do
    uri=$(awk -v suite="$suite" '
      BEGIN { RS = ""; FS = "\n" }
      {
        uri = ""; found = 0
        for (i = 1; i <= NF; i++) {
          line = $i
          if (line ~ /^[ \t]*#/) continue
          key = tolower(line); sub(/:.*/, "", key)
          value = line; sub(/^[^:]*:[ \t]*/, "", value)
          if (key == "uris") { split(value, u, /[ \t]+/); uri = u[1] }
          if (key == "suites") {
            n = split(value, s, /[ \t]+/)
            for (j = 1; j <= n; j++) if (s[j] == suite) found = 1
          }
        }
        if (found && uri != "" && uri !~ /security/) { print uri; exit }
      }' "$f")
    [[ -n $uri ]] && break
  done
  # One-line format: deb [options] URI SUITE COMPONENTS...
  [[ -n $uri ]] || for f in "${lists[@]}"; do
    [[ -f $f ]] || continue
    uri=$(awk -v suite="$suite" '
      $1 == "deb" && $0 !~ /security/ {
        for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { if ($(i + 1) == suite) { print $i; exit } }
      }' "$f")
    [[ -n $uri ]] && break
  done
  [[ -n $uri ]] || return 1
  DEBIAN_ARCHIVE_URI=$uri
  DEBIAN_ARCHIVE_FILE=$f
}

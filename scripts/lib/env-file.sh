# Sourced by the scripts in scripts/: reading the stack's .env. It is data,
# never sourced: values are taken line by line as Compose reads them.

# env_file_value FILE KEY
#   The value of KEY in FILE (the last assignment wins), without surrounding
#   quotes; empty when FILE or KEY is missing.
env_file_value() {
  local file=$1 key=$2 line value
  [[ -f $file ]] || return 0
  line=$(grep -E "^${key}=" "$file" 2>/dev/null | tail -n 1 || true)
  value=${line#*=}
  value=${value%$'\r'}
  value=${value#\"}
  value=${value%\"}
  value=${value#\'}
  value=${value%\'}
  printf '%s' "$value"
}

# setting_value FILE KEY
#   What Compose uses for KEY: the shell's environment first, then FILE.
setting_value() {
  local file=$1 key=$2
  if [[ -n ${!key:-} ]]; then
    printf '%s' "${!key}"
  else
    env_file_value "$file" "$key"
  fi
}

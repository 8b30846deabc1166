# Sourced by the scripts in scripts/: which Docker Compose this host has.

# find_compose
#   Sets COMPOSE (the command: `docker compose` for v2, `docker-compose` for
#   v1) and COMPOSE_LABEL (e.g. "Compose v2 (2.26.1)"). Returns 1 when there
#   is no Compose, 2 when docker-compose is older than 1.29 (COMPOSE_LABEL
#   then names it).
find_compose() {
  COMPOSE=()
  COMPOSE_LABEL=""
  if docker compose version >/dev/null 2>&1; then
    COMPOSE=(docker compose)
    COMPOSE_LABEL="Compose v2 ($(docker compose version --short 2>/dev/null))"
    return 0
  fi
  command -v docker-compose >/dev/null 2>&1 || return 1
  local v1 major rest minor
  v1=$(docker-compose version --short 2>/dev/null || echo 0)
  major=${v1%%.*}
  rest=${v1#*.}
  minor=${rest%%.*}
  COMPOSE=(docker-compose)
  COMPOSE_LABEL="Compose v1 ($v1)"
  if ((major == 1 && minor < 29)); then
    COMPOSE_LABEL="docker-compose $v1"
    return 2
  fi
  return 0
}

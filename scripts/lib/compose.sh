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

# stack_compose ROOT
#   Compose for the checkout at ROOT, as users run it there: sets env_file
#   (BUCKETSPACE_ENV_FILE, default ROOT/.env) and compose_args (--env-file when
#   it is not ROOT/.env); run_compose then runs Compose in ROOT, so the files
#   come from -f or from COMPOSE_FILE in that env file.
stack_compose() {
  STACK_ROOT=$1
  env_file=${BUCKETSPACE_ENV_FILE:-$STACK_ROOT/.env}
  compose_args=()
  [[ $env_file == "$STACK_ROOT/.env" ]] || compose_args=(--env-file "$env_file")
}
run_compose() { (cd "$STACK_ROOT" && "${COMPOSE[@]}" ${compose_args[@]+"${compose_args[@]}"} "$@"); }

# need_docker_and_compose: a reachable Docker engine and a Compose, or die
# (the calling script's) with what is missing.
need_docker_and_compose() {
  command -v docker >/dev/null 2>&1 || die "Docker is not installed"
  docker info >/dev/null 2>&1 || die "cannot reach the Docker daemon (is it running? DOCKER_HOST?)"
  find_compose || die "Docker Compose (v2, or v1 1.29) is not installed"
}

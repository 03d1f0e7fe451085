#!/usr/bin/env bash
# Check a running stack: every container healthy, and every service's own
# health endpoint answering from inside the compose network.
#   scripts/validate.sh            exit 0 when all pass, 1 otherwise
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

failures=0
pass() { printf '  ok    %s\n' "$1"; }
fail() { printf '  FAIL  %s\n' "$1"; failures=$((failures + 1)); }

check() { # description service command...
  local what=$1 service=$2
  shift 2
  if docker compose exec -T "$service" "$@" >/dev/null 2>&1; then pass "$what"; else fail "$what"; fi
}

echo "containers:"
for service in $(docker compose ps --services); do
  id=$(docker compose ps -q "$service")
  status=$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$id" 2>/dev/null)
  case "$status" in
    healthy|running) pass "$service ($status)" ;;
    *) fail "$service (${status:-missing})" ;;
  esac
done

echo "health endpoints:"
check "postgres: pg_isready" postgres pg_isready -U postgres
check "portal: GET /healthz" portal python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=5)"
check "coder: GET /healthz" coder curl -fsS http://127.0.0.1:7080/healthz
check "coder: GET /api/v2/buildinfo" coder curl -fsS http://127.0.0.1:7080/api/v2/buildinfo
check "gitea: GET /api/healthz" gitea curl -fsS http://127.0.0.1:3000/api/healthz
check "authentik: ak healthcheck" authentik-server ak healthcheck
check "authentik: OIDC discovery (portal)" portal python -c "import urllib.request; urllib.request.urlopen('http://authentik-server:9000/application/o/portal/.well-known/openid-configuration', timeout=5)"
check "litellm: GET /health/liveliness" litellm python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:4000/health/liveliness', timeout=5)"
check "litellm: GET /health/readiness" litellm python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:4000/health/readiness', timeout=5)"
check "minio: mc ready local" minio mc ready local
check "mailpit: readyz" mailpit /mailpit readyz
check "testdb: pg_isready" testdb pg_isready -U test -d test
check "devdb: pg_isready" devdb pg_isready -U dev -d dev
check "portal reaches the public names (TLS via the platform CA)" portal python -c "import os, requests; requests.get('https://' + os.environ['OIDC_ISSUER'].split('/')[2] + '/-/health/live/', timeout=5).raise_for_status()"

if [ "$failures" -gt 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "all checks passed"

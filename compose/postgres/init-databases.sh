#!/usr/bin/env bash
# Runs once, when the data directory is empty (docker-entrypoint-initdb.d):
# one login role and one database per service, each owning its database.
# Passwords come from the container's environment (.env); nothing is stored here.
set -euo pipefail

create_database() {
  local name=$1 password=$2
  if [ -z "$password" ]; then
    echo "init-databases: no password for $name" >&2
    exit 1
  fi
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    --set=name="$name" --set=password="$password" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'name', :'password')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'name') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'name', :'name')
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'name') \gexec
SQL
}

create_database coder "${CODER_DB_PASSWORD:-}"
create_database gitea "${GITEA_DB_PASSWORD:-}"
create_database authentik "${AUTHENTIK_DB_PASSWORD:-}"
create_database portal "${PORTAL_DB_PASSWORD:-}"
create_database litellm "${LITELLM_DB_PASSWORD:-}"
create_database drone "${DRONE_DB_PASSWORD:-}"

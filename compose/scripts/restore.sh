#!/usr/bin/env bash
# Restore a backup made by scripts/backup.sh onto a stack whose containers
# exist (docker compose up -d once, then this). Stops the services that write,
# restores the databases and volumes, and starts everything again.
#   scripts/restore.sh BACKUP_DIR
set -euo pipefail
cd "$(dirname "$0")/.."

src=${1:?usage: scripts/restore.sh BACKUP_DIR}
src=$(cd "$src" && pwd)
# Named volumes are <project>_<volume>; the compose file sets `name: platform`.
project=${COMPOSE_PROJECT_NAME:-platform}

echo "==> stopping the services that write"
docker compose stop portal coder gitea authentik-server authentik-worker litellm act-runner minio mailpit caddy
docker compose up -d postgres testdb devdb

restore_db() { # service user database file
  local service=$1 user=$2 db=$3 file=$4
  [ -f "$file" ] || { echo "skip $db: no $file"; return 0; }
  docker compose exec -T "$service" pg_restore -U "$user" --clean --if-exists --no-owner \
    --role="$db" --dbname="$db" < "$file"
}

echo "==> PostgreSQL"
for db in coder gitea authentik portal litellm drone; do
  restore_db postgres postgres "$db" "$src/postgres-$db.dump"
done
restore_db testdb test test "$src/testdb.dump"
restore_db devdb dev dev "$src/devdb.dump"

echo "==> volumes"
for archive in "$src"/volume-*.tar.gz; do
  [ -e "$archive" ] || continue
  volume=$(basename "$archive" .tar.gz)
  volume=${volume#volume-}
  docker run --rm -v "${project}_${volume}:/volume" -v "$src:/backup:ro" \
    "${BACKUP_HELPER_IMAGE:-postgres:17.6-bookworm}" \
    sh -c "find /volume -mindepth 1 -delete && tar -C /volume -xzf /backup/volume-$volume.tar.gz"
done
for archive in "$src"/workspace-*.tar.gz; do
  [ -e "$archive" ] || continue
  volume=$(basename "$archive" .tar.gz)
  volume=${volume#workspace-}
  docker volume create "$volume" >/dev/null
  docker run --rm -v "$volume:/volume" -v "$src:/backup:ro" \
    "${BACKUP_HELPER_IMAGE:-postgres:17.6-bookworm}" \
    sh -c "find /volume -mindepth 1 -delete && tar -C /volume -xzf /backup/workspace-$volume.tar.gz"
done

echo "==> starting the platform"
docker compose up -d
echo "restored from $src; check with scripts/validate.sh"

#!/usr/bin/env bash
# Back up the platform: a pg_dump of every database and a tarball of every
# named volume that holds state outside PostgreSQL.
#   scripts/backup.sh [BACKUP_DIR]      (default: backups/<UTC timestamp>)
# Runs against the running stack; PostgreSQL dumps are consistent snapshots.
set -euo pipefail
cd "$(dirname "$0")/.."

dest=${1:-backups/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$dest"
dest=$(cd "$dest" && pwd)
# Named volumes are <project>_<volume>; the compose file sets `name: platform`.
project=${COMPOSE_PROJECT_NAME:-platform}

echo "==> PostgreSQL (platform databases)"
for db in coder gitea authentik portal litellm drone; do
  docker compose exec -T postgres pg_dump -U postgres --format=custom --dbname="$db" > "$dest/postgres-$db.dump"
done
docker compose exec -T postgres pg_dumpall -U postgres --globals-only > "$dest/postgres-globals.sql"

echo "==> PostgreSQL (testdb, devdb)"
docker compose exec -T testdb pg_dump -U test --format=custom --dbname=test > "$dest/testdb.dump"
docker compose exec -T devdb pg_dump -U dev --format=custom --dbname=dev > "$dest/devdb.dump"

echo "==> volumes"
for volume in gitea_data minio_data authentik_media authentik_certs caddy_data mailpit_data act_runner_data coder_home; do
  docker run --rm -v "${project}_${volume}:/volume:ro" -v "$dest:/backup" \
    "${BACKUP_HELPER_IMAGE:-postgres:17.6-bookworm}" tar -C /volume -czf "/backup/volume-$volume.tar.gz" .
done

echo "==> workspace home volumes"
docker volume ls -q --filter label=coder.workspace_id | while read -r volume; do
  docker run --rm -v "$volume:/volume:ro" -v "$dest:/backup" \
    "${BACKUP_HELPER_IMAGE:-postgres:17.6-bookworm}" tar -C /volume -czf "/backup/workspace-$volume.tar.gz" .
done

echo "backup written to $dest (it holds secrets: keep it like .env)"

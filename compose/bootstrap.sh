#!/usr/bin/env bash
# Bootstrap the platform after `docker compose up -d`. Idempotent: every step
# checks what exists first, so running it again repairs instead of duplicating.
#
#   ./bootstrap.sh env    write .env from .env.example with fresh random secrets
#   ./bootstrap.sh        configure SSO, Gitea, Coder and the portal
#
# Writes generated/portal.env (CODER_ADMIN_API_KEY, CODER_ORGANIZATION,
# GITEA_ADMIN_TOKEN, GITEA_AUTH_SOURCE_ID) and recreates the portal with it.
set -euo pipefail
cd "$(dirname "$0")"

GENERATED=generated/portal.env
TEMPLATE_NAME=${CODER_TEMPLATE:-portal-workspace}

log() { printf '\n==> %s\n' "$*"; }
die() { printf 'bootstrap: %s\n' "$*" >&2; exit 1; }
dc() { docker compose "$@"; }

random_secret() { openssl rand -hex 32; }
fernet_key() { openssl rand -base64 32 | tr '+/' '-_'; }

cmd_env() {
  [ -e .env ] && die ".env exists already; edit it, or remove it to start over"
  umask 077
  while IFS= read -r line; do
    case "$line" in
      PORTAL_ENCRYPTION_KEY=CHANGE_ME) printf 'PORTAL_ENCRYPTION_KEY=%s\n' "$(fernet_key)" ;;
      *=sk-CHANGE_ME) printf '%s=sk-%s\n' "${line%%=*}" "$(random_secret)" ;;
      *=CHANGE_ME) printf '%s=%s\n' "${line%%=*}" "$(random_secret)" ;;
      *) printf '%s\n' "$line" ;;
    esac
  done < .env.example > .env
  echo "wrote .env: review the host names, LLM_API_BASE and DOCKER_GID, then: docker compose up -d && ./bootstrap.sh"
}

load_env() {
  [ -f .env ] || die "no .env: run ./bootstrap.sh env first"
  grep -q 'CHANGE_ME' .env && die ".env still has CHANGE_ME values"
  set -a
  # shellcheck disable=SC1091
  . ./.env
  set +a
  : "${GITEA_OAUTH_SOURCE_NAME:=authentik}"
  : "${OIDC_ADMIN_GROUP:=portal-admins}"
}

# Read KEY from generated/portal.env (empty when absent).
generated_get() {
  [ -f "$GENERATED" ] || return 0
  sed -n "s/^$1=//p" "$GENERATED" | tail -n 1
}

# Set KEY=VALUE in generated/portal.env, keeping the other lines.
generated_set() {
  local key=$1 value=$2 tmp
  mkdir -p "$(dirname "$GENERATED")"
  touch "$GENERATED"
  chmod 600 "$GENERATED"
  tmp=$(mktemp)
  grep -v "^$key=" "$GENERATED" > "$tmp" || true
  printf '%s=%s\n' "$key" "$value" >> "$tmp"
  cat "$tmp" > "$GENERATED"
  rm -f "$tmp"
}

wait_healthy() {
  local service=$1 tries=60 status
  while [ $tries -gt 0 ]; do
    status=$(docker inspect -f '{{.State.Health.Status}}' "$(dc ps -q "$service")" 2>/dev/null || true)
    [ "$status" = healthy ] && return 0
    tries=$((tries - 1))
    sleep 5
  done
  die "$service is not healthy (docker compose logs $service)"
}

json_field() { # field; reads JSON on stdin, prints the first string value of field
  sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p" | head -n 1
}

# --- Authentik: providers, applications and the admin group (blueprint) ---
step_authentik() {
  log "Authentik: applying the platform blueprint"
  wait_healthy authentik-worker
  dc exec -T authentik-worker ak apply_blueprint /blueprints/custom/platform.yaml
  # System > Settings (a tenant setting, not an environment variable since 2024.2):
  # initials instead of Gravatar (offline), and addresses only administrators set,
  # which the blueprint's email mapping states as verified (invitations match them).
  log "Authentik: avatars and who may change an email address"
  dc exec -T -e AK_TOKEN="$AUTHENTIK_BOOTSTRAP_TOKEN" authentik-worker python3 -c '
import json, os, urllib.request
body = json.dumps({"avatars": "initials", "default_user_change_email": False}).encode()
request = urllib.request.Request(
    "http://authentik-server:9000/api/v3/admin/settings/", data=body, method="PATCH",
    headers={"Authorization": "Bearer " + os.environ["AK_TOKEN"], "Content-Type": "application/json"})
urllib.request.urlopen(request, timeout=30).read()
'
}

# --- Gitea: admin user, admin token, Authentik OAuth source ---
gitea() { dc exec -T -u git gitea gitea "$@"; }

gitea_api() { # method path [curl args...]; authenticated with the admin token
  local method=$1 path=$2
  shift 2
  dc exec -T gitea curl -fsS -X "$method" -H "Authorization: token $GITEA_ADMIN_TOKEN" \
    "http://127.0.0.1:3000/api/v1$path" "$@"
}

step_gitea() {
  log "Gitea: admin user, token and the Authentik source"
  wait_healthy gitea
  if ! gitea admin user list --admin | awk 'NR > 1 {print $2}' | grep -qx "$GITEA_ADMIN_USERNAME"; then
    gitea admin user create --admin --username "$GITEA_ADMIN_USERNAME" \
      --email "$GITEA_ADMIN_EMAIL" --password "$GITEA_ADMIN_PASSWORD" \
      --must-change-password=false
  fi

  GITEA_ADMIN_TOKEN=$(generated_get GITEA_ADMIN_TOKEN)
  if [ -z "$GITEA_ADMIN_TOKEN" ] || ! gitea_api GET /user >/dev/null 2>&1; then
    GITEA_ADMIN_TOKEN=$(gitea admin user generate-access-token \
      --username "$GITEA_ADMIN_USERNAME" --token-name "portal-$(date +%Y%m%d%H%M%S)" \
      --scopes "write:admin,write:organization,write:repository,write:user" --raw)
    generated_set GITEA_ADMIN_TOKEN "$GITEA_ADMIN_TOKEN"
  fi

  local discovery="https://${AUTH_HOST}/application/o/gitea/.well-known/openid-configuration"
  local source_id
  source_id=$(gitea admin auth list | awk -v n="$GITEA_OAUTH_SOURCE_NAME" 'NR > 1 && $2 == n {print $1}')
  local args=(--name "$GITEA_OAUTH_SOURCE_NAME" --provider openidConnect
    --key "${GITEA_OIDC_CLIENT_ID:-gitea}" --secret "$GITEA_OIDC_CLIENT_SECRET"
    --auto-discover-url "$discovery" --scopes email --scopes profile
    --group-claim-name groups --admin-group "$OIDC_ADMIN_GROUP" --skip-local-2fa)
  if [ -z "$source_id" ]; then
    gitea admin auth add-oauth "${args[@]}"
    source_id=$(gitea admin auth list | awk -v n="$GITEA_OAUTH_SOURCE_NAME" 'NR > 1 && $2 == n {print $1}')
  else
    gitea admin auth update-oauth --id "$source_id" "${args[@]}"
  fi
  [ -n "$source_id" ] || die "Gitea: could not find the $GITEA_OAUTH_SOURCE_NAME source"
  generated_set GITEA_AUTH_SOURCE_ID "$source_id"
}

# --- Starters (issue 21): the template repositories of the organization "starters" ---
# Kept apart from step_gitea on purpose. Each directory of workspace-image/starters
# becomes a public template repository with one commit of its files (Gitea's
# repoChangeFiles API on an empty repository, Gitea >= 1.17, go-gitea/gitea#19224).
# Idempotent: an organization or a repository that exists with content is left
# as it is (an administrator may have changed it, or withdrawn it by clearing its
# template flag); an empty one (a run that stopped half-way) gets its files and
# the template flag.
STARTERS_ORG=starters
STARTERS_DIR=../workspace-image/starters

starter_description() {
  awk -F '\t' -v n="$1" '$1 == n {print $2}' "$STARTERS_DIR/descriptions.tsv"
}

starter_commit_json() { # dir; prints the repoChangeFiles body creating every file of dir
  local dir=$1 path sep=""
  printf '{"branch":"main","message":"Starter %s","files":[' "$(basename "$dir")"
  while IFS= read -r -d '' path; do
    printf '%s{"operation":"create","path":"%s","content":"%s"}' \
      "$sep" "${path#"$dir"/}" "$(base64 -w0 < "$path")"
    sep=","
  done < <(find "$dir" -type f -not -path '*/__pycache__/*' -print0 | sort -z)
  printf ']}'
}

step_starters() {
  log "Gitea: the starters (template repositories of the organization $STARTERS_ORG)"
  [ -n "${GITEA_ADMIN_TOKEN:-}" ] || GITEA_ADMIN_TOKEN=$(generated_get GITEA_ADMIN_TOKEN)
  [ -n "$GITEA_ADMIN_TOKEN" ] || die "Gitea: no admin token yet: run ./bootstrap.sh gitea first"
  if ! gitea_api GET "/orgs/$STARTERS_ORG" >/dev/null 2>&1; then
    gitea_api POST /orgs -H "Content-Type: application/json" --data \
      "$(printf '{"username":"%s","visibility":"public","full_name":"Project starters"}' "$STARTERS_ORG")" >/dev/null
  fi
  local dir name repo
  for dir in "$STARTERS_DIR"/*/; do
    dir=${dir%/}
    name=$(basename "$dir")
    repo=$(gitea_api GET "/repos/$STARTERS_ORG/$name" 2>/dev/null || true)
    if [ -z "$repo" ]; then
      repo=$(gitea_api POST "/orgs/$STARTERS_ORG/repos" -H "Content-Type: application/json" --data \
        "$(printf '{"name":"%s","description":"%s","private":false,"auto_init":false,"default_branch":"main","template":true}' \
          "$name" "$(starter_description "$name")")")
    fi
    printf '%s' "$repo" | grep -Eq '"empty": *true' || continue
    starter_commit_json "$dir" | gitea_api POST "/repos/$STARTERS_ORG/$name/contents" \
      -H "Content-Type: application/json" --data-binary @- >/dev/null
    if printf '%s' "$repo" | grep -Eq '"template": *false'; then
      gitea_api PATCH "/repos/$STARTERS_ORG/$name" -H "Content-Type: application/json" \
        --data '{"template":true}' >/dev/null
    fi
    echo "starter $name: pushed"
  done
}

# --- Coder: first user, owner token, template ---
coder_api() { # method path [body]; with CODER_SESSION unless empty
  local method=$1 path=$2 body=${3:-}
  local args=(-fsS -X "$method" -H "Content-Type: application/json")
  [ -n "${CODER_SESSION:-}" ] && args+=(-H "Coder-Session-Token: $CODER_SESSION")
  [ -n "$body" ] && args+=(--data "$body")
  dc exec -T coder curl "${args[@]}" "http://127.0.0.1:7080/api/v2$path"
}

coder_cli() {
  dc exec -T -e CODER_URL=http://127.0.0.1:7080 -e CODER_SESSION_TOKEN="$CODER_SESSION" coder coder "$@"
}

# Whole days until a Coder token expires (GET /users/me/keys/<id>, the id being the
# part before "-"); fails when Coder does not answer.
coder_token_days_left() {
  local expires
  expires=$(CODER_SESSION=$1 coder_api GET "/users/me/keys/${1%%-*}" | json_field expires_at)
  [ -n "$expires" ] || return 1
  echo $(( ($(date -d "$expires" +%s) - $(date +%s)) / 86400 ))
}

step_coder() {
  log "Coder: first user, the portal's owner token, the template"
  wait_healthy coder
  CODER_SESSION=""
  if ! coder_api GET /users/first >/dev/null 2>&1; then
    coder_api POST /users/first "$(printf '{"email":"%s","username":"%s","password":"%s","trial":false}' \
      "$CODER_ADMIN_EMAIL" "$CODER_ADMIN_USERNAME" "$CODER_ADMIN_PASSWORD")" >/dev/null
  fi

  # The portal's owner token: minted with the owners' cap (CODER_MAX_ADMIN_TOKEN_LIFETIME,
  # docker-compose.yml), and minted anew when it is gone or has fewer than 14 days left.
  local key days=""
  key=$(generated_get CODER_ADMIN_API_KEY)
  CODER_SESSION=$key
  if [ -n "$key" ] && coder_api GET /users/me >/dev/null 2>&1; then
    days=$(coder_token_days_left "$key" || echo 0)
  fi
  if [ -z "$days" ] || [ "$days" -lt 14 ]; then
    [ -n "$days" ] && log "Coder: the portal's token expires in $days day(s): minting a new one"
    CODER_SESSION=$(coder_api POST /users/login "$(printf '{"email":"%s","password":"%s"}' \
      "$CODER_ADMIN_EMAIL" "$CODER_ADMIN_PASSWORD")" | json_field session_token)
    [ -n "$CODER_SESSION" ] || die "Coder: could not sign in as $CODER_ADMIN_EMAIL"
    key=$(coder_cli tokens create --name "portal-$(date +%Y%m%d%H%M%S)" \
      --lifetime "${CODER_MAX_ADMIN_TOKEN_LIFETIME:-720h}" | tail -n 1 | tr -d '[:space:]')
    [ -n "$key" ] || die "Coder: could not create the portal's token"
    generated_set CODER_ADMIN_API_KEY "$key"
  fi
  CODER_SESSION=$key

  local org
  org=$(coder_api GET /users/me/organizations | tr '{' '\n' | grep '"is_default":true' | json_field name || true)
  [ -n "$org" ] && generated_set CODER_ORGANIZATION "$org"

  log "Building the workspace image"
  dc --profile images build workspace-image

  coder_cli templates push "$TEMPLATE_NAME" --directory /templates/portal-workspace --yes \
    --variable "workspace_image=${WORKSPACE_IMAGE:-platform/workspace:local}" \
    --variable "workspace_network=platform-workspaces" \
    --variable "internal_coder_url=http://coder:7080" \
    --variable "gitea_url=https://${GITEA_HOST}" \
    --variable "ai_gateway_url=http://litellm:4000" \
    --variable "platform_ca_volume=platform-ca"
  # Auto-stop after an hour without activity: a one-hour deadline that every
  # connection pushes back by an hour.
  coder_cli templates edit "$TEMPLATE_NAME" --default-ttl 1h --activity-bump 1h --yes
}

step_portal() {
  log "Portal: restarting with $GENERATED"
  dc up -d portal
  wait_healthy portal
}

main() {
  case "${1:-all}" in
    env) cmd_env; return ;;
    all) ;;
    authentik|gitea|starters|coder|portal) ;;
    *) die "usage: $0 [env|all|authentik|gitea|starters|coder|portal]" ;;
  esac
  command -v docker >/dev/null || die "docker is not installed"
  load_env
  case "${1:-all}" in
    all) step_authentik; step_gitea; step_starters; step_coder; step_portal ;;
    *) "step_$1" ;;
  esac
  log "Done. Sign in at https://${PORTAL_HOST}/ (Authentik admin: akadmin at https://${AUTH_HOST}/)"
}

main "$@"

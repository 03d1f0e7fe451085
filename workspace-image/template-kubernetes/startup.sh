#!/usr/bin/env bash
# The workspace's start-up script (coder_agent.main.startup_script), run as
# `coder` on every start. Everything it needs arrives in the agent's
# environment (main.tf); tokens are written only to files in the person's own
# home volume, readable by them alone, never to the image.
set -euo pipefail

PROJECT_DIR=${PROJECT_DIR:-/home/coder/project}
CONFIG_DIR="$HOME/.config/portal"
mkdir -p "$CONFIG_DIR" "$PROJECT_DIR"
chmod 700 "$CONFIG_DIR"
umask 077

# 1. First start of this home volume: default dotfiles and editor extensions.
if [ ! -f "$HOME/.config/portal/.home-initialised" ]; then
  cp -rnT /etc/skel "$HOME" || true
  mkdir -p "$HOME/.local/share/code-server/extensions"
  if [ -d "${CODE_SERVER_SEED_EXTENSIONS:-}" ]; then
    cp -rn "$CODE_SERVER_SEED_EXTENSIONS"/. "$HOME/.local/share/code-server/extensions/" || true
  fi
  touch "$HOME/.config/portal/.home-initialised"
fi

# 2. Trust the platform's CA (the TLS of the Gitea host) for git only.
ca_bundle="$CONFIG_DIR/ca-bundle.pem"
if [ -n "${PLATFORM_CA_FILE:-}" ] && [ -r "$PLATFORM_CA_FILE" ]; then
  cat /etc/ssl/certs/ca-certificates.crt "$PLATFORM_CA_FILE" > "$ca_bundle"
fi

# 3. Git identity and credentials. A credential helper scoped to one host:
#    the Gitea token is offered to GITEA_URL only, the GitHub token (if any)
#    to https://github.com only.
git config --global init.defaultBranch main
git config --global pull.rebase false
if [ -n "${GIT_AUTHOR_NAME:-}" ]; then git config --global user.name "$GIT_AUTHOR_NAME"; fi
if [ -n "${GIT_AUTHOR_EMAIL:-}" ]; then git config --global user.email "$GIT_AUTHOR_EMAIL"; fi

scoped_credential() { # url username token file
  local url=$1 user=$2 token=$3 file=$4
  git config --global --unset-all "credential.$url.helper" || true
  if [ -z "$token" ]; then
    rm -f "$file"
    return 0
  fi
  printf '%s://%s:%s@%s\n' "${url%%://*}" "$user" "$token" "${url#*://}" > "$file"
  chmod 600 "$file"
  # The empty helper first resets any helper inherited from a wider scope.
  git config --global --add "credential.$url.helper" ""
  git config --global --add "credential.$url.helper" "store --file=$file"
}

if [ -n "${GITEA_URL:-}" ]; then
  gitea_url=${GITEA_URL%/}
  scoped_credential "$gitea_url" "${GITEA_USERNAME:-coder}" "${GITEA_TOKEN:-}" "$CONFIG_DIR/gitea-credentials"
  if [ -s "$ca_bundle" ]; then
    git config --global "http.$gitea_url/.sslCAInfo" "$ca_bundle"
  fi
fi
scoped_credential "https://github.com" "x-access-token" "${GITHUB_TOKEN:-}" "$CONFIG_DIR/github-credentials"

# 4. Clone the project on the first start only (an existing clone is the
#    person's work: never touched again).
if [ -n "${GIT_REPO:-}" ] && [ ! -d "$PROJECT_DIR/.git" ]; then
  if [ -z "$(ls -A "$PROJECT_DIR")" ]; then
    echo "Cloning $GIT_REPO into $PROJECT_DIR"
    git clone "$GIT_REPO" "$PROJECT_DIR" || echo "warning: could not clone $GIT_REPO" >&2
  else
    echo "warning: $PROJECT_DIR is not empty and not a git clone; not cloning" >&2
  fi
fi

# 5. The AI assistant (Continue) talks to the LiteLLM gateway with the
#    person's own virtual key.
if [ -n "${AI_GATEWAY_URL:-}" ]; then
  mkdir -p "$HOME/.continue"
  cat > "$HOME/.continue/config.yaml" <<YAML
name: Platform assistant
version: 1.0.0
schema: v1
models:
  - name: ${AI_MODEL:-default}
    provider: openai
    model: ${AI_MODEL:-default}
    apiBase: ${AI_GATEWAY_URL%/}/v1
    apiKey: "${AI_GATEWAY_KEY:-}"
    roles: [chat, edit, apply, autocomplete]
YAML
  chmod 600 "$HOME/.continue/config.yaml"
fi

# 6. code-server on loopback; Coder proxies it (coder_app "code-server").
umask 022
code-server \
  --auth none \
  --bind-addr 127.0.0.1:13337 \
  --disable-telemetry \
  --disable-update-check \
  --disable-workspace-trust \
  --extensions-dir "$HOME/.local/share/code-server/extensions" \
  "$PROJECT_DIR" >/tmp/code-server.log 2>&1 &

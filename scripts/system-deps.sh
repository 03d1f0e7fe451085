#!/usr/bin/env bash
# Install the Debian/Ubuntu packages the portal needs, only those missing.
#   scripts/system-deps.sh run    python3 venv, node + npm
#   scripts/system-deps.sh test   the above + chromium, postgresql, shellcheck, redis-server,
#                                 cmake + g++ (the cpp starter's own build and tests)
#   scripts/system-deps.sh ide    the above (run) + what `make ide` builds code-server with:
#                                 g++/make (build-essential), libkrb5-dev, ripgrep
set -euo pipefail
mode=${1:-run}
need=()
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv python3-pip)
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
if [ "$mode" = test ]; then
  command -v chromium >/dev/null || [ -x /usr/bin/chromium ] || need+=(chromium)
  command -v initdb >/dev/null || compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
  command -v shellcheck >/dev/null || need+=(shellcheck)
  command -v redis-server >/dev/null || need+=(redis-server)
  fc-list 2>/dev/null | grep -qi dejavu || need+=(fonts-dejavu-core)
  command -v cmake >/dev/null || need+=(cmake)
  command -v g++ >/dev/null || need+=(g++)
fi
if [ "$mode" = ide ]; then
  { command -v g++ >/dev/null && command -v make >/dev/null; } || need+=(build-essential)
  [ -f /usr/include/gssapi/gssapi.h ] || need+=(libkrb5-dev)
  command -v rg >/dev/null || need+=(ripgrep)
  command -v python3 >/dev/null || need+=(python3)
fi
[ ${#need[@]} -eq 0 ] && exit 0
echo "installing system packages: ${need[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}"

#!/usr/bin/env bash
# `make ide`: install code-server into .ide/ (git-ignored) from the npm registry, offline-safe.
#
# code-server 4.100.3 is the newest release whose `engines` still says Node 20 (4.139
# needs Node 24). Its own post-install (postinstall.sh) runs `npm install` in
# lib/vscode, where @vscode/ripgrep's post-install downloads rg from GitHub (no
# internet here) and node-pty's post-install runs `npx node-gyp` (a second download).
# So: install every package with --ignore-scripts, then do by hand the only steps
# that matter, with nothing fetched but npm packages:
#   1. build the native modules with npm's node-gyp against the installed
#      Node's headers (/usr/include/node, hence --nodedir=/usr; no header download);
#   2. point @vscode/ripgrep at Debian's rg (/usr/bin/rg, package ripgrep);
#   3. the links postinstall.sh makes (node_modules.asar, bin/remote-cli).
# Needs: nodejs 20 with headers, build tools (g++, make, python3), libkrb5-dev, ripgrep.
set -euo pipefail
VERSION=${CODE_SERVER_VERSION:-4.100.3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
IDE=${IDE_DIR:-$ROOT/.ide}
NODEDIR=${NODEDIR:-/usr}

major=$(node -p 'process.versions.node.split(".")[0]')
[ "$major" = 20 ] || { echo "code-server $VERSION needs Node 20, found $(node --version)" >&2; exit 1; }
[ -f "$NODEDIR/include/node/node_version.h" ] || { echo "no Node headers in $NODEDIR/include/node" >&2; exit 1; }
command -v rg >/dev/null || { echo "ripgrep (rg) is missing: scripts/system-deps.sh ide" >&2; exit 1; }
npm_dir=$(dirname "$(readlink -f "$(command -v npm)")")/..
NODE_GYP=$npm_dir/node_modules/node-gyp/bin/node-gyp.js
[ -f "$NODE_GYP" ] || { echo "npm's node-gyp not found at $NODE_GYP" >&2; exit 1; }

npm_quiet() { npm --no-audit --no-fund --loglevel=error "$@"; }
gyp() { (cd "$1" && node "$NODE_GYP" rebuild --nodedir="$NODEDIR" --silent); }

mkdir -p "$IDE"
[ -f "$IDE/package.json" ] || echo '{"name": "portal-ide", "private": true}' > "$IDE/package.json"
echo "installing code-server $VERSION into $IDE"
(cd "$IDE" && npm_quiet install --ignore-scripts --save-exact "code-server@$VERSION")
CS=$IDE/node_modules/code-server
# argon2 (imported at start for password auth) builds through node-pre-gyp: its
# download of a prebuilt binary fails offline and it falls back to a local build.
(cd "$IDE" && npm_config_nodedir="$NODEDIR" npm_quiet rebuild argon2)

VS=$CS/lib/vscode
(cd "$VS" && npm_quiet install --omit=dev --ignore-scripts)
for module in node-pty @vscode/spdlog native-watchdog kerberos @vscode/deviceid; do
  echo "building $module"
  gyp "$VS/node_modules/$module"
done
# @parcel/watcher comes prebuilt (@parcel/watcher-linux-x64-glibc, an optional dependency).
mkdir -p "$VS/node_modules/@vscode/ripgrep/bin"
ln -sfn "$(command -v rg)" "$VS/node_modules/@vscode/ripgrep/bin/rg"
(cd "$VS/extensions" && npm_quiet install --omit=dev --ignore-scripts && node ./postinstall.mjs)

# What postinstall.sh does after its npm installs.
ln -sfn node_modules "$VS/node_modules.asar"
ln -sfn code-linux.sh "$VS/bin/remote-cli/code-server"
ln -sfn browser-linux.sh "$VS/bin/helpers/browser.sh"

XDG_CONFIG_HOME="$IDE/.config" XDG_DATA_HOME="$IDE/.data" "$CS/out/node/entry.js" --version
echo "code-server installed: $CS/out/node/entry.js (portal dev uses it when present)"

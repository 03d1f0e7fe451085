#!/bin/sh
# Trust the platform's CA (and any company CA) system-wide, before Coder's agent
# starts: the agent reaches CODER_ACCESS_URL (its DERP relay) over TLS, and
# Caddy serves that name with certificates of its internal CA. Every *.crt in
# PLATFORM_CA_DIR (the read-only platform-ca volume) is copied to the system's
# extra-certificates folder and the store is rebuilt with update-ca-certificates,
# so Go (the agent), git, curl and Python's ssl all trust it. Run as root
# (the template's entrypoint runs it with `sudo -n`). Private keys are never read.
set -eu

PLATFORM_CA_DIR=${PLATFORM_CA_DIR:-/etc/platform-ca}
CA_TARGET_DIR=${CA_TARGET_DIR:-/usr/local/share/ca-certificates/platform}
UPDATE_CA_CERTIFICATES=${UPDATE_CA_CERTIFICATES:-update-ca-certificates}

if [ ! -d "$PLATFORM_CA_DIR" ]; then
  echo "trust-platform-ca: no $PLATFORM_CA_DIR: trusting the system's CAs only" >&2
  exit 0
fi
mkdir -p "$CA_TARGET_DIR"
rm -f "$CA_TARGET_DIR"/*.crt
found=0
for cert in "$PLATFORM_CA_DIR"/*.crt; do
  [ -f "$cert" ] || continue
  if ! grep -q -- '-----BEGIN CERTIFICATE-----' "$cert"; then
    echo "trust-platform-ca: $cert is not a PEM certificate: skipped" >&2
    continue
  fi
  install -m 0644 "$cert" "$CA_TARGET_DIR/$(basename "$cert")"
  found=$((found + 1))
done
if [ "$found" -eq 0 ]; then
  echo "trust-platform-ca: no certificate in $PLATFORM_CA_DIR" >&2
fi
"$UPDATE_CA_CERTIFICATES" >/dev/null
echo "trust-platform-ca: $found certificate(s) from $PLATFORM_CA_DIR trusted"

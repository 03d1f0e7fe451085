"""A stand-in for the `docker` CLI, for running compose/bootstrap.sh's Coder step in a test.

It answers only what `./bootstrap.sh coder` asks (ps, inspect, exec curl/coder, build,
up) and appends every call to $FAKE_DOCKER_LOG as one JSON line. Coder's replies follow
coderd: `GET /users/me/keys/{id}` is a codersdk.APIKey whose `expires_at` is
$FAKE_TOKEN_EXPIRES; `coder tokens create` refuses a --lifetime above
$FAKE_MAX_ADMIN_LIFETIME_HOURS as coderd/apikey.go does for an owner (v2.27).
"""
from __future__ import annotations

import json
import os
import sys

NEW_KEY = "newkey0001-0123456789abcdefghijkl"


def hours(duration: str) -> float:
    assert duration.endswith("h"), duration
    return float(duration[:-1])


def curl(args: list[str]) -> int:
    method, url = args[args.index("-X") + 1], args[-1]
    path = url.split("/api/v2", 1)[1]
    if method == "GET" and path.startswith("/users/me/keys/"):
        print(json.dumps({"id": path.rsplit("/", 1)[1], "expires_at": os.environ["FAKE_TOKEN_EXPIRES"]},
                         separators=(",", ":")))
    elif method == "POST" and path == "/users/login":
        print('{"session_token":"login0001-0123456789abcdefghijkl"}')
    elif method == "GET" and path == "/users/me/organizations":
        print('[{"id":"o1","name":"coder","is_default":true}]')
    return 0  # /users/first, /users/me: exist


def coder(args: list[str]) -> int:
    if args[:2] == ["tokens", "create"]:
        lifetime = args[args.index("--lifetime") + 1]
        if hours(lifetime) > float(os.environ["FAKE_MAX_ADMIN_LIFETIME_HOURS"]):
            print("Failed to validate create API key request: lifetime must be less than the "
                  "maximum", file=sys.stderr)
            return 1
        print(NEW_KEY)
    return 0


def main(argv: list[str]) -> int:
    with open(os.environ["FAKE_DOCKER_LOG"], "a") as log:
        log.write(json.dumps(argv) + "\n")
    if argv[0] == "inspect":
        print("healthy")
        return 0
    args = [a for a in argv[1:] if a not in ("--profile", "images")]
    if args[0] == "ps":
        print("container-id")
        return 0
    if args[0] != "exec":
        return 0  # build, up
    rest = args[1:]
    while rest[0].startswith("-"):
        rest = rest[2:] if rest[0] in ("-e", "-u") else rest[1:]
    service, command = rest[0], rest[1:]
    if service == "coder" and command[0] == "curl":
        return curl(command)
    if service == "coder" and command[0] == "coder":
        return coder(command[1:])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

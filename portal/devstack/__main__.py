"""`python -m portal.devstack`: the simulated Coder and Gitea in a process of their own.

For tests and benchmarks that run the portal out of process (gunicorn): start the
simulators on loopback ports (0 = any free port), print the portal's settings for
them, one `NAME=value` line each, then `READY`, and serve until SIGTERM/SIGINT or
until the parent process goes away (a killed test run leaves nothing behind).

    python -m portal.devstack --coder-port 0 --gitea-port 0 --build-seconds 3
    CODER_URL=http://127.0.0.1:41234
    CODER_ADMIN_API_KEY=...
    CODER_WILDCARD_ACCESS_URL=*.portal.localhost:41234
    GITEA_URL=http://127.0.0.1:41235
    GITEA_ADMIN_TOKEN=...
    GITEA_AUTH_SOURCE_ID=1
    READY

Out-of-process control is the simulators' own: `POST /__sim/faults`, `GET /__sim/state`.
With `--workspaces DIR` the simulated Coder runs real workspaces there (startup.sh,
and code-server when installed or given with `--code-server`), ended on exit.
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

from portal.devstack.coder import DEFAULT_ADMIN_TOKEN as CODER_TOKEN
from portal.devstack.coder import make_coder_sim
from portal.devstack.gitea import DEFAULT_ADMIN_TOKEN as GITEA_TOKEN
from portal.devstack.gitea import make_gitea_sim
from portal.devstack.server import ServerThread
from portal.devstack.workspace_host import WorkspaceHost, installed_code_server

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m portal.devstack", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1", choices=LOOPBACK, help="loopback only")
    parser.add_argument("--coder-port", type=int, default=0)
    parser.add_argument("--gitea-port", type=int, default=0)
    parser.add_argument("--coder-token", default=CODER_TOKEN)
    parser.add_argument("--gitea-token", default=GITEA_TOKEN)
    parser.add_argument("--starters", action="store_true",
                        help="seed the Gitea organization `starters` (workspace-image/starters)")
    parser.add_argument("--build-seconds", type=float, default=2.0)
    parser.add_argument("--agent-seconds", type=float, default=0.5)
    parser.add_argument("--app-domain", default="portal.localhost",
                        help="Coder's subdomain app hosts are *.<app-domain>:<coder port>")
    parser.add_argument("--max-seconds", type=float, default=0,
                        help="stop after this long (0: until signalled)")
    parser.add_argument("--gitea-data", default=None,
                        help="folder of the simulated Gitea's repositories (default: temporary)")
    parser.add_argument("--workspaces", default=None,
                        help="run real workspaces (startup.sh, code-server) in this folder")
    parser.add_argument("--code-server", default=None,
                        help="code-server executable (default: the one `make ide` installs)")
    parser.add_argument("--max-workspaces", type=int, default=4)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    host = None
    if args.workspaces:
        code_server = Path(args.code_server) if args.code_server else installed_code_server()
        host = WorkspaceHost(args.workspaces, code_server=code_server,
                             max_running=args.max_workspaces)
    # On stderr (stdout carries the settings): one access line per call, with the request ids
    # the real servers log (access_log.py); werkzeug's own line would only repeat it.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    coder_app, coder = make_coder_sim(admin_token=args.coder_token, build_seconds=args.build_seconds,
                                      agent_seconds=args.agent_seconds, host=host)
    gitea_app, _gitea = make_gitea_sim(admin_token=args.gitea_token, data_dir=args.gitea_data,
                                        starters=args.starters)
    coder_server = ServerThread(coder_app, host=args.host, port=args.coder_port).start()
    gitea_server = ServerThread(gitea_app, host=args.host, port=args.gitea_port).start()
    if host is not None:
        host.gitea_url = gitea_server.url
    wildcard = f"*.{args.app_domain}:{coder_server.port}"
    coder.set_faults(access_url=coder_server.url, wildcard_host=wildcard)

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    parent = os.getppid()
    print(f"CODER_URL={coder_server.url}\nCODER_ADMIN_API_KEY={args.coder_token}\n"
          f"CODER_WILDCARD_ACCESS_URL={wildcard}\nGITEA_URL={gitea_server.url}\n"
          f"GITEA_ADMIN_TOKEN={args.gitea_token}\nGITEA_AUTH_SOURCE_ID=1\nREADY", flush=True)
    deadline = time.monotonic() + args.max_seconds if args.max_seconds > 0 else None
    try:
        while not stop.wait(0.5):
            if os.getppid() != parent:
                break  # orphaned: whoever started us is gone
            if deadline is not None and time.monotonic() > deadline:
                break
    finally:
        coder_server.stop()
        gitea_server.stop()
        if host is not None:
            host.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())

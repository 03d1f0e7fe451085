"""The embedded default's ports: checked before anything starts, with the project's own message.

`make run` serves the portal (PORT), the simulated Coder (CODER_PORT) and Gitea (GITEA_PORT)
on loopback. When one is taken (another `make run`, say), start-up stops with one message that
names the port and what it was for, and offers ports that are free right now.
"""
from __future__ import annotations

import errno
import socket

MAKE_VARS = {"portal": "PORT", "Coder": "CODER_PORT", "Gitea": "GITEA_PORT"}


class PortTaken(Exception):
    """A dev port is in use; str() is the message for the person at the terminal."""


def is_free(host: str, port: int) -> bool:
    """True when `host:port` can be bound now (SO_REUSEADDR, like werkzeug's own servers)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def free_after(host: str, port: int, avoid: set[int]) -> int:
    """The first free port above `port` that is not in `avoid`."""
    candidate = port + 1
    while candidate < 65535:
        if candidate not in avoid and is_free(host, candidate):
            return candidate
        candidate += 1
    raise PortTaken("no free port found above " + str(port))


def check(host: str, wanted: dict[str, int]) -> None:
    """Raise PortTaken naming every wanted port ({"portal": 5000, ...}) that is in use."""
    taken = {name: port for name, port in wanted.items() if not is_free(host, port)}
    if not taken:
        return
    used = set(wanted.values())
    suggestion = {}
    for name, port in wanted.items():
        suggestion[name] = free_after(host, port, used) if name in taken else port
        used.add(suggestion[name])
    which = ", ".join(f"{port} ({'the portal' if name == 'portal' else 'the simulated ' + name})"
                      for name, port in taken.items())
    again = " ".join(f"{MAKE_VARS[name]}={port}" for name, port in suggestion.items() if name in MAKE_VARS)
    raise PortTaken(f"Port {which} is already in use on {host}: is another `make run` still "
                    f"running? Start this one on free ports: make run {again}")

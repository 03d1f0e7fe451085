"""The simulated Coder's subdomain app proxy to a workspace's code-server (HTTP and WebSocket).

Like coderd/workspaceapps/proxy.go: once the app host has authenticated the
request (coder_apps.py), the request goes to the app's URL inside the workspace,
path and query unchanged, with Coder's own cookies removed, and the reply comes
back unchanged (code-server sends no framing headers). A `folder` among the
template's container paths (/home/coder/...) is mapped onto the workspace's home
folder on this machine, as the container's volume mount would, by a redirect:
VS Code's web client reads `folder` from the address it was loaded at.

A WebSocket upgrade is tunnelled byte for byte over the connection werkzeug
hands over (`werkzeug.socket`); the handler then raises ConnectionError so
werkzeug writes nothing more on that connection (the way flask-sock ends a
WebSocket under werkzeug's server).
"""
from __future__ import annotations

import html
import http.client
import select
import socket
from typing import Iterator
from urllib.parse import parse_qsl, urlencode

HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
                        "te", "trailers", "transfer-encoding", "upgrade", "content-length"})
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 300.0
TUNNEL_IDLE_SECONDS = 3600.0


class AppProxy:
    """A WSGI app forwarding one request to 127.0.0.1:`port`."""

    status_code = 200   # for the simulator's request log; the upstream's status is sent

    def __init__(self, port: int, container_home: str, home: str):
        self.port = port
        self.container_home = container_home.rstrip("/")
        self.home = home.rstrip("/")

    def target(self, environ: dict) -> str:
        """Path and query as the client sent them."""
        return environ.get("REQUEST_URI") or environ.get("RAW_URI") \
            or environ.get("PATH_INFO", "/")

    def mapped(self, environ: dict) -> str | None:
        """The target with a container `folder` mapped onto the home, or None if none is."""
        path, _, query = self.target(environ).partition("?")
        pairs = parse_qsl(query, keep_blank_values=True)
        if not any(k == "folder" and self._container_path(v) for k, v in pairs):
            return None
        mapped = [(k, self.home + v[len(self.container_home):] if k == "folder"
                   and self._container_path(v) else v) for k, v in pairs]
        return f"{path}?{urlencode(mapped)}"

    def _container_path(self, value: str) -> bool:
        return value == self.container_home or value.startswith(self.container_home + "/")

    def headers(self, environ: dict) -> list[tuple[str, str]]:
        out = []
        for key, value in environ.items():
            if key.startswith("HTTP_"):
                name = key[5:].replace("_", "-").title()
            elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
                name = key.replace("_", "-").title()
            else:
                continue
            if name.lower() == "cookie":
                value = "; ".join(c for c in value.split("; ") if not c.startswith("coder_"))
                if not value:
                    continue
            out.append((name, value))
        return out

    def __call__(self, environ: dict, start_response):
        if environ["REQUEST_METHOD"] == "GET" and (location := self.mapped(environ)):
            start_response("307 Temporary Redirect", [("Location", location),
                                                      ("Content-Length", "0")])
            return [b""]
        if environ.get("HTTP_UPGRADE", "").lower() == "websocket":
            return self._tunnel(environ, start_response)
        return self._forward(environ, start_response)

    def _forward(self, environ: dict, start_response) -> Iterator[bytes]:
        length = environ.get("CONTENT_LENGTH") or ""
        stream = environ["wsgi.input"]
        if length.isdigit():
            body = stream.read(int(length))
        else:
            body = stream.read() if environ.get("wsgi.input_terminated") else b""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=CONNECT_TIMEOUT)
        try:
            headers = [(k, v) for k, v in self.headers(environ)
                       if k.lower() not in HOP_BY_HOP]
            conn.putrequest(environ["REQUEST_METHOD"], self.target(environ),
                            skip_host=True, skip_accept_encoding=True)
            for name, value in headers:
                conn.putheader(name, value)
            if body or environ["REQUEST_METHOD"] in ("POST", "PUT", "PATCH"):
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body or None)
            conn.sock.settimeout(READ_TIMEOUT)
            reply = conn.getresponse()
        except OSError as exc:
            conn.close()
            return _unavailable(start_response, f"Failed to proxy request to application: {exc}")
        start_response(f"{reply.status} {reply.reason}",
                       [(k, v) for k, v in reply.getheaders() if k.lower() not in HOP_BY_HOP
                        or k.lower() == "content-length"])
        return _relay(conn, reply)

    def _tunnel(self, environ: dict, start_response):
        client: socket.socket | None = environ.get("werkzeug.socket")
        if client is None:
            return _unavailable(start_response, "this server cannot hand over a WebSocket")
        try:
            upstream = socket.create_connection(("127.0.0.1", self.port), CONNECT_TIMEOUT)
        except OSError as exc:
            return _unavailable(start_response, f"Failed to proxy request to application: {exc}")
        lines = [f"{environ['REQUEST_METHOD']} {self.target(environ)} HTTP/1.1"]
        lines += [f"{k}: {v}" for k, v in self.headers(environ)]
        upstream.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        try:
            _pump(client, upstream)
        finally:
            upstream.close()
            try:
                client.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        raise ConnectionError("websocket closed")  # werkzeug: connection done, write nothing


def _relay(conn: http.client.HTTPConnection, reply: http.client.HTTPResponse) -> Iterator[bytes]:
    try:
        while chunk := reply.read1(65536):
            yield chunk
    finally:
        conn.close()


def _pump(client: socket.socket, upstream: socket.socket) -> None:
    client.settimeout(None)
    upstream.settimeout(None)
    peers = {client: upstream, upstream: client}
    while True:
        ready, _, _ = select.select(list(peers), [], [], TUNNEL_IDLE_SECONDS)
        if not ready:
            return
        for sock in ready:
            try:
                data = sock.recv(65536)
                if not data:
                    return
                peers[sock].sendall(data)
            except OSError:
                return


def _unavailable(start_response, detail: str) -> list[bytes]:
    body = (f"<!doctype html><title>Application Unavailable</title><h1>Application "
            f"Unavailable</h1><p>{html.escape(detail)}</p>").encode()
    start_response("502 Bad Gateway", [("Content-Type", "text/html; charset=utf-8"),
                                       ("Content-Length", str(len(body)))])
    return [body]

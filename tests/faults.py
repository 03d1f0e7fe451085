"""Fault injection for the fault matrix and the secret scan: one switch per outside service.

`Faulty` wraps each outside service of a test (the simulated Coder and Gitea, a fake OIDC
provider) behind the same six faults: down (connection refused), slow (longer than the
portal's read timeout), 500, 429 with a long Retry-After, malformed JSON, and 401 (the
credential the portal uses was revoked). `clear()` brings the service back on the same
address, so the portal recovers without being told.
"""
from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

from werkzeug.wrappers import Response

from portal.devstack.server import ServerThread
from tests.fixtures.oidc import FakeIdp

FAULTS = ("down", "slow", "500", "429", "malformed", "401")
TIMEOUT = 0.5          # the test app's PORTAL_HTTP_CONNECT/READ_TIMEOUT
SLOW = TIMEOUT + 0.4   # a reply that arrives after the portal gave up
RETRY_AFTER = 120      # far above the client's max_retry_after: it must not wait for it


class FaultMiddleware:
    """WSGI wrapper giving any app (the fake IdP) the simulators' fault knobs."""

    def __init__(self, app):
        self.app, self.fault = app, None

    def __call__(self, environ, start_response):
        fault = self.fault
        if fault == "slow":
            time.sleep(SLOW)
        elif fault in ("500", "429", "401"):
            body = {"500": '{"error": "server_error"}', "429": '{"error": "slow_down"}',
                    "401": '{"error": "invalid_client"}'}[fault]
            resp = Response(body, status=int(fault), mimetype="application/json")
            if fault == "429":
                resp.headers["Retry-After"] = str(RETRY_AFTER)
            return resp(environ, start_response)
        elif fault == "malformed":
            return Response('{"issuer": "trunc', mimetype="application/json")(environ, start_response)
        return self.app(environ, start_response)


class Faulty:
    """One outside service under test: `apply(fault)`, then `clear()` to bring it back."""

    def __init__(self, name: str, running, wsgi=None):
        self.name, self.running, self.wsgi = name, running, wsgi
        self.port = running.server.port

    def apply(self, fault: str) -> None:
        if fault == "down":
            self.running.server.stop()
            return
        if self.name == "oidc":
            self.wsgi.fault = fault
        elif self.name == "coder":
            self.running.sim.set_faults(**{
                "slow": {"slow_seconds": SLOW},
                "500": {"status_override": {"status": 500}},
                "429": {"status_override": {"status": 429, "retry_after": RETRY_AFTER}},
                "malformed": {"malformed": "text"},
                "401": {"status_override": {"status": 401,
                                            "message": "API key is invalid or expired."}},
            }[fault])
        else:
            self.running.sim.set_faults(**{
                "slow": {"slow_seconds": SLOW},
                "500": {"status_override": 500},
                "429": {"status_override": 429, "retry_after": RETRY_AFTER},
                "malformed": {"malformed": True},
                "401": {"status_override": 401},
            }[fault])

    def clear(self, fault: str) -> None:
        if fault == "down":
            app = self.wsgi if self.name == "oidc" else self.running.recorder
            self.running.server = ServerThread(app, port=self.port).start()
            if hasattr(self.running, "stopped"):
                self.running.stopped = False
        elif self.name == "oidc":
            self.wsgi.fault = None
        else:
            self.running.sim.reset_faults()


class RunningIdp:
    """A FakeIdp behind FaultMiddleware on a loopback port."""

    def __init__(self):
        self.idp = FakeIdp()
        self.wsgi = FaultMiddleware(self.idp.app.wsgi_app)
        self.server = ServerThread(self.wsgi).start()
        self.idp.issuer = self.server.url

    def env(self) -> dict[str, str]:
        return {"OIDC_ISSUER": self.idp.issuer, "OIDC_CLIENT_ID": self.idp.client_id,
                "OIDC_CLIENT_SECRET": self.idp.client_secret}

    def stop(self) -> None:
        self.server.stop()


def oidc_sign_in(client, idp: FakeIdp, email: str, admin: bool = False):
    """The portal's side of an OIDC sign-in (the browser's visit to the provider is skipped)."""
    resp = client.get("/auth/oidc")
    if resp.status_code != 302 or "state=" not in (resp.location or ""):
        return resp
    query = {k: v[0] for k, v in parse_qs(urlsplit(resp.location).query).items()}
    idp.claims = {"sub": f"sub-{email}", "email": email, "name": email.split("@")[0].title(),
                  "nonce": query["nonce"], "groups": ["portal-admins"] if admin else []}
    return client.get("/auth/callback", query_string={"code": "c", "state": query["state"]})

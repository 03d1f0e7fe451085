"""Invitations with the claims the shipped Authentik blueprint produces.

The portal's `email` scope mapping (compose/authentik/blueprints/platform.yaml) is
evaluated here the way Authentik evaluates a property mapping: the expression is the
body of a function whose `request.user` is the signing-in user
(authentik/lib/expression/evaluator.py, wrap_expression; Authentik 2025.10). Its claims
then go through a real OIDC sign-in (tests/fixtures/oidc.py's issuer) and the portal's
invitation matching (portal/groups/invitations.py).
"""
import sys
import textwrap
import types

import pytest

from tests.collab_helpers import membership_of
from tests.fixtures.app import csrf_from
from tests.platform.conftest_helpers import blueprint_entries, service_env
from tests.test_invitation_email import oidc_sign_in, oidc_stack_app, smtp_server  # noqa: F401

MAPPING_ID = "scope-email-verified"


def blueprint_email_claims(email: str, users_may_change_email: bool, monkeypatch) -> dict:
    """The claims of the portal's email mapping for a user with `email`."""
    (mapping,) = [e for e in blueprint_entries(service_env("authentik-worker"))
                  if e.get("id") == MAPPING_ID]
    tenant = types.SimpleNamespace(default_user_change_email=users_may_change_email)
    utils = types.ModuleType("authentik.tenants.utils")
    utils.get_current_tenant = lambda: tenant
    for name, module in {"authentik": types.ModuleType("authentik"),
                         "authentik.tenants": types.ModuleType("authentik.tenants"),
                         "authentik.tenants.utils": utils}.items():
        monkeypatch.setitem(sys.modules, name, module)
    source = "def handler(request):\n" + textwrap.indent(mapping["attrs"]["expression"], "    ")
    namespace: dict = {}
    exec(compile(source, "platform.yaml:" + MAPPING_ID, "exec"), namespace)  # noqa: S102
    request = types.SimpleNamespace(user=types.SimpleNamespace(email=email))
    return namespace["handler"](request)


def invite_carol(app, fake_idp):
    lead = app.test_client()
    oidc_sign_in(lead, fake_idp, "sub-lead", "lead@example.com", "Lea Lead")
    token = csrf_from(lead, "/")
    lead.post("/groups/new", data={"csrf_token": token, "name": "Vision Lab", "slug": "vision-lab"})
    resp = lead.post("/groups/vision-lab/members", headers={"HX-Request": "true"},
                     data={"csrf_token": token, "who": "carol@example.com", "role": "reader"})
    assert resp.status_code == 200


@pytest.mark.parametrize("users_may_change_email,joins", [(False, True), (True, False)],
                         ids=["addresses-set-by-admins", "self-service-email-change"])
def test_invitation_matches_with_the_shipped_mapping(oidc_stack_app, fake_idp, monkeypatch,  # noqa: F811
                                                     users_may_change_email, joins):
    claims = blueprint_email_claims("carol@example.com", users_may_change_email, monkeypatch)
    assert claims == {"email": "carol@example.com", "email_verified": not users_may_change_email}
    invite_carol(oidc_stack_app, fake_idp)
    carol = oidc_stack_app.test_client()
    oidc_sign_in(carol, fake_idp, "sub-carol", claims["email"], "Carol Reader",
                 verified=claims["email_verified"])
    member = membership_of(oidc_stack_app, "carol@example.com", "vision-lab")
    assert (member is not None) is joins
    assert carol.get("/groups/vision-lab").status_code == (200 if joins else 404)


def test_an_account_without_an_email_is_not_verified(monkeypatch):
    assert blueprint_email_claims("", False, monkeypatch)["email_verified"] is False


def test_authentiks_managed_mapping_would_not_match(oidc_stack_app, fake_idp):  # noqa: F811
    """What the blueprint gave the portal before: the managed `email` mapping, which
    states `email_verified: False` (Authentik 2025.10 blueprints/system/providers-oauth2.yaml)."""
    invite_carol(oidc_stack_app, fake_idp)
    carol = oidc_stack_app.test_client()
    oidc_sign_in(carol, fake_idp, "sub-carol", "carol@example.com", "Carol Reader", verified=False)
    assert membership_of(oidc_stack_app, "carol@example.com", "vision-lab") is None

"""A person's LiteLLM key against both answers of the pinned and the newest proxy.

LiteLLM 1.77.7 (the compose pin) answers /key/info with 404 for a deleted key;
1.110 answers 200 with `info.status: "deleted"` (the row is archived in
LiteLLM_DeletedVerificationToken; litellm/proxy/management_endpoints/
key_management_endpoints.py, ../shared/contracts/NOTES.md). The simulator
answers as either by its `version` knob; every exchange is contract-checked.
"""
import pytest
import requests

from portal.people import ai_keys
from portal.extensions import db
from portal.models import AuditEvent, UserSecret
from portal.services import current_services
from tests.provisioning_helpers import seed

VERSIONS = ["1.77.7", "1.110.0"]


def stored_row():
    return db.session.scalar(db.select(UserSecret).where(UserSecret.kind == ai_keys.KIND))


@pytest.mark.parametrize("version", VERSIONS)
def test_client_sees_a_deleted_key_as_gone_in_both_versions(litellm_sim, version):
    litellm_sim.sim.set_faults(version=version)
    client = litellm_sim.client()
    key = client.generate_key("ada", key_alias="portal-ada")
    assert client.key_info(key.token_id).state == "active"
    assert client.delete_keys([key.token_id]) is True
    info = client.key_info(key.token_id)
    if version == "1.77.7":
        assert info is None
    else:
        assert info.status == "deleted" and info.state == "gone" and info.user_id == "ada"
    assert client.delete_keys([key.token_id]) is False  # already gone counts as done


@pytest.mark.parametrize("version", VERSIONS)
def test_key_deleted_in_the_gateway_is_replaced_not_sent(ai_stack, version):
    sim = ai_stack.litellm.sim
    sim.set_faults(version=version)
    with ai_stack.app.app_context():
        user, _ = seed()
        key = ai_keys.ensure_ai_key(current_services(), user)
        ai_stack.litellm.client().delete_keys([stored_row().key_id])  # the gateway's UI
        sent, warning = ai_keys.key_for_workspace(current_services(), user)
        assert sent != key and sim.is_live(sent) and warning is None
        assert [k.key_alias for k in sim.keys_of(user.username)] == [ai_keys.alias_of(user)]


@pytest.mark.parametrize("version", VERSIONS)
def test_revoking_a_key_the_gateway_already_deleted_counts_as_done(ai_stack, version):
    ai_stack.litellm.sim.set_faults(version=version)
    with ai_stack.app.app_context():
        user, _ = seed()
        ai_keys.ensure_ai_key(current_services(), user)
        ai_stack.litellm.client().delete_keys([stored_row().key_id])
        assert ai_keys.revoke_ai_key(current_services(), user) is True
        assert stored_row() is None
        assert "ai_key.revoke" in set(db.session.scalars(db.select(AuditEvent.action)))


def test_blocked_key_is_neither_sent_nor_replaced(ai_stack):
    sim = ai_stack.litellm.sim
    with ai_stack.app.app_context():
        user, _ = seed()
        key = ai_keys.ensure_ai_key(current_services(), user)
        sim.block(key)
        assert ai_keys.key_for_workspace(current_services(), user) == ("", ai_keys.BLOCKED)
        assert len(sim.keys_of(user.username)) == 1 and stored_row() is not None
        spend = ai_keys.key_spend(current_services(), user)
        assert spend.error == "The key is blocked in the gateway."


def test_expired_key_is_replaced_and_its_alias_freed(ai_stack):
    sim = ai_stack.litellm.sim
    with ai_stack.app.app_context():
        user, _ = seed()
        key = ai_keys.ensure_ai_key(current_services(), user)
        sim.expire(key)  # the row stays in the proxy, under the person's alias
        again = ai_keys.ensure_ai_key(current_services(), user)
        assert again != key and not sim.is_live(key)
        assert [k.secret for k in sim.keys_of(user.username)] == [again]


@pytest.mark.parametrize("version", VERSIONS)
def test_a_key_whose_mint_reply_was_lost_is_revoked_before_minting(ai_stack, version):
    """An earlier POST /key/generate succeeded but its reply never arrived: the key is
    live under the person's alias and nobody holds it. Minting again must not leave it."""
    sim = ai_stack.litellm.sim
    sim.set_faults(version=version)
    with ai_stack.app.app_context():
        user, _ = seed()
        lost = ai_stack.litellm.client().generate_key(user.username, key_alias=ai_keys.alias_of(user))
        key = ai_keys.ensure_ai_key(current_services(), user)
        assert key != lost.key and sim.is_live(key) and not sim.is_live(lost.key)
        assert len(sim.keys_of(user.username)) == 1
        assert "ai_key.revoke_stray" in set(db.session.scalars(db.select(AuditEvent.action)))
        assert ai_keys.ensure_ai_key(current_services(), user) == key  # and nothing more is minted
        assert len(sim.keys_of(user.username)) == 1


def test_offboarding_revokes_a_stray_key_even_without_a_stored_one(ai_stack):
    sim = ai_stack.litellm.sim
    with ai_stack.app.app_context():
        user, _ = seed()
        lost = ai_stack.litellm.client().generate_key(user.username, key_alias=ai_keys.alias_of(user))
        assert ai_keys.revoke_ai_key(current_services(), user) is True
        assert not sim.is_live(lost.key) and sim.keys_of(user.username) == []
        assert ai_keys.revoke_ai_key(current_services(), user) is False


def test_alias_lookup_touches_only_that_persons_alias(litellm_sim):
    client = litellm_sim.client()
    mine = client.generate_key("ada", key_alias="portal-ada")
    client.generate_key("ada", key_alias="ada-own-script")
    client.generate_key("bob", key_alias="portal-bob")
    assert client.keys_by_alias("ada", "portal-ada") == [mine.token_id]
    assert client.keys_by_alias("carol", "portal-carol") == []


def test_version_knob_is_checked(litellm_sim):
    reply = requests.post(litellm_sim.url + "/__sim/faults", json={"version": "2.0"})
    assert reply.status_code == 400
    assert requests.post(litellm_sim.url + "/__sim/faults", json={"version": "1.110.0"}).ok
    assert requests.get(litellm_sim.url + "/__sim/state").json()["faults"]["version"] == "1.110.0"

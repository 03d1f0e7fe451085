"""LiteLLM virtual keys: the client and simulator, ai_keys, and what the workspace receives."""
import hashlib

import pytest

from portal.people import ai_keys, github_tokens
from portal.workspaces import provisioning, workspace_actions
from portal.clients.http import ServiceUnavailable, Unauthorized
from portal.clients.litellm import LiteLLMClient
from portal.config import ConfigError, Settings
from portal.extensions import db
from portal.models import AuditEvent, Role, UserSecret
from portal.services import current_services
from tests.provisioning_helpers import run_until_done, seed
from tests.test_github_token import CLASSIC, OTHER


def sent_parameters(coder, kind="create"):
    """rich_parameter_values of the portal's create (or start) requests to the simulated Coder."""
    out = []
    for e in coder.api_exchanges():
        if e.method != "POST" or not isinstance(e.body, dict):
            continue
        if (kind == "create" and e.path.endswith("/workspaces")) or \
                (kind == "start" and e.path.endswith("/builds") and e.body.get("transition") == "start"):
            out.append({p["name"]: p["value"] for p in e.body.get("rich_parameter_values") or []})
    return out


# -- client and simulator -----------------------------------------------------------------
def test_client_generate_info_delete_roundtrip(litellm_sim):
    client = litellm_sim.client()
    assert client.health() is True
    key = client.generate_key("ada", key_alias="portal-ada-1", models=["m1"], max_budget=5.0,
                              rpm_limit=60, metadata={"created_by": "portal"})
    assert key.key.startswith("sk-") and key.token_id == hashlib.sha256(key.key.encode()).hexdigest()
    assert key.key not in repr(key) and key.key not in repr(client)
    info = client.key_info(key.token_id)
    assert (info.user_id, info.rpm_limit, info.max_budget, info.models) == ("ada", 60, 5.0, ("m1",))
    litellm_sim.sim.add_spend("ada", 1.25)
    assert client.key_info(key.token_id).spend == pytest.approx(1.25)
    assert client.delete_keys([key.token_id]) is True
    assert client.key_info(key.token_id) is None
    assert client.delete_keys([key.token_id]) is False  # already gone
    assert not litellm_sim.sim.is_live(key.key)


def test_wrong_master_key_is_unauthorized_and_never_echoed(litellm_sim):
    client = LiteLLMClient(litellm_sim.url, "sk-wrong-master-key-123", connect_timeout=1, read_timeout=2)
    with pytest.raises(Unauthorized) as caught:
        client.generate_key("ada", key_alias="x")
    assert "sk-wrong-master-key-123" not in str(caught.value)
    assert "Authentication Error" in caught.value.message


def test_duplicate_alias_is_refused(litellm_sim):
    client = litellm_sim.client()
    client.generate_key("ada", key_alias="same")
    with pytest.raises(Exception) as caught:
        client.generate_key("bob", key_alias="same")
    assert getattr(caught.value, "status", None) == 400


@pytest.mark.parametrize("knobs", [{"down": True}, {"status_override": 500},
                                   {"status_override": 503}])
def test_faults_are_service_unavailable(litellm_sim, knobs):
    litellm_sim.sim.set_faults(**knobs)
    with pytest.raises(ServiceUnavailable):
        litellm_sim.client(retries=0).generate_key("ada", key_alias="a")


def test_slow_gateway_times_out(litellm_sim):
    litellm_sim.sim.set_faults(slow_seconds=1.5)
    with pytest.raises(ServiceUnavailable):
        litellm_sim.client(read_timeout=0.3, retries=0).health()


# -- settings -----------------------------------------------------------------------------
def test_settings_defaults_and_validation():
    base = {"PORTAL_DEV": "1"}
    s = Settings.from_env(base)
    assert s.litellm_url is None and s.litellm_rpm_limit == 60 and s.litellm_models == ()
    s = Settings.from_env({**base, "LITELLM_URL": "http://ai:4000", "LITELLM_MASTER_KEY": "sk-x",
                           "LITELLM_MODELS": " a-1 , b/2,a-1 ", "LITELLM_MAX_BUDGET": "12.5",
                           "LITELLM_RPM_LIMIT": "30"})
    assert s.litellm_models == ("a-1", "b/2") and s.litellm_max_budget == 12.5
    assert s.litellm_rpm_limit == 30 and "sk-x" not in repr(s)
    for env, name in [({"LITELLM_MODELS": "ok,bad model"}, "LITELLM_MODELS"),
                      ({"LITELLM_MAX_BUDGET": "lots"}, "LITELLM_MAX_BUDGET"),
                      ({"LITELLM_MAX_BUDGET": "-1"}, "LITELLM_MAX_BUDGET"),
                      ({"LITELLM_RPM_LIMIT": "0"}, "LITELLM_RPM_LIMIT"),
                      ({"LITELLM_URL": "http://ai:4000"}, "LITELLM_MASTER_KEY")]:
        with pytest.raises(ConfigError, match=name):
            Settings.from_env({**base, **env})
    # the dev stack's own LiteLLM address needs no master key (the simulator's is the default)
    dev = Settings.from_env({**base, "LITELLM_URL": "http://127.0.0.1:7400"})
    assert dev.litellm_master_key


def test_litellm_is_off_by_default(stack):
    with stack.app.app_context():
        assert current_services().litellm is None
        user, project = seed()
        status, _ = run_until_done(user, project)
        assert status.ready and not status.warnings
        assert ai_keys.key_spend(current_services(), user) is None
    (params,) = sent_parameters(stack.coder)
    assert params["ai_gateway_key"] == "" and params["github_token"] == ""
    assert "ai_model" not in params  # the template's default applies


# -- ai_keys ------------------------------------------------------------------------------
def test_ensure_stores_encrypted_with_settings_and_reuses(ai_stack):
    sim = ai_stack.litellm.sim
    with ai_stack.app.app_context():
        user, _ = seed()
        key = ai_keys.ensure_ai_key(current_services(), user)
        assert key and sim.is_live(key)
        (stored,) = sim.keys_of(user.username)
        assert stored.rpm_limit == 60 and stored.max_budget == 25.0
        assert stored.models == ["qwen2.5-coder-7b", "llama3.1-8b"]
        row = db.session.scalar(db.select(UserSecret).where(UserSecret.kind == "litellm_key"))
        assert key not in row.value and row.key_id == hashlib.sha256(key.encode()).hexdigest()
        assert row.hint == key[-4:]
        assert ai_keys.ensure_ai_key(current_services(), user) == key  # reused
        assert len(sim.keys_of(user.username)) == 1
        assert "ai_key.mint" in set(db.session.scalars(db.select(AuditEvent.action)))
        # deleted behind the portal's back (the gateway's UI): minted anew
        ai_stack.litellm.client().delete_keys([row.key_id])
        again = ai_keys.ensure_ai_key(current_services(), user)
        assert again != key and sim.is_live(again)


def test_revoke_deletes_the_key_in_litellm(ai_stack):
    sim = ai_stack.litellm.sim
    with ai_stack.app.app_context():
        user, _ = seed()
        key = ai_keys.ensure_ai_key(current_services(), user)
        assert ai_keys.revoke_ai_key(current_services(), user) is True
        assert not sim.is_live(key) and sim.keys_of(user.username) == []
        assert len(sim.deleted) == 1
        assert db.session.scalar(db.select(UserSecret).where(UserSecret.kind == "litellm_key")) is None
        assert ai_keys.revoke_ai_key(current_services(), user) is False
        assert "ai_key.revoke" in set(db.session.scalars(db.select(AuditEvent.action)))


def test_revoke_when_litellm_is_down_keeps_the_row_for_a_retry(ai_stack):
    with ai_stack.app.app_context():
        user, _ = seed()
        key = ai_keys.ensure_ai_key(current_services(), user)
        ai_stack.litellm.sim.set_faults(down=True)
        with pytest.raises(ServiceUnavailable):
            ai_keys.revoke_ai_key(current_services(), user)
        assert ai_keys.has_key(user)
        ai_stack.litellm.sim.reset_faults()
        assert ai_keys.revoke_ai_key(current_services(), user) is True
        assert not ai_stack.litellm.sim.is_live(key)


def test_key_spend_for_the_admin_users_page(ai_stack):
    with ai_stack.app.app_context():
        user, _ = seed()
        assert ai_keys.key_spend(current_services(), user) is None  # no key yet
        ai_keys.ensure_ai_key(current_services(), user)
        ai_stack.litellm.sim.add_spend(user.username, 3.5)
        spend = ai_keys.key_spend(current_services(), user)
        assert spend.spend == pytest.approx(3.5) and spend.max_budget == 25.0
        assert spend.text == "3.50 of 25.00"
        ai_stack.litellm.sim.set_faults(down=True)
        down = ai_keys.key_spend(current_services(), user)
        assert down.spend is None and down.text == "unknown" and "not reachable" in down.error


# -- the workspace receives them ----------------------------------------------------------
def test_workspace_parameters_carry_key_model_and_github_token(ai_stack):
    with ai_stack.app.app_context():
        user, project = seed()
        github_tokens.store(current_services(), user, CLASSIC)
        status, _ = run_until_done(user, project)
        assert status.ready and not status.warnings, status
        key = ai_keys.ensure_ai_key(current_services(), user)
    (params,) = sent_parameters(ai_stack.coder)
    assert params["ai_gateway_key"] == key and params["github_token"] == CLASSIC
    assert params["ai_model"] == "qwen2.5-coder-7b"
    assert params["gitea_token"] and params["git_repo"].endswith("/ml-team/vision.git")


def test_changed_token_takes_effect_at_the_next_start(ai_stack):
    with ai_stack.app.app_context():
        user, project = seed()
        github_tokens.store(current_services(), user, CLASSIC)
        assert run_until_done(user, project)[0].ready
        github_tokens.store(current_services(), user, OTHER)
        workspace_actions.set_running(current_services(), user, project, running=False)
        run_until_done(user, project, timeout=1.0)
        provisioning.want_running(user, project)
        assert run_until_done(user, project)[0].ready
        github_tokens.delete(user)
        workspace_actions.set_running(current_services(), user, project, running=False)
        run_until_done(user, project, timeout=1.0)
        workspace_actions.set_running(current_services(), user, project, running=True)  # the Overview's Start
        assert run_until_done(user, project)[0].ready
    starts = sent_parameters(ai_stack.coder, "start")
    assert [p["github_token"] for p in starts] == [OTHER, ""]
    assert all(p["ai_gateway_key"] for p in starts)


@pytest.mark.parametrize("fault", [{"down": True}, {"status_override": 500}])
def test_litellm_down_workspace_still_provisions_with_a_warning(ai_stack, fault):
    ai_stack.litellm.sim.set_faults(**fault)
    with ai_stack.app.app_context():
        user, project = seed()
        status, _ = run_until_done(user, project)
        assert status.ready
        assert ai_keys.UNAVAILABLE in status.warnings
        assert not ai_keys.has_key(user)
        # every later poll still says so, whichever worker serves it
        assert ai_keys.UNAVAILABLE in provisioning.reconcile(current_services(), user, project, Role.lead).warnings
    (params,) = sent_parameters(ai_stack.coder)
    assert params["ai_gateway_key"] == ""


def test_litellm_stopped_entirely_workspace_still_provisions(ai_stack):
    ai_stack.litellm.stop()
    with ai_stack.app.app_context():
        user, project = seed()
        status, _ = run_until_done(user, project)
        assert status.ready and ai_keys.UNAVAILABLE in status.warnings


def test_key_arrives_at_next_start_once_litellm_is_back(ai_stack):
    ai_stack.litellm.sim.set_faults(down=True)
    with ai_stack.app.app_context():
        user, project = seed()
        assert run_until_done(user, project)[0].ready
        ai_stack.litellm.sim.reset_faults()
        workspace_actions.set_running(current_services(), user, project, running=False)
        run_until_done(user, project, timeout=1.0)
        provisioning.want_running(user, project)
        status, _ = run_until_done(user, project)
        assert status.ready and not status.warnings
    (start,) = sent_parameters(ai_stack.coder, "start")
    assert start["ai_gateway_key"].startswith("sk-")


def test_code_tab_says_ai_is_unavailable_and_when_changes_apply(ai_stack, start_worker):
    from tests.fixtures.app import dev_sign_in
    from tests.test_code_tab import create_project, open_code

    ai_stack.litellm.sim.set_faults(down=True)
    start_worker(ai_stack.app)
    client = ai_stack.app.test_client()
    dev_sign_in(client, "ada@example.com", "Ada")
    _, pid = create_project(client)
    page = client.get(f"/projects/{pid}").get_data(as_text=True)  # the Overview, not the IDE
    assert 'data-testid="next-start-notice"' in page and "next time your workspace starts" in page
    body, stages = open_code(client, pid)
    assert stages[-1] == "ready" and ai_keys.UNAVAILABLE in body


def test_simulator_knobs_out_of_process_and_state_without_secrets(litellm_sim):
    import requests

    key = litellm_sim.client().generate_key("ada", key_alias="k1")
    assert requests.post(litellm_sim.url + "/__sim/faults", json={"down": True}).status_code == 200
    with pytest.raises(ServiceUnavailable):
        litellm_sim.client(retries=0).health()
    assert requests.post(litellm_sim.url + "/__sim/faults", json={"nope": 1}).status_code == 400
    state = requests.post(litellm_sim.url + "/__sim/reset").json()
    assert state["faults"]["down"] is False and key.key not in str(state)
    assert state["keys"][0]["token"] == key.token_id
    assert litellm_sim.client().health()

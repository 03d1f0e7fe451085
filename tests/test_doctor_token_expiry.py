"""`flask portal doctor` reads the expiry of the portal's Coder admin token and warns in time.

An owner's token lives at most CODER_MAX_ADMIN_TOKEN_LIFETIME (168h unless set;
coder/coder#18267, coderd/apikey.go in v2.27). The expiry comes from
GET /users/me/keys/{keyid} (codersdk.APIKey.expires_at in ../shared/contracts).
"""
from datetime import datetime, timedelta, timezone

import pytest

from portal.ops import coder_token_expiry as expiry
from tests.test_doctor import doctor, rows

DAY = 86400


def owner_token(coder_sim, lifetime_days: float) -> str:
    store = coder_sim.sim.store
    return store.mint_key(store.admin, store.admin,
                          {"lifetime": int(lifetime_days * DAY * 1e9)}).token


@pytest.mark.parametrize("days,status,text", [
    (3, "warn", "expires in 2 day(s)"),
    (13.5, "warn", "expires in 13 day(s)"),
    (29, "ok", "(in 28 days)"),
])
def test_expiry_row(make_stack_app, coder_sim, days, status, text):
    key = owner_token(coder_sim, days)
    app = make_stack_app(CODER_ADMIN_API_KEY=key)
    with app.app_context():  # a worker has ticked: its row is not what this test is about
        from portal.workspaces import beats
        beats.beat("tick")
    result = doctor(app, key)
    assert result.exit_code == 0, result.output  # a warning does not fail the run
    found, note = rows(result.output)["coder token expiry"]
    assert found == status and text in note
    if status == "warn":
        assert "./bootstrap.sh coder" in note and "coder tokens create" in note
    assert rows(result.output)["coder admin token"][0] == "ok"


def test_expiry_is_read_from_coder(make_stack_app, coder_sim):
    key = owner_token(coder_sim, 20)
    doctor(make_stack_app(CODER_ADMIN_API_KEY=key), key)
    key_id = key.split("-")[0]
    reads = [e for e in coder_sim.api_exchanges() if e.method == "GET"
             and e.path.endswith(f"/users/me/keys/{key_id}")]
    assert reads and reads[-1].status == 200


def test_a_key_coder_no_longer_has_fails_with_the_token_hint(make_stack_app, coder_sim):
    key = owner_token(coder_sim, 20)
    app = make_stack_app(CODER_ADMIN_API_KEY=key)
    coder_sim.sim.store.keys[key.split("-")[0]].token_name = "renamed"  # still readable
    assert rows(doctor(app, key).output)["coder token expiry"][0] == "ok"
    del coder_sim.sim.store.keys[key.split("-")[0]]  # deleted in Coder: 401 from now on
    result = doctor(app, key)
    assert result.exit_code == 1
    status, hint = rows(result.output)["coder token expiry"]
    assert status == "fail" and "Coder refused CODER_ADMIN_API_KEY (401)" in hint


NOW = datetime(2026, 12, 5, 8, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("left,ok,warn", [
    (timedelta(days=-1), False, False),
    (timedelta(seconds=0), False, False),
    (timedelta(days=13, hours=23), True, True),
    (timedelta(days=14), True, False),
])
def test_verdict_thresholds(left, ok, warn):
    found = expiry.verdict(NOW + left, NOW)
    assert (found.ok, found.warn) == (ok, warn)
    assert (expiry.ROTATE in found.hint) is (not ok or warn)


@pytest.mark.parametrize("token,key_id", [
    ("abcdefghij-0123456789abcdefghijkl", "abcdefghij"),
    ("devstack-token-with-dashes", None),
    ("no-dash-here-", None),
    ("plain", None),
])
def test_key_id_of(token, key_id):
    assert expiry.key_id_of(token) == key_id

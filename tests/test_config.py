import os
import re
import subprocess
import sys
from dataclasses import fields

import pytest
from cryptography.fernet import Fernet

from portal.config import ConfigError, Settings
from portal.config import names as setting_names
from portal.config_values import declaration
from portal.workspaces.size_spec import parse as parse_sizes
from tests.conftest import ROOT

GOOD = {
    "PORTAL_SECRET_KEY": "x" * 40,
    "PORTAL_ENCRYPTION_KEY": Fernet.generate_key().decode(),
    "OIDC_ISSUER": "https://auth.example.com/application/o/portal/",
    "OIDC_CLIENT_ID": "portal",
    "OIDC_CLIENT_SECRET": "s3cret-value",
    "CODER_URL": "https://coder.example.com",
    "CODER_ADMIN_API_KEY": "abc-def",
    "GITEA_URL": "https://git.example.com",
    "GITEA_ADMIN_TOKEN": "tok",
    "PORTAL_URL": "https://portal.example.com",
}


def without(name):
    return {k: v for k, v in GOOD.items() if k != name}


def test_complete_production_settings():
    s = Settings.from_env(GOOD)
    assert not s.dev and s.oidc_enabled
    assert s.discovery_url == "https://auth.example.com/application/o/portal/.well-known/openid-configuration"
    assert s.database_url.startswith("sqlite:///")


@pytest.mark.parametrize("missing", ["PORTAL_SECRET_KEY", "PORTAL_ENCRYPTION_KEY", "OIDC_ISSUER",
                                     "OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET", "CODER_URL",
                                     "CODER_ADMIN_API_KEY", "GITEA_URL", "GITEA_ADMIN_TOKEN",
                                     "PORTAL_URL"])
def test_missing_setting_names_the_variable(missing):
    with pytest.raises(ConfigError) as err:
        Settings.from_env(without(missing))
    message = str(err.value)
    assert missing in message and "\n" not in message


@pytest.mark.parametrize("name,value", [
    ("PORTAL_ENCRYPTION_KEY", "not-a-fernet-key"),
    ("CODER_URL", "coder.example.com"),
    ("DATABASE_URL", "mysql://x"),
    ("GITEA_AUTH_SOURCE_ID", "one"),
    ("PORTAL_DEV", "maybe"),
    ("PORTAL_HTTP_READ_TIMEOUT", "-1"),
    ("SMTP_URL", "http://mail"),
    ("CODER_LOGIN_TYPE", "saml"),
    ("PORTAL_URL", "portal.example.com"),
    ("PORTAL_URL", "https://portal.example.com/?next=x"),
    ("PORTAL_SESSION_IDLE_MINUTES", "0"),
    ("PORTAL_IMPORT_ALLOW_PRIVATE", "perhaps"),
    ("PORTAL_DEV_MAX_WORKSPACES", "0"),
    ("PORTAL_DEV_MAX_WORKSPACES", "four"),
])
def test_malformed_setting_names_the_variable(name, value):
    with pytest.raises(ConfigError) as err:
        Settings.from_env({**GOOD, name: value})
    assert name in str(err.value)


def test_dev_mode_has_safe_defaults():
    s = Settings.from_env({"PORTAL_DEV": "1"})
    assert s.dev and s.secret_key and s.coder_url.startswith("http://127.0.0.1")
    assert s.dev_max_workspaces == 4


def test_postgres_url_uses_psycopg3():
    s = Settings.from_env({**GOOD, "DATABASE_URL": "postgresql://u:p@db/portal"})
    assert s.database_url.startswith("postgresql+psycopg://")


def test_public_view_masks_every_secret():
    s = Settings.from_env({**GOOD, "DATABASE_URL": "postgresql://u:dbpass@db/portal"})
    shown = " ".join(s.public_view().values())
    secrets = ("x" * 40, GOOD["PORTAL_ENCRYPTION_KEY"], "s3cret-value", "abc-def", "dbpass")
    assert [secret for secret in secrets if secret in shown] == []
    assert [secret for secret in secrets if secret in repr(s)] == []


def test_start_up_stops_with_one_line(tmp_path):
    env = {"PATH": os.environ["PATH"], **without("PORTAL_SECRET_KEY")}
    proc = subprocess.run([sys.executable, "-c", "import wsgi"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert lines == ["portal: configuration error: PORTAL_SECRET_KEY is required (a long random "
                     "string) unless PORTAL_DEV=1"]


def test_project_folder_is_configurable_and_checked():
    assert Settings.from_env({**GOOD, "PORTAL_PROJECT_FOLDER": "/work/src"}).project_folder == "/work/src"
    with pytest.raises(ConfigError) as err:
        Settings.from_env({**GOOD, "PORTAL_PROJECT_FOLDER": "relative/path"})
    assert "PORTAL_PROJECT_FOLDER" in str(err.value)


@pytest.mark.parametrize("url,secret", [
    ("postgresql://u:dbpass@db/portal", "dbpass"),
    ("postgresql://db/portal?user=u&password=qpass&sslmode=require", "qpass"),
    ("postgresql://u@db/portal?sslpassword=certpass", "certpass"),
    ("postgresql://u:p%40ss@db/portal?PASSWORD=upper", "upper"),
])
def test_system_page_masks_every_password_in_a_url(url, secret):
    from portal.config import mask_url
    s = Settings.from_env({**GOOD, "DATABASE_URL": url,
                           "SMTP_URL": "smtp://mailer:smtppass@mail:25?password=again&from=p@x.org",
                           "PORTAL_RATELIMIT_STORAGE": "redis://:redispass@cache:6379"})
    shown = " ".join(s.public_view().values())
    assert [hidden for hidden in (secret, "smtppass", "again", "redispass") if hidden in shown] == []
    assert "db/portal" in shown and "from=p%40x.org" in shown or "from=p@x.org" in shown
    assert "mail:25" in mask_url(s.smtp_url) and "mailer" in mask_url(s.smtp_url)


def test_dev_secret_key_is_random_and_kept_in_instance(tmp_path):
    from portal.config import dev_secret_key
    first = dev_secret_key(tmp_path / "a")
    assert first == dev_secret_key(tmp_path / "a") and len(first) >= 32
    assert first != dev_secret_key(tmp_path / "b")
    assert (tmp_path / "a" / "dev-secret-key").stat().st_mode & 0o077 == 0
    assert "instance" in (ROOT / ".gitignore").read_text()


def test_portal_url_is_the_base_of_links():
    assert Settings.from_env({**GOOD, "PORTAL_URL": "https://p.example.com/"}).public_base() == \
        "https://p.example.com"
    assert Settings.from_env({"PORTAL_DEV": "1"}).public_base(5123) == "http://portal.localhost:5123"


def test_processes_starting_at_once_agree_on_the_dev_key(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from portal.config import dev_secret_key
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: dev_secret_key(tmp_path / "inst"), range(16)))
    assert len(keys) == 1 and list((tmp_path / "inst").iterdir()) == [tmp_path / "inst" / "dev-secret-key"]


def _readme_rows() -> list[tuple[list[str], str, str]]:
    """The README's configuration table: (variables, required cell, secret cell) per row."""
    section = (ROOT / "README.md").read_text().split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        if line.startswith("| `"):
            variables, required, secret, _meaning = line.strip("| ").split(" | ", 3)
            rows.append((re.findall(r"`([A-Z][A-Z0-9_]*)`", variables), required, secret))
    return rows


def _secret_cell(names: list[str], cell: str) -> list[str]:
    return names if cell == "yes" else [] if cell == "no" else re.findall(r"`([A-Z][A-Z0-9_]*)`", cell)


DECLARED = [declaration(f) for f in fields(Settings)]


@pytest.mark.parametrize("column,in_readme,declared", [
    ("variable", lambda rows: {n for names, _, _ in rows for n in names}, setting_names()),
    ("required", lambda rows: {n for names, required, _ in rows if required.startswith("yes") for n in names},
     {s.env for s in DECLARED if s.required}),
    ("secret", lambda rows: {n for names, _, secret in rows for n in _secret_cell(names, secret)},
     {s.env for s in DECLARED if s.secret}),
])
def test_readme_configuration_table_matches_the_declarations(column, in_readme, declared):
    table = in_readme(_readme_rows())
    assert table, f"no {column} found in the README's configuration table"
    assert not table - declared, f"{column} in the README only: {sorted(table - declared)}"
    assert not declared - table, f"{column} in portal/config.py only: {sorted(declared - table)}"


def test_create_app_takes_every_setting_from_its_config(tmp_path):
    """Keys naming a setting are read as environment variables (none of them lands in
    app.config); any other key goes into app.config."""
    from portal import create_app
    app = create_app({"PORTAL_DEV": "1", "PORTAL_SECRET_KEY": "k" * 40,
                      "DATABASE_URL": f"sqlite:///{tmp_path / 'portal.sqlite'}",
                      "PORTAL_QUEUE_URL": f"sqlite:///{tmp_path / 'queue.sqlite'}",
                      "PORTAL_BEHIND_PROXY": True, "LITELLM_MODELS": "m1,m2",
                      "PORTAL_MAX_RUNNING_PER_PERSON": 3, "FLASK_RUN_HOST": "127.0.0.1", "TESTING": True})
    settings = app.config["SETTINGS"]
    assert settings.behind_proxy and settings.litellm_models == ("m1", "m2")
    assert settings.max_per_person == 3 and settings.bind_host == "127.0.0.1"
    assert app.config["TESTING"] is True
    assert not set(app.config) & setting_names()


def test_system_page_shows_the_sizes_as_they_are_written():
    raw = "small=2/4/10,large=4/8/20@gpu-team+staff"
    assert ",".join(map(str, parse_sizes(raw))) == raw
    shown = Settings.from_env({**GOOD, "PORTAL_WORKSPACE_SIZES": raw}).public_view()
    assert shown["workspace_sizes"] == "small=2/4/10, large=4/8/20@gpu-team+staff"

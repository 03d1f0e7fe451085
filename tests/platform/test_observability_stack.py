"""The compose profile `observability`, checked on paper: Prometheus scrapes the portal (with
the token Compose hands it) and Coder; Grafana is provisioned from files; every metric the
dashboard and the alert rules name is one the portal really exports."""
from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

import pytest
import yaml

from .conftest_helpers import COMPOSE_DIR, env_example, raw_compose, resolved_config, service_env

PROMETHEUS = COMPOSE_DIR / "prometheus"
GRAFANA = COMPOSE_DIR / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "portal.json"
NAME = re.compile(r"\bportal_[a-z0-9_]+\b")


def prometheus_config() -> dict:
    return yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())


def dashboard_exprs() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [t["expr"] for p in panels for t in p.get("targets", [])]


def alert_exprs() -> list[str]:
    rules = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())
    return [r["expr"] for g in rules["groups"] for r in g["rules"]]


def exported_names() -> set[str]:
    """The series names of the portal's /metrics, with a worker probe registered."""
    from prometheus_client.parser import text_string_to_metric_families

    from portal.observability.gauges import register_worker_probe
    from tests.fixtures.app import base_env, build_app
    with tempfile.TemporaryDirectory() as tmp:
        app = build_app(base_env(Path(tmp)))
        register_worker_probe(app, lambda: {"queue_depth": 0, "heartbeat_age_seconds": 1.0,
                                            "last_sweep_timestamp": 0.0})
        text = app.test_client().get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}) \
            .get_data(as_text=True)
    names = set()
    for family in text_string_to_metric_families(text):
        suffixes = {"histogram": ("_bucket", "_count", "_sum"), "counter": ("_total",),
                    "summary": ("_count", "_sum")}.get(family.type, ("",))
        names |= {family.name + s for s in suffixes}
    return names


def test_both_services_only_in_the_profile():
    services = raw_compose()["services"]
    for name in ("prometheus", "grafana"):
        assert services[name]["profiles"] == ["observability"]
    default = resolved_config(profiles=())["services"]
    assert "prometheus" not in default and "grafana" not in default


def test_prometheus_scrapes_the_portal_with_the_compose_secret_and_coder():
    jobs = {j["job_name"]: j for j in prometheus_config()["scrape_configs"]}
    services = resolved_config()["services"]
    portal = jobs["portal"]
    assert portal["metrics_path"] == "/metrics"
    assert portal["static_configs"][0]["targets"] == ["portal:8000"]
    assert "0.0.0.0:8000" in services["portal"]["command"]
    secret = portal["authorization"]["credentials_file"]
    assert portal["authorization"]["type"] == "Bearer" and secret.startswith("/run/secrets/")
    mounted = {s["source"] for s in services["prometheus"]["secrets"]}
    assert secret.rsplit("/", 1)[1] in mounted
    assert raw_compose()["secrets"]["portal_metrics_token"] == {"environment": "PORTAL_METRICS_TOKEN"}
    assert service_env("portal")["PORTAL_METRICS_TOKEN"] == env_example()["PORTAL_METRICS_TOKEN"]
    coder_env = service_env("coder")
    assert jobs["coder"]["static_configs"][0]["targets"] == ["coder:2112"]
    assert coder_env["CODER_PROMETHEUS_ENABLE"] == "true"
    assert coder_env["CODER_PROMETHEUS_ADDRESS"].endswith(":2112")
    # the rule files are in the folder mounted at /etc/prometheus
    volumes = {v["target"]: v["source"] for v in services["prometheus"]["volumes"]}
    for rule_file in prometheus_config()["rule_files"]:
        assert rule_file.startswith("/etc/prometheus/")
        assert (Path(volumes["/etc/prometheus"]) / rule_file.rsplit("/", 1)[1]).is_file()


def test_metrics_of_several_workers_add_up_and_logs_are_json():
    services = resolved_config()["services"]
    portal_env, migrate_env = service_env("portal"), service_env("portal-migrate")
    assert "python:portal.observability.gunicorn_conf" in services["portal"]["command"]
    assert portal_env["PROMETHEUS_MULTIPROC_DIR"]
    assert "PROMETHEUS_MULTIPROC_DIR" not in migrate_env  # no gunicorn there to create it
    assert portal_env["PORTAL_LOG_FORMAT"] == "json"
    gitea = service_env("gitea")
    assert gitea["GITEA__log__REQUEST_ID_HEADERS"] == "X-Request-ID"
    assert "{{.RequestID}}" in gitea["GITEA__log__ACCESS_LOG_TEMPLATE"]


def test_grafana_is_provisioned_from_files():
    services = resolved_config()["services"]
    volumes = {v["target"]: Path(v["source"]) for v in services["grafana"]["volumes"]
               if v["type"] == "bind"}
    provisioning = volumes["/etc/grafana/provisioning"]
    datasource = yaml.safe_load((provisioning / "datasources" / "prometheus.yaml").read_text())
    source = datasource["datasources"][0]
    assert source["type"] == "prometheus" and source["url"] == "http://prometheus:9090"
    provider = yaml.safe_load((provisioning / "dashboards" / "portal.yaml").read_text())
    path = provider["providers"][0]["options"]["path"]
    assert volumes[path] == GRAFANA / "dashboards"
    home = service_env("grafana")["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert (volumes[path] / home.rsplit("/", 1)[1]).is_file() and home.startswith(path)
    panels = json.loads(DASHBOARD.read_text())["panels"]
    uids = {t["datasource"]["uid"] for p in panels for t in p["targets"]}
    assert uids == {source["uid"]}
    assert [p["host_ip"] for p in services["grafana"]["ports"]] == ["127.0.0.1"]  # host only


@pytest.mark.parametrize("needed", [
    r"histogram_quantile\(0\.5, .*portal_time_to_ide_seconds_bucket",
    r"histogram_quantile\(0\.95, .*portal_time_to_ide_seconds_bucket",
    r"portal_stage_failures_total",
    r"sum by \(service, outcome\) \(rate\(portal_outbound_requests_total\{outcome!=\"ok\"\}",
    r"portal_worker_queue_depth",
    r"sum by \(le, endpoint\) \(rate\(portal_http_request_duration_seconds_bucket",
])
def test_dashboard_shows(needed):
    assert any(re.search(needed, expr) for expr in dashboard_exprs()), needed


@pytest.mark.parametrize("source", ["dashboard", "alerts"])
def test_queries_name_only_exported_metrics_and_are_well_formed(source):
    exprs = dashboard_exprs() if source == "dashboard" else alert_exprs()
    exported = exported_names()
    problems = [f"{name} is not exported by the portal: {expr}"
                for expr in exprs for name in NAME.findall(expr) if name not in exported]
    problems += [f"unbalanced {open_}{close}: {expr}" for expr in exprs
                 for open_, close in ("()", "[]", "{}") if expr.count(open_) != expr.count(close)]
    problems += [f"{call.group(1)} without a range: {expr}" for expr in exprs
                 for call in re.finditer(r"\b(rate|increase)\(([^()]*)\)", expr)
                 if not re.search(r"\[[^\]]+\]$", call.group(2))]
    assert problems == [], source

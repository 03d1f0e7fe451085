"""Metrics under gunicorn with several workers: /metrics adds up every worker's figures."""
from __future__ import annotations

import requests

from tests.fixtures.app import base_env, build_app
from tests.observability_helpers import total
from tests.process_helpers import start_gunicorn


def _scrape(url: str) -> dict:
    from prometheus_client.parser import text_string_to_metric_families
    resp = requests.get(f"{url}/metrics", timeout=10)
    assert resp.status_code == 200
    return {(s.name, frozenset(s.labels.items())): s.value
            for f in text_string_to_metric_families(resp.text) for s in f.samples}


def test_every_worker_counts(tmp_path):
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_99999.db").write_bytes(b"left over from a previous run")
    env = base_env(tmp_path, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
    build_app(env)  # migrate the database once, before the workers start
    server = start_gunicorn(env, tmp_path, workers=2,
                            extra=("-c", "python:portal.observability.gunicorn_conf"))
    try:
        session = requests.Session()
        session.trust_env = False
        answered = set()
        for _ in range(40):
            resp = session.get(f"{server.url}/healthz", timeout=10, headers={"Connection": "close"})
            assert resp.status_code == 200
            answered.add(resp.headers["X-Request-ID"])
        seen = _scrape(server.url)
        # /healthz of wait_ready may have counted too: at least our 40, from both workers
        assert total(seen, "portal_http_requests_total", endpoint="health.healthz") >= 40
        assert len(answered) == 40
        worker_files = {p.name for p in metrics_dir.glob("*.db")}
        assert "counter_99999.db" not in worker_files  # emptied at start
        pids = {name.rsplit("_", 1)[1].split(".")[0] for name in worker_files}
        assert {str(p) for p in server.worker_pids()} & pids
        killed = server.kill_workers()
        server.wait_ready()
        again = _scrape(server.url)
        # counters of exited workers stay in the totals
        assert total(again, "portal_http_requests_total", endpoint="health.healthz") >= 40
        assert killed
    finally:
        server.stop()

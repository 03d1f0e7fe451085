"""Reading the portal's /metrics in tests: parsed with prometheus_client's own parser."""
from __future__ import annotations

from collections import Counter

from prometheus_client.parser import text_string_to_metric_families

from portal.observability.operations import operation


def scrape(client, **kwargs) -> dict[tuple[str, frozenset], float]:
    """Every sample of GET /metrics as {(name, labels): value} (from loopback by default)."""
    kwargs.setdefault("environ_base", {"REMOTE_ADDR": "127.0.0.1"})
    resp = client.get("/metrics", **kwargs)
    assert resp.status_code == 200, resp.status_code
    samples = {}
    for family in text_string_to_metric_families(resp.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def total(samples: dict, name: str, **labels: str) -> float:
    """The sum of `name` over the samples whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


def delta(before: dict, after: dict, name: str, **labels: str) -> float:
    return total(after, name, **labels) - total(before, name, **labels)


def calls_by_operation(exchanges) -> Counter:
    """How many requests a simulator received, by the portal's operation label."""
    return Counter(operation(e.method, _relative(e.path)) for e in exchanges
                   if not e.is_control)


def _relative(path: str) -> str:
    # The Coder client's base URL ends in /api/v2; its operations are relative to it.
    return path[len("/api/v2"):] if path.startswith("/api/v2/") else path

"""Shared test fixtures. Area fixtures live in tests/fixtures/*.py plugins."""
import pathlib

pytest_plugins = [
    "tests.fixtures.postgres",
    "tests.fixtures.app",
    "tests.fixtures.oidc",
    "tests.fixtures.devstack_coder",
    "tests.fixtures.devstack_gitea",
    "tests.fixtures.devstack_litellm",
    "tests.fixtures.devstack",
    "tests.fixtures.live",
    "tests.fixtures.worker",
    "tests.fixtures.redis",
]

ROOT = pathlib.Path(__file__).resolve().parent.parent
CONTRACTS = ROOT.parent / "shared" / "contracts"

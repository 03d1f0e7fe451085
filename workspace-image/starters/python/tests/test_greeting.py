"""Tests of the greeting and the command line."""

import pytest

from app import PROJECT
from app.__main__ import main
from app.greeting import greet


@pytest.mark.parametrize(
    ("name", "who"),
    [("Ada", "Ada"), ("  Grace ", "Grace"), ("", "world"), ("   ", "world")],
)
def test_greet(name, who):
    assert greet(name) == f"Hello, {who}, from {PROJECT}!"


def test_main_prints_the_greeting(capsys):
    assert main(["Linus"]) == 0
    assert capsys.readouterr().out == f"Hello, Linus, from {PROJECT}!\n"

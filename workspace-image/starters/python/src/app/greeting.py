"""Greetings: the first piece of code of the project; replace it with yours."""

from __future__ import annotations

from app import PROJECT


def greet(name: str) -> str:
    """A greeting for `name` from this project; a blank name greets the world."""
    who = name.strip() or "world"
    return f"Hello, {who}, from {PROJECT}!"

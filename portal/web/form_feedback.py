"""Live checks of the New group and New project forms: each message under its own field.

The form is re-checked as a whole on every change, and a field's messages are shown only once
the person has typed in it (or submitted the form), so an empty form starts without errors.
A short name derived from the Name (Short name left empty) is the Name's problem; a short
name typed by the person is its own field's.
"""
from __future__ import annotations

from typing import Iterable

from flask_wtf import FlaskForm


def place_slug_reason(form: FlaskForm, reason: str | None) -> None:
    """Put why the short name can't be used under the field it came from."""
    if reason:
        target = form.slug if (form.slug.data or "").strip() else form.name
        if not target.errors:  # one message at a time: "Give the group a name." comes first
            target.errors = [reason]


def touched_fields(raw: str | None, given: Iterable[str]) -> set[str]:
    """The fields to report on: those named in `touched` (comma-separated), else every field
    the check was given (a client without the live-check script)."""
    if raw is None:
        return set(given)
    return {name for name in raw.split(",") if name}


def feedback(form: FlaskForm, touched: set[str], slug: str, reason: str | None) -> dict:
    """{field name: (errors, ok message or None)} for every field of the form but the CSRF one."""
    place_slug_reason(form, reason)
    out = {}
    for field in form:
        if field.name == "csrf_token":
            continue
        errors = list(field.errors) if field.name in touched else []
        ok = None
        if (field.name == "slug" and slug and not reason and not form.name.errors
                and {"name", "slug"} & touched):
            ok = slug
        out[field.name] = (errors, ok)
    return out

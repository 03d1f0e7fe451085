"""One rule for every text a person types: no control, bidi-override or zero-width characters.

`problem(field, value)` says what is wrong with one value; `init_app` applies it to every
form field and query parameter of every request before any view runs, and answers 400
with the field's name and what to change. A NUL byte therefore never reaches the database
(PostgreSQL refuses it with a DataError), a CR/LF never reaches a mail header, and a
right-to-left override never disguises a name. Multi-line fields (MULTILINE) may hold
line breaks and tabs. Display names that come from the identity provider are cleaned
with `clean_display` instead (the person cannot retype them).
"""
from __future__ import annotations

import unicodedata

from flask import Flask, request

# Fields whose value may span lines (textarea-like): \n, \r and \t are allowed there.
MULTILINE = frozenset({"description"})
LINE_BREAKS = frozenset("\n\r\t")
# Bidirectional overrides/isolates and zero-width characters (Unicode "Cf" format characters
# that reorder or hide text; "Trojan Source", CVE-2021-42574), plus the BOM.
INVISIBLE = frozenset("\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
                      "\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069\ufeff\u180e")


def _bad(char: str, multiline: bool) -> bool:
    if char in INVISIBLE:
        return True
    if multiline and char in LINE_BREAKS:
        return False
    return unicodedata.category(char) in ("Cc", "Cs") or char in "\u2028\u2029"


def problem(field: str, value: str) -> str | None:
    """None when `value` is acceptable text for `field`, else a sentence for people."""
    multiline = field in MULTILINE
    for char in value:
        if _bad(char, multiline):
            what = ("invisible or text-direction characters" if char in INVISIBLE
                    else "control characters")
            lines = " (line breaks are fine)" if multiline else ""
            return (f"“{field[:40]}” contains {what}{lines}: remove them and try again "
                    "(they often come from copying text out of another program).")
    return None


def clean_display(value: str) -> str:
    """A name from elsewhere, shown safely: control and invisible characters removed."""
    return "".join(c for c in value if not _bad(c, False))


def init_app(app: Flask) -> None:
    from portal.web.errors import render_error

    @app.before_request
    def refuse_hostile_text():
        for source in (request.args, request.form):
            for field, values in source.lists():
                reason = problem("field name", field) or next(
                    (r for r in (problem(field, v) for v in values) if r), None)
                if reason:
                    return render_error(400, reason, "Invalid characters")
        return None

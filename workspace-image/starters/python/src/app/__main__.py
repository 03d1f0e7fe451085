"""Command line: `python -m app [NAME]`."""

from __future__ import annotations

import sys

from app.greeting import greet


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    print(greet(" ".join(args)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

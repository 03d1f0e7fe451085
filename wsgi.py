"""WSGI entry point: `gunicorn wsgi:app`."""
import sys

from portal import ConfigError, create_app

try:
    app = create_app()
except ConfigError as exc:  # one line naming the setting, no traceback
    sys.stderr.write(f"portal: configuration error: {exc}\n")
    raise SystemExit(2) from None

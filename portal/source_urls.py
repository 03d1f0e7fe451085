"""The URL of an existing repository a project is imported from (Gitea's migrate API)."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

MAX_LENGTH = 500
_HOST = re.compile(r"^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$")


def check_source_url(value: str | None) -> str | None:
    """None when `value` is an acceptable source (or empty), else the reason, for people.

    HTTPS only (the portal never sends a credential over plain HTTP), a host
    name, no user name or password inside the URL (a private GitHub repository
    uses the person's stored token instead), at most 500 characters.
    """
    url = (value or "").strip()
    if not url:
        return None
    if len(url) > MAX_LENGTH:
        return f"At most {MAX_LENGTH} characters."
    if any(c.isspace() or ord(c) < 32 for c in url):
        return "A URL has no spaces."
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "This is not a valid URL."
    if parts.scheme.lower() != "https":
        return "Only https:// repository URLs can be imported."
    if "@" in parts.netloc or parts.username or parts.password:
        return ("Remove the user name or token from the URL; for a private GitHub repository, "
                "add your GitHub token in Settings.")
    host = (parts.hostname or "").lower()
    if not host or not _HOST.match(host) or port == 0:
        return "The URL needs a host name, like https://github.com/owner/repo."
    if len([p for p in parts.path.split("/") if p]) < 1:
        return "The URL needs the repository's path, like https://github.com/owner/repo."
    return None
